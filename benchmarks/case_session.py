"""The document's own session: 4 people, 1000 epochs of batch-1 SGD.

The shim's ``train`` against ``Network.fit(batch_size=1, shuffle=False)``.
Both print nothing here: the shim's every-10-epochs log goes to a buffer, and
``fit`` runs without ``log_every`` (it still evaluates the loss every epoch
for its returned history, which is more work than the shim's 100 loss
evaluations).
"""

import contextlib
import io

import numpy as np

from matnn import data
from matnn.scalar import OurNeuralNetwork

from .harness import Result
from .workloads import as_dtype, document_pair, shim_params

TITLE = "the document's session: 4 samples, 1000 epochs, batch-1 SGD (train vs fit)"
ORDER = 30

EPOCHS = 1000
QUICK_EPOCHS = 20
LEARNING_RATE = 0.1


def run(bench):
    epochs = QUICK_EPOCHS if bench.quick else EPOCHS
    shim, net64 = document_pair(seed=3)
    start = shim_params(shim)

    def scalar_session():
        s = OurNeuralNetwork(**shim.params())
        with contextlib.redirect_stdout(io.StringIO()):
            s.train(data.X, data.y, learn_rate=LEARNING_RATE, epochs=epochs)
        return s

    expected = shim_params(scalar_session())
    for dtype in bench.dtypes:
        net = as_dtype(net64, dtype)
        X, y = data.X.astype(dtype), data.y.astype(dtype)

        def matrix_session():
            net.params[...] = start
            net.fit(X, y, epochs=epochs, learning_rate=LEARNING_RATE, batch_size=1,
                    shuffle=False)
            return net

        got = matrix_session().params.copy()
        ok, how = bench.agree(expected, got, **tolerance(dtype))
        a, b = bench.time_pair(scalar_session, "scalar shim train",
                               matrix_session, "Network.fit") if ok else (None, None)
        yield Result(
            "session", dtype.name, f"{epochs} epochs x 4", ok, how, n_samples=4 * epochs,
            a=a, b=b, target=(">=", 1.0),
        )


def tolerance(dtype):
    """The final parameters after every step; float32 drifts over 4000 steps."""
    if dtype == np.float64:
        return {"rtol": 1e-10, "atol": 1e-12}
    return {"rtol": 1e-3, "atol": 1e-3}
