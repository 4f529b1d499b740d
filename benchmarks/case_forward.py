"""Forward pass over N samples: the shim's per-sample loop against ``predict``.

Also the one choice inside softmax this measures: where a row's maximum is
read at the row's argmax instead of reduced (``activations.ARGMAX_ROWS``).
Both give the same number; ``a`` is ``np.maximum.reduce`` over the rows,
``b`` the argmax and a gather.
"""

import numpy as np

from matnn.activations import ARGMAX_ROWS

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
    yield from row_max(bench)


#: Rows of ten logits: a training batch, the switch, the digits' training set, a block.
ROW_MAX_SIZES = (32, ARGMAX_ROWS, 1077, 16384)


def row_max(bench):
    rng = np.random.default_rng(0)
    for n in ROW_MAX_SIZES[:3] if bench.quick else ROW_MAX_SIZES:
        Z = rng.normal(0, 3, (n, 10))
        reduced = lambda: np.maximum.reduce(Z, axis=1, keepdims=True)  # noqa: E731
        gathered = lambda: np.take_along_axis(  # noqa: E731
            Z, np.argmax(Z, axis=1, keepdims=True), axis=1)
        ok = np.array_equal(reduced(), gathered())
        a, b = bench.time_pair(reduced, "maximum.reduce", gathered, "argmax + gather")
        yield Result(
            "forward", "float64", f"softmax row max, {n} x 10", ok,
            "identical" if ok else "the two maxima differ", n_samples=n, a=a, b=b,
            note=f"argmax from {ARGMAX_ROWS} rows on",
        )


def tolerance(dtype):
    """How close two forward passes must be: float64 rounding, or float32's."""
    if dtype == np.float64:
        return {"rtol": 1e-12, "atol": 1e-15}
    return {"rtol": 1e-5, "atol": 1e-6}
