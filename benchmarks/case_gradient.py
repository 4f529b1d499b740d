"""Full-batch gradient over N samples: the shim's per-sample partials against
``Network.gradients``."""

import numpy as np

from .harness import Result
from .workloads import as_dtype, document_pair, people, shim_mean_gradient

TITLE = "full-batch gradient of the document's network over N samples"
ORDER = 20

SIZES = (1, 16, 256, 4096, 65536)
QUICK_SIZES = (1, 16, 256)
VECTOR_ONLY = 10**6
QUICK_VECTOR_ONLY = 4096
#: Where the issue sets its goal for the speed-up, and the goal per dtype.
TARGET_N = 65536
TARGETS = {"float64": (">=", 200), "float32": (">=", 500)}


def run(bench):
    shim, net64 = document_pair(seed=2)
    sizes = QUICK_SIZES if bench.quick else SIZES
    big = QUICK_VECTOR_ONLY if bench.quick else VECTOR_ONLY
    for n in sizes + (big,):
        X, y = people(n, seed=100 + n)
        scalar = n in sizes
        if scalar:
            expected = shim_mean_gradient(shim, X, y)
        else:
            expected = flat(net64.gradients(X, y))
        for dtype in bench.dtypes:
            net, Xd, yd = as_dtype(net64, dtype), X.astype(dtype), y.astype(dtype)
            ok, how = bench.agree(expected, flat(net.gradients(Xd, yd)), **tolerance(dtype, expected))
            a = b = None
            if ok and scalar:
                a, b = bench.time_pair(lambda: shim_mean_gradient(shim, X, y), "scalar shim",
                                       lambda: net.gradients(Xd, yd), "Network.gradients")
            elif ok:
                b = bench.time(lambda: net.gradients(Xd, yd), "Network.gradients")
            yield Result(
                "gradient", dtype.name, f"N={n}", ok, how, n_samples=n, a=a, b=b,
                target=TARGETS[dtype.name] if n == TARGET_N else None,
                note="" if scalar else "matrix side only; checked against float64",
            )


def flat(grads):
    """``[(dW, db), ...]`` as one vector in ``Network.params`` order."""
    return np.concatenate([np.concatenate([dW.ravel(), db]) for dW, db in grads])


def tolerance(dtype, expected):
    """Relative to the largest partial: a mean over many samples cancels."""
    scale = float(np.max(np.abs(expected)))
    if dtype == np.float64:
        return {"rtol": 1e-9, "atol": 1e-12 * scale}
    return {"rtol": 1e-3, "atol": 1e-4 * scale}
