"""Forward pass over N samples: the shim's per-sample loop against ``predict``."""

import numpy as np

from .harness import Result
from .workloads import as_dtype, document_pair, people

TITLE = "forward pass of the document's network over N samples"
ORDER = 10

SIZES = (1, 16, 256, 4096, 65536)
QUICK_SIZES = (1, 16, 256)
# The matrix side alone also runs here; the shim would take seconds per call.
VECTOR_ONLY = 10**6
QUICK_VECTOR_ONLY = 4096


def run(bench):
    shim, net64 = document_pair(seed=1)
    sizes = QUICK_SIZES if bench.quick else SIZES
    big = QUICK_VECTOR_ONLY if bench.quick else VECTOR_ONLY
    for n in sizes + (big,):
        X, _ = people(n, seed=n)
        scalar = n in sizes
        if scalar:
            expected = np.array([shim.feedforward(x) for x in X])
        else:
            expected = net64.predict(X)[:, 0]
        for dtype in bench.dtypes:
            net, Xd = as_dtype(net64, dtype), X.astype(dtype)
            ok, how = bench.agree(expected, net.predict(Xd)[:, 0], **tolerance(dtype))
            a = b = None
            if ok and scalar:
                a, b = bench.time_pair(lambda: [shim.feedforward(x) for x in X], "scalar shim",
                                       lambda: net.predict(Xd), "Network.predict")
            elif ok:
                b = bench.time(lambda: net.predict(Xd), "Network.predict")
            yield Result(
                "forward", dtype.name, f"N={n}", ok, how, n_samples=n, a=a, b=b,
                note="" if scalar else "matrix side only; checked against float64",
            )


def tolerance(dtype):
    """How close two forward passes must be: float64 rounding, or float32's."""
    if dtype == np.float64:
        return {"rtol": 1e-12, "atol": 1e-15}
    return {"rtol": 1e-5, "atol": 1e-6}
