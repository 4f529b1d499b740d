"""Networks the scalar form cannot express, against their hardware lower bound.

The bound is the least any implementation must do: the network's matrix
products (``Z = A @ W.T`` per layer forward, ``dW = delta.T @ A`` per layer
and ``delta @ W`` per hidden layer backward) plus one ``exp`` over every
pre-activation, timed alone on buffers of the same shapes, with BLAS on its
default threads. The ratio is the cost of everything else: biases, the
sigmoid beyond its ``exp``, its derivative, the deltas, the bias gradients,
the blocks and the threads.

- One training step's forward and backward pass at batch 256 (what ``fit``
  runs per batch: :func:`matnn.backprop.forward` then
  :func:`matnn.backprop.backward` into preallocated buffers).
- ``Network.gradients`` over a whole batch (784-256-128-10 at N = 4096,
  64-128-10 at N = 8192, the lesson's 2-2-1 at N = 65,536), against the
  products of the whole batch at once: blocks of rows on matnn's threads,
  with BLAS on one thread each. The same gradient as one block on the
  calling thread, with BLAS threading each product, is timed beside it
  (no target): where it wins, the products dominate and blocks do not pay.
  Blocks are cut into an even number of equal blocks
  (:func:`matnn.backprop.block_rows`); the wide gradients are also timed
  in blocks of the most rows allowed, the last one short, where two
  threads take unequal shares (no target).
- Narrow layers add their bias one unit at a time along the rows
  (``backprop.COLUMNWISE_UNITS``); the 2-2-1 gradient is also timed with
  the plain broadcast add, which runs one inner loop per row (no target).

Gradients run with default threads and are timed with ``settle``: after
the bound's threaded BLAS, OpenBLAS's idle threads spin for about 0.1 s, and
a gradient timed beside them on two cores loses a share of one.

Before timing, each gradient is checked against the chain rule written out
in plain numpy in float64.
"""

import numpy as np
from scipy.special import expit

from matnn import Network, backprop
from matnn.backprop import Products, backward, forward, gradient

from .case_threads import settings
from .harness import Result

TITLE = "forward+backward of wide networks vs their matrix products + one exp (lower bound)"
ORDER = 50

NETWORKS = ((64, 128, 10), (784, 256, 128, 10))
BATCH, QUICK_BATCH = 256, 16
TARGETS = {
    ((64, 128, 10), "float64"): ("<=", 1.2),
    ((64, 128, 10), "float32"): ("<=", 1.5),
    ((784, 256, 128, 10), "float64"): ("<=", 1.15),
    ((784, 256, 128, 10), "float32"): ("<=", 1.15),
}
#: Whole-batch gradients: network -> (N, quick N, target per dtype).
GRADIENTS = {
    (784, 256, 128, 10): (4096, 256, {"float64": ("<=", 1.3), "float32": ("<=", 1.3)}),
    (64, 128, 10): (8192, 512, {"float64": ("<=", 2.0), "float32": ("<=", 2.0)}),
    (2, 2, 1): (65536, 4096, {"float64": ("<=", 1.7), "float32": ("<=", 1.8)}),
}


def run(bench):
    yield from _steps(bench)
    yield from _gradients(bench)


def _steps(bench):
    batch = QUICK_BATCH if bench.quick else BATCH
    for sizes in NETWORKS:
        rng = np.random.default_rng(len(sizes))
        X64 = rng.normal(size=(batch, sizes[0]))
        Y64 = (rng.random((batch, sizes[-1])) < 0.5).astype(np.float64)
        for dtype in bench.dtypes:
            net = Network.from_sizes(sizes, seed=5, dtype=dtype)
            X, Y = X64.astype(dtype), Y64.astype(dtype)
            step, ws, grad = training_step(net, X, Y)
            step()
            ok, how = bench.agree(reference_gradient(net, X64, Y64), grad, **tolerance(dtype))
            label = "-".join(map(str, sizes))
            a, b = bench.time_pair(step, "forward+backward", lower_bound(net, X, ws),
                                   "matmuls + exp") if ok else (None, None)
            yield Result(
                "lowerbound", dtype.name, f"{label}, batch {batch}", ok, how, n_samples=batch,
                a=a, b=b,
                target=TARGETS[(sizes, dtype.name)],
                metrics={"settings": settings()},
                note="ratio is a cost: forward+backward / bound; default threads",
            )


def _gradients(bench):
    for sizes, (n, quick_n, targets) in GRADIENTS.items():
        n = quick_n if bench.quick else n
        rng = np.random.default_rng(len(sizes))
        X64 = rng.normal(size=(n, sizes[0]))
        Y64 = (rng.random((n, sizes[-1])) < 0.5).astype(np.float64)
        label = "-".join(map(str, sizes))
        for dtype in bench.dtypes:
            net = Network.from_sizes(sizes, seed=5, dtype=dtype)
            X, Y = X64.astype(dtype), Y64.astype(dtype)
            grad, _ = net._gradients(X, Y)
            ok, how = bench.agree(reference_gradient(net, X64, Y64), grad, **tolerance(dtype))
            # The bound's operands hold the values of the whole batch's pass.
            ws = net._engine.workspace(n, dtype)
            step, one_block, _ = training_step(net, X, Y, ws)
            step()
            bound = lower_bound(net, X, ws)
            sides = [(lambda: net._gradients(X, Y), "Network.gradients"),
                     (one_block, "one block, BLAS threads")]
            most = _most_rows(sizes)
            if n > most and -(-n // most) % 2:
                sides.append((_in_blocks_of(net, X, Y, most), f"blocks of {most} rows"))
            if sizes == (2, 2, 1):
                sides.append((_broadcast_bias(lambda: net._gradients(X, Y)),
                              "bias added row by row"))
            timings = bench.time_sides(sides + [(bound, "matmuls + exp")],
                                       settle=True) if ok else [None] * (len(sides) + 1)
            rows = backprop.block_rows(n, sizes)
            for timing, (_, what) in zip(timings[:-1], sides):
                blocks = {"Network.gradients": -(-n // rows), "one block, BLAS threads": 1}.get(
                    what, -(-n // most))
                yield Result(
                    "lowerbound", dtype.name, f"{label} gradient, N={n}, {what}", ok, how,
                    n_samples=n, a=timing, b=timings[-1],
                    target=targets[dtype.name] if what == "Network.gradients" else None,
                    metrics={"blocks": blocks, "settings": settings()},
                    note="ratio is a cost: gradient / bound; default threads",
                )


def _most_rows(sizes):
    """The most rows a block may have (what every block had before blocks were evened)."""
    return min(backprop.BLOCK_ROWS, backprop.BLOCK_ACTIVATIONS // sum(sizes[1:]))


def _in_blocks_of(net, X, Y, rows):
    """The gradient in blocks of ``rows`` rows on the threads, the last one short."""
    engine = net._engine
    ws = engine.workspace(rows, net.dtype)
    grad, grads = Products().flat(net.sizes, net.dtype)
    return lambda: gradient(engine, X, Y, ws, grad, grads)


def _broadcast_bias(fn):
    """``fn`` run with every layer adding its bias as one broadcast add."""
    def call():
        before = backprop.COLUMNWISE_UNITS
        backprop.COLUMNWISE_UNITS = 0
        try:
            return fn()
        finally:
            backprop.COLUMNWISE_UNITS = before
    return call


def training_step(net, X, Y, ws=None):
    """``fit``'s per-batch work on preallocated buffers, its workspace and gradient.

    With a workspace ``ws`` of all of ``X``'s rows, returns instead the
    step, the whole gradient as one block (what :func:`gradient` does with
    it) and the gradient.
    """
    grad, grads = Products().flat(net.sizes, net.dtype)
    engine = net._engine
    whole = ws is not None
    ws = ws if whole else engine.workspace(X.shape[0], net.dtype)

    def step():
        forward(engine, X, ws)
        backward(engine, X, Y, Y.size, ws, grads)

    if whole:
        return step, lambda: gradient(engine, X, Y, ws, grad, grads), grad
    return step, ws, grad


def lower_bound(net, X, ws):
    """The step's matrix products and one exp per pre-activation, nothing else.

    The products run on the step's own activations and deltas (left in ``ws``
    by a step), and the exp on its real pre-activations, so every operand
    holds the values the step sees.
    """
    Ws = [layer.W for layer in net.layers]
    As, Ds = [X] + ws.A, ws.D
    Zs = [A @ layer.W.T + layer.b for A, layer in zip(As, net.layers)]
    out = [np.empty_like(Z) for Z in Zs]
    dWs = [np.empty_like(W) for W in Ws]
    dA = [np.empty_like(A) for A in As]

    def bound():
        for W, A, Z, z, D, dW, da in zip(Ws, As, Zs, out, Ds, dWs, dA):
            np.matmul(A, W.T, out=z)
            np.exp(Z, out=z)
            np.matmul(D.T, A, out=dW)
            if da is not dA[0]:
                np.matmul(D, W, out=da)

    return bound


def reference_gradient(net, X, Y):
    """The chain rule in plain float64 numpy, as one flat vector."""
    As = [X]
    for layer in net.layers:
        As.append(expit(As[-1] @ layer.W.T.astype(np.float64) + layer.b))
    delta = 2 * (As[-1] - Y) / Y.size * As[-1] * (1 - As[-1])
    flat = []
    for l in range(len(net.layers) - 1, -1, -1):
        flat = [(delta.T @ As[l]).ravel(), delta.sum(axis=0)] + flat
        if l:
            delta = (delta @ net.layers[l].W.astype(np.float64)) * As[l] * (1 - As[l])
    return np.concatenate(flat)


def tolerance(dtype):
    if dtype == np.float64:
        return {"rtol": 1e-9, "atol": 1e-14}
    return {"rtol": 1e-3, "atol": 1e-7}
