"""Mini-batch SGD on a larger synthetic problem: 10k people, batch 32, 10 epochs.

The shim has no mini-batch trainer, so its side averages the shim's
per-sample partials over each batch and updates the nine floats
(:func:`benchmarks.workloads.shim_minibatch_sgd`). ``fit`` takes the same
consecutive batches (``shuffle=False``). The features are scaled to unit
size first, as anyone training on raw pounds and inches would.
"""

import numpy as np

from matnn.scalar import OurNeuralNetwork

from .harness import Result
from .workloads import as_dtype, document_pair, people, shim_minibatch_sgd, shim_params

TITLE = "mini-batch SGD, 10k synthetic people, batch 32, 10 epochs"
ORDER = 40

N, QUICK_N = 10_000, 256
EPOCHS, QUICK_EPOCHS = 10, 2
BATCH = 32
LEARNING_RATE = 0.5


def run(bench):
    n = QUICK_N if bench.quick else N
    epochs = QUICK_EPOCHS if bench.quick else EPOCHS
    X, y = people(n, seed=4)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    shim, net64 = document_pair(seed=4)
    start = shim_params(shim)

    def scalar_training():
        s = OurNeuralNetwork(**shim.params())
        shim_minibatch_sgd(s, X, y, epochs=epochs, learning_rate=LEARNING_RATE,
                           batch_size=BATCH)
        return s

    expected = shim_params(scalar_training())
    for dtype in bench.dtypes:
        net = as_dtype(net64, dtype)
        Xd, yd = X.astype(dtype), y.astype(dtype)

        def matrix_training():
            net.params[...] = start
            net.fit(Xd, yd, epochs=epochs, learning_rate=LEARNING_RATE, batch_size=BATCH,
                    shuffle=False)
            return net

        ok, how = bench.agree(expected, matrix_training().params.copy(), **tolerance(dtype))
        # The shim's side takes seconds per call: three runs each are enough.
        a, b = bench.time_pair(scalar_training, "scalar shim SGD", matrix_training,
                               "Network.fit", repeat=None if bench.quick else 3) if ok else (None, None)
        yield Result(
            "minibatch", dtype.name, f"N={n}, batch {BATCH}, {epochs} epochs", ok, how,
            n_samples=n * epochs, a=a, b=b,
        )


def tolerance(dtype):
    """The final parameters; float32 rounding compounds over every step."""
    if dtype == np.float64:
        return {"rtol": 1e-9, "atol": 1e-11}
    return {"rtol": 2e-3, "atol": 2e-3}
