"""Networks the scalar form cannot express, against their hardware lower bound.

One training step's forward and backward pass (what ``fit`` runs per batch:
:func:`matnn.backprop.forward` then :func:`matnn.backprop.backward` into
preallocated buffers) against the least any implementation must do: the same
matrix products (``Z = A @ W.T`` per layer forward, ``dW = delta.T @ A`` per
layer and ``delta @ W`` per hidden layer backward) plus one ``exp`` over every
pre-activation, timed alone on buffers of the same shapes. The ratio is the
cost of everything else: biases, the sigmoid beyond its ``exp``, its
derivative, the deltas, the bias gradients.

Before timing, the step's gradient is checked against the chain rule written
out in plain numpy in float64.
"""

import numpy as np
from scipy.special import expit

from matnn import Network
from matnn.backprop import Products, backward, forward

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


def run(bench):
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


def training_step(net, X, Y):
    """``fit``'s per-batch work on preallocated buffers, its workspace and gradient."""
    grad, grads = Products().flat(net.sizes, net.dtype)
    engine = net._engine
    ws = engine.workspace(X.shape[0], net.dtype)

    def step():
        forward(engine, X, ws)
        backward(engine, X, Y, Y.size, ws, grads)

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
