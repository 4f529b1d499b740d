"""Threads: large batches and ensembles on every core, against PyTorch and one thread.

- The full-batch gradient of the document's network at N = 65,536, matnn
  against PyTorch (forward, MSE, ``backward()``), both with their default
  threads. The ratio is torch's time / matnn's; the goal, matnn no slower
  than PyTorch's autograd, is a ratio >= 1.
- The same gradient at N = 10^6 (and at 2 and 4 blocks of rows, where the
  split starts) with 2 threads against 1.
- 1000 runs of the document's session as one Ensemble.fit with 2 threads
  against 1: as the library decides (the session is small work and stays on
  the calling thread; its steps are numpy calls that hold the interpreter
  lock as long as they work, so threads could not speed it up, and the
  goal is that they do not slow it down), and with the members forced into
  groups, which is what the group threshold was set from (no goal).
- The document's batch-1 session (Network.fit) with the default threads
  against 1 thread: small work, which must not slow down.

Sides that run on several threads are timed with ``settle`` (see
:meth:`benchmarks.harness.Bench.time_sides`): OpenBLAS's and OpenMP's idle
threads spin for about 0.1 s after their work, and a side timed right after
the other's threaded work would share the two cores with them.

Every row records the thread settings it was measured with:
``matnn.get_num_threads()``, torch's, and threadpoolctl's
``threadpool_info()`` (every BLAS and OpenMP library with its thread count).
Before timing, the sides are checked to agree: torch's gradient to rounding,
the thread counts to the bit.
"""

import contextlib

import numpy as np

import matnn
from matnn import Ensemble, data, ensemble
from matnn.seeds import document_networks

from .harness import Result
from .workloads import as_dtype, document_pair, people

TITLE = "threads: row blocks and ensemble groups, against PyTorch and against one thread"
ORDER = 25

TORCH_N, QUICK_TORCH_N = 65536, 8192
BIG_N, QUICK_BIG_N = 10**6, 32768
SPLIT_BLOCKS = (2, 4)
RUNS, EPOCHS = 1000, 1000
QUICK_RUNS, QUICK_EPOCHS = 200, 5
SESSION_EPOCHS, QUICK_SESSION_EPOCHS = 1000, 20
LEARNING_RATE = 0.1


def settings(torch=None):
    """The thread settings a number is measured with, for the JSON.

    ``blas`` lists threadpoolctl's ``threadpool_info()`` as "library
    (api): threads" outside a parallel region; inside one, matnn runs BLAS
    on one thread.
    """
    from threadpoolctl import threadpool_info

    return {
        "matnn_threads": matnn.get_num_threads(),
        "torch_threads": None if torch is None else torch.get_num_threads(),
        "blas": [f"{info['internal_api']} {info.get('version')} ({info['user_api']}): "
                 f"{info['num_threads']}" for info in threadpool_info()],
    }


@contextlib.contextmanager
def num_threads(n):
    before = matnn.get_num_threads()
    matnn.set_num_threads(n)
    try:
        yield
    finally:
        matnn.set_num_threads(before)


def run(bench):
    try:
        import torch
    except ImportError:
        torch = None
        print("  torch is not installed: the PyTorch rows are skipped (pip install torch)")
    for dtype in bench.dtypes:
        if torch is not None:
            yield _against_torch(bench, torch, dtype)
        yield from _gradient_threads(bench, dtype)
        yield from _ensemble_threads(bench, dtype)
        yield _session(bench, dtype)


def _flat(grads):
    return np.concatenate([np.concatenate([np.ravel(dW), np.ravel(db)]) for dW, db in grads])


def _tolerance(dtype, expected):
    scale = float(np.max(np.abs(expected)))
    if dtype == np.float64:
        return {"rtol": 1e-9, "atol": 1e-12 * scale}
    return {"rtol": 1e-3, "atol": 1e-4 * scale}


def _against_torch(bench, torch, dtype):
    n = QUICK_TORCH_N if bench.quick else TORCH_N
    _, net64 = document_pair(seed=7)
    net = as_dtype(net64, dtype)
    X, y = people(n, seed=70, dtype=dtype)
    model = matnn.to_torch(net)
    tX = torch.from_numpy(X)
    ty = torch.from_numpy(y[:, None])
    mse = torch.nn.functional.mse_loss

    def torch_gradient():
        model.zero_grad(set_to_none=True)
        mse(model(tX), ty).backward()
        return [(layer.weight.grad, layer.bias.grad) for layer in model if hasattr(layer, "weight")]

    def matnn_gradient():
        return net.gradients(X, y)

    expected = _flat([(w.numpy(), b.numpy()) for w, b in torch_gradient()]).astype(np.float64)
    ok, how = bench.agree(expected, _flat(matnn_gradient()), **_tolerance(dtype, expected))
    a, b = bench.time_pair(torch_gradient, "torch forward+backward",
                           matnn_gradient, "Network.gradients", settle=True) if ok else (None, None)
    return Result("threads", dtype.name, f"gradient vs torch, N={n}", ok, how, n_samples=n,
                  a=a, b=b, target=(">=", 1.0), metrics={"settings": settings(torch)},
                  note="ratio = torch / matnn; goal: matnn no slower than torch")


def _gradient_threads(bench, dtype):
    _, net64 = document_pair(seed=8)
    net = as_dtype(net64, dtype)
    blocks = matnn.backprop.BLOCK_ROWS
    sizes = [k * blocks for k in SPLIT_BLOCKS] + [QUICK_BIG_N if bench.quick else BIG_N]
    for n in sizes:
        X, y = people(n, seed=80, dtype=dtype)
        results = {}
        for t in (1, 2):
            with num_threads(t):
                results[t] = _flat(net.gradients(X, y))
        ok = np.array_equal(results[1], results[2])
        how = "1 and 2 threads bitwise equal" if ok else "1 and 2 threads differ"

        def timed(t):
            def call():
                with num_threads(t):
                    return net.gradients(X, y)
            return call

        with num_threads(2):
            recorded = settings()
        a, b = bench.time_pair(timed(1), "1 thread", timed(2), "2 threads",
                               settle=True) if ok else (None, None)
        yield Result("threads", dtype.name, f"gradient, 2 threads vs 1, N={n}", ok, how,
                     n_samples=n, a=a, b=b,
                     target=(">=", 1.6) if n == sizes[-1] else None,
                     metrics={"blocks": -(-n // blocks), "settings": recorded})


def _ensemble_threads(bench, dtype):
    runs = QUICK_RUNS if bench.quick else RUNS
    epochs = QUICK_EPOCHS if bench.quick else EPOCHS
    networks = [as_dtype(net, dtype) for net in document_networks(range(runs))]
    X, y = data.X.astype(dtype), data.y.astype(dtype)

    def fit(t):
        def call():
            with num_threads(t):
                ens = Ensemble(networks)
                ens.fit(X, y, epochs=epochs, learning_rate=LEARNING_RATE, batch_size=1,
                        shuffle=False)
                return ens._flat
        return call

    for forced in (False, True):
        with contextlib.ExitStack() as stack:
            if forced:
                stack.callback(setattr, ensemble, "GROUP_WORK", ensemble.GROUP_WORK)
                ensemble.GROUP_WORK = 1
            grouped = ensemble.splits(runs, X.shape[0])
            ok = np.array_equal(fit(1)(), fit(2)())
            how = "1 and 2 threads bitwise equal" if ok else "1 and 2 threads differ"
            with num_threads(2):
                recorded = settings()
            a, b = bench.time_pair(fit(1), "1 thread", fit(2), "2 threads",
                                   settle=True) if ok else (None, None)
        yield Result(
            "threads", dtype.name,
            f"{runs} runs x {epochs} epochs, {'forced into groups' if forced else 'as decided'}",
            ok, how, n_samples=4 * epochs * runs, a=a, b=b,
            target=None if forced else (">=", 0.95),
            metrics={"grouped": grouped, "groups": len(ensemble.member_groups(runs)),
                     "settings": recorded},
            note="ensemble, 2 threads vs 1",
        )


def _session(bench, dtype):
    epochs = QUICK_SESSION_EPOCHS if bench.quick else SESSION_EPOCHS
    _, net64 = document_pair(seed=3)
    net = as_dtype(net64, dtype)
    start = net.params.copy()
    X, y = data.X.astype(dtype), data.y.astype(dtype)

    def session(t):
        def call():
            with num_threads(t):
                net.params[...] = start
                net.fit(X, y, epochs=epochs, learning_rate=LEARNING_RATE, batch_size=1,
                        shuffle=False)
                return net.params.copy()
        return call

    default = matnn.get_num_threads()
    ok = np.array_equal(session(1)(), session(default)())
    how = f"1 and {default} threads bitwise equal" if ok else f"1 and {default} threads differ"
    recorded = settings()
    a, b = bench.time_pair(session(1), "1 thread", session(default),
                           f"{default} threads (default)") if ok else (None, None)
    return Result("threads", dtype.name, f"batch-1 session, {epochs} epochs, default vs 1 thread",
                  ok, how, n_samples=4 * epochs, a=a, b=b, target=(">=", 0.95),
                  metrics={"settings": recorded},
                  note="small work stays on the calling thread: ratio ~1")
