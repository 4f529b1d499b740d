"""What an optimizer adds to a training step: Adam and SGD momentum against plain SGD.

One step is what ``fit`` runs per batch: the forward pass, the backward pass
into the flat gradient, and the optimizer's update of the flat parameters
(``matnn.network_run._NetworkRun.step``, the very function ``fit`` calls). It is
timed at batch 1 on the lesson's 2-2-1 network, where the update's handful of
ufunc calls weighs most against the passes: ``Adam``, and ``SGD`` with
momentum, against the lesson's plain ``params -= learning_rate * grad``. The
ratio is a cost (optimizer step / plain step); issue 10 asks for at most 1.5.

Before timing, each optimizer's parameters after three epochs of per-sample
steps in dataset order are checked against a reference written here: the
scalar shim's partial derivatives for each sample and the update rules from
the optimizers' docstrings, in float64.
"""

import itertools

import numpy as np

from matnn import SGD, Adam, data
from matnn.network_run import _NetworkRun

from .harness import Result
from .workloads import FLAT_ORDER, as_dtype, document_pair, shim_params

TITLE = "one batch-1 training step of the lesson's network: Adam and momentum vs plain SGD"
ORDER = 45

LEARNING_RATE = 0.1
MOMENTUM = 0.9
ADAM = dict(learning_rate=0.01, betas=(0.9, 0.999), eps=1e-8)
EPOCHS = 3


def run(bench):
    shim, net64 = document_pair(seed=5)
    start = shim_params(shim)
    optimizers = {
        "SGD momentum": lambda: SGD(LEARNING_RATE, momentum=MOMENTUM),
        "Adam": lambda: Adam(**ADAM),
    }
    expected = {name: reference(shim, name) for name in optimizers}
    for dtype in bench.dtypes:
        X, Y = data.X.astype(dtype), data.y.astype(dtype).reshape(-1, 1)
        samples = [(X[i:i + 1], Y[i:i + 1]) for i in range(len(X))]

        def stepper(optimizer):
            """fit's per-batch step with ``optimizer``, on a fresh network."""
            net = as_dtype(net64, dtype)
            net.params[...] = start
            step = _NetworkRun(net, optimizer, 1, len(X)).step
            order = itertools.cycle(samples)
            return net, lambda: step(*next(order))

        _, plain = stepper(SGD(LEARNING_RATE))
        sides, checks = [(plain, "plain SGD step")], []
        for name, make in optimizers.items():
            net, step = stepper(make())
            for _ in range(EPOCHS * len(X)):
                step()
            checks.append(bench.agree(expected[name], net.params.copy(), **tolerance(dtype)))
            sides.append((step, f"{name} step"))
        if all(ok for ok, _ in checks):
            plain_time, *timings = bench.time_sides(sides)
        else:
            plain_time, timings = None, [None] * len(optimizers)
        for name, (ok, how), timing in zip(optimizers, checks, timings):
            yield Result(
                "optimizers", dtype.name, f"{name}, 2-2-1, batch 1", ok, how, n_samples=1,
                a=timing, b=plain_time, target=("<=", 1.5),
                note="ratio is a cost: optimizer step / plain SGD step",
            )


def reference(shim, name):
    """Parameters after ``EPOCHS`` epochs of per-sample steps, written out in float64.

    The gradient of each sample is the scalar shim's; the update follows the
    optimizer's documented rule (PyTorch's ``SGD`` with dampening 0, and
    ``Adam`` with bias correction).
    """
    p = shim_params(shim)
    m, v = np.zeros_like(p), np.zeros_like(p)
    t = 0
    for _ in range(EPOCHS):
        for x, y_true in zip(data.X, data.y):
            s = type(shim)(**dict(zip(FLAT_ORDER, p)))
            partials = s.gradients(x, y_true)
            g = np.array([partials[k] for k in FLAT_ORDER])
            t += 1
            if name == "SGD momentum":
                m = g if t == 1 else MOMENTUM * m + g
                p = p - LEARNING_RATE * m
            else:
                b1, b2 = ADAM["betas"]
                m = b1 * m + (1 - b1) * g
                v = b2 * v + (1 - b2) * g**2
                m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
                p = p - ADAM["learning_rate"] * m_hat / (np.sqrt(v_hat) + ADAM["eps"])
    return p


def tolerance(dtype):
    """Twelve steps; float32 rounds every one."""
    if dtype == np.float64:
        return {"rtol": 1e-12, "atol": 1e-14}
    return {"rtol": 1e-4, "atol": 1e-5}
