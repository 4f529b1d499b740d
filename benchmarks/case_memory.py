"""Peak memory of one full-batch gradient over 10^7 samples, beyond X and y.

``Network.gradients`` works through the batch a block of rows at a time,
so what it allocates should not grow with N. numpy reports its allocations to
:mod:`tracemalloc`, which measures the peak while the call runs; X and y
exist before it starts and are not counted. The same call is timed, so the
time per sample at 10^7 can be read against the gradient case's at 65536.
The gradient itself is checked against the chain rule written out in plain
float64 numpy over the whole batch at once (which needs gigabytes; that is
the point of blocking).
"""

import tracemalloc

import numpy as np
from scipy.special import expit

from .harness import Result
from .workloads import as_dtype, document_pair, people

TITLE = "peak memory of a full-batch gradient over 10^7 samples (beyond X and y)"
ORDER = 60

N, QUICK_N = 10**7, 10**5
LIMIT_MIB = 64


def run(bench):
    n = QUICK_N if bench.quick else N
    _, net64 = document_pair(seed=6)
    X, y = people(n, seed=6)
    expected = reference_gradient(net64, X, y)
    for dtype in bench.dtypes:
        net = as_dtype(net64, dtype)
        Xd, yd = X.astype(dtype), y.astype(dtype)
        tracemalloc.start()
        try:
            got = net.gradients(Xd, yd)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        got = np.concatenate([np.concatenate([dW.ravel(), db]) for dW, db in got])
        scale = float(np.max(np.abs(expected)))
        rtol, atol = (1e-9, 1e-12 * scale) if dtype == np.float64 else (1e-3, 1e-4 * scale)
        ok, how = bench.agree(expected, got, rtol=rtol, atol=atol)
        peak_mib = peak / 2**20
        yield Result(
            "memory", dtype.name, f"N={n}", ok, how, n_samples=n,
            b=bench.time(lambda: net.gradients(Xd, yd), "Network.gradients",
                         repeat=None if bench.quick else 3) if ok else None,
            target=("<=", LIMIT_MIB),
            metrics={"value": peak_mib, "peak_MiB": round(peak_mib, 2),
                     "X_and_y_MiB": round((Xd.nbytes + yd.nbytes) / 2**20, 1)},
        )


def reference_gradient(net, X, y):
    """The chain rule for the 2-2-1 network over the whole batch, in float64."""
    (W1, b1), (W2, b2) = [(layer.W, layer.b) for layer in net.layers]
    H = expit(X @ W1.T + b1)
    out = expit(H @ W2.T + b2)[:, 0]
    d_out = (2 / len(y)) * (out - y) * out * (1 - out)
    d_hidden = d_out[:, None] * W2[0] * H * (1 - H)
    return np.concatenate([
        (d_hidden.T @ X).ravel(), d_hidden.sum(axis=0),
        d_out @ H, [d_out.sum()],
    ])
