"""The 8x8 digits side by side: Network.fit, scikit-learn's MLPClassifier, a torch loop.

Every side trains the same 64-32-10 network (tanh hidden layer, softmax
output, cross-entropy, no L2) from the same starting weights, with the same
optimizer (SGD with momentum 0.9, Nesterov off; or Adam), batch 32 and
number of epochs, on one thread (``threadpoolctl`` limits every BLAS and
OpenMP pool, ``torch.set_num_threads(1)`` torch's own). The torch side is
the plain eager loop a torch user writes (``cross_entropy`` on the logits,
``optimizer.step()`` per batch, no DataLoader); it runs when torch is
installed. scikit-learn is needed for the data; without it the case says
so and yields nothing.

Before timing, each side trains once without shuffling and the final
parameters must agree: SGD with momentum is the same rule on every side
(scikit-learn's velocity is ``-learning_rate`` times torch's buffer), and
so is Adam up to where ``eps`` enters: scikit-learn adds it to
``sqrt(v_t)`` before the bias correction, torch and matnn to
``sqrt(v_hat_t)`` after it. That check therefore runs Adam with
``eps = 1e-13``, where the two placements agree to about 1e-8.

The timed runs shuffle every epoch, each side with its own seeded
generator, and use the default ``eps``. Each timed call trains from the
same start with the same seed, so every call does identical work; the
table's ``a`` is scikit-learn or torch, ``b`` is matnn, and the metrics
give the seconds per epoch and the final test accuracy of each.
"""

import contextlib
import warnings

import numpy as np

import matnn
from matnn import digits

from .harness import Result

TITLE = "the 8x8 digits, 64-32-10 tanh/softmax, batch 32: MLPClassifier and torch vs fit"
ORDER = 60

HIDDEN, BATCH, SEED = 32, 32, 0
EPOCHS, QUICK_EPOCHS = 20, 1
#: optimizer -> learning rate; both reach about 0.97 test accuracy in 20 epochs.
LEARNING_RATES = {"sgd": 0.05, "adam": 3e-3}
MOMENTUM = 0.9
ADAM_EPS, CHECK_EPS = 1e-8, 1e-13


def run(bench):
    try:
        split = digits.load(SEED)
    except ImportError as exc:
        print(f"  skipped: {exc}")
        return
    try:
        import torch
    except ImportError:
        torch = None
        print("  torch is not installed: only scikit-learn is compared (pip install torch)")
    # threadpoolctl comes with scikit-learn, which the data needed.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1), _torch_threads(torch, 1):
        rows = [row for optimizer in LEARNING_RATES for dtype in bench.dtypes
                for row in _compare(bench, split, optimizer, dtype, torch)]
    yield from rows


@contextlib.contextmanager
def _torch_threads(torch, n):
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def starting_weights(dtype):
    """``[(W1, b1), (W2, b2)]``: LeCun-normal weights, zero biases, from ``SEED``."""
    rng = np.random.default_rng(SEED)
    return [(rng.normal(0.0, np.sqrt(1.0 / n_in), size=(n_out, n_in)).astype(dtype),
             np.zeros(n_out, dtype))
            for n_in, n_out in ((64, HIDDEN), (HIDDEN, 10))]


def _compare(bench, split, optimizer, dtype, torch):
    epochs = QUICK_EPOCHS if bench.quick else EPOCHS
    X, Xt = split.X_train.astype(dtype), split.X_test.astype(dtype)
    y, yt = split.y_train, split.y_test
    start = starting_weights(dtype)
    kinds = [MatnnSide, SklearnSide] + ([TorchSide] if torch is not None else [])

    def sides(shuffle, eps):
        return [kind(optimizer, start, X, y, epochs=epochs, shuffle=shuffle, eps=eps)
                for kind in kinds]

    checked = sides(shuffle=False, eps=CHECK_EPS)
    for side in checked:
        side.train()
    got = checked[0].params()
    agreement = [bench.agree(peer.params(), got, **_tolerance(optimizer, dtype, peer))
                 for peer in checked[1:]]

    timed = sides(shuffle=True, eps=ADAM_EPS)
    ok = all(ok for ok, _ in agreement)
    timings = bench.time_sides([(side.train, side.label) for side in timed],
                               repeat=None if bench.quick else 3) if ok else None
    # Each call trained from the same start with the same seed: the state
    # left by the last one is the state every timed call reached.
    accuracy = [side.accuracy(Xt, yt) for side in timed] if ok else None
    for i, (peer, (agreed, how)) in enumerate(zip(timed[1:], agreement), start=1):
        size = f"{optimizer}, {epochs} epoch{'s' * (epochs != 1)}, {peer.name} vs matnn"
        metrics = {}
        if ok:
            metrics = {f"{peer.name}_s_per_epoch": timings[i].median / epochs,
                       "matnn_s_per_epoch": timings[0].median / epochs,
                       f"{peer.name}_accuracy": accuracy[i],
                       "matnn_accuracy": accuracy[0]}
        yield Result(
            "digits", np.dtype(dtype).name, size, agreed, how,
            n_samples=X.shape[0] * epochs,
            a=timings[i] if ok else None, b=timings[0] if ok else None,
            target=(">=", 3), metrics=metrics,
        )


def _tolerance(optimizer, dtype, peer):
    """Final parameters after every step of the unshuffled run."""
    if dtype == np.float32:
        return {"rtol": 1e-3, "atol": 1e-3}
    if optimizer == "adam" and peer.name == "sklearn":
        # The eps placement, even at eps = 1e-13 (see the module docstring).
        return {"rtol": 1e-6, "atol": 1e-7}
    return {"rtol": 1e-8, "atol": 1e-10}


def _flat(pairs):
    """``[(W1, b1), (W2, b2)]`` in ``Network.params`` order: W1 row-major, b1, W2, b2."""
    return np.concatenate([a.ravel() for W, b in pairs for a in (W, b)])


class MatnnSide:
    """``Network.fit`` with ``matnn.SGD`` or ``matnn.Adam``."""

    name, label = "matnn", "Network.fit"

    def __init__(self, optimizer, start, X, y, *, epochs, shuffle, eps):
        self.net = matnn.Network.from_sizes([64, HIDDEN, 10], ["tanh", "softmax"],
                                            loss="cross_entropy", seed=SEED, dtype=X.dtype)
        self.start = _flat(start)
        self.optimizer, self.X, self.y = optimizer, X, y
        self.epochs, self.shuffle, self.eps = epochs, shuffle, eps

    def train(self):
        lr = LEARNING_RATES[self.optimizer]
        optimizer = (matnn.SGD(lr, momentum=MOMENTUM) if self.optimizer == "sgd"
                     else matnn.Adam(lr, eps=self.eps))
        self.net.params[...] = self.start
        self.net.fit(self.X, self.y, epochs=self.epochs, batch_size=BATCH,
                     optimizer=optimizer, shuffle=self.shuffle, seed=SEED)

    def params(self):
        return self.net.params.copy()

    def accuracy(self, X, y):
        return float(self.net.accuracy(X, y))


class SklearnSide:
    """``MLPClassifier.fit`` for all the epochs at once, from our starting weights.

    A first one-epoch ``fit`` makes scikit-learn allocate its parameters;
    with ``warm_start=True`` every later ``fit`` keeps them (overwritten
    with the start) and builds a fresh optimizer, as each timed run needs.
    """

    name, label = "sklearn", "MLPClassifier.fit"

    def __init__(self, optimizer, start, X, y, *, epochs, shuffle, eps):
        from sklearn.neural_network import MLPClassifier

        self.clf = MLPClassifier(
            hidden_layer_sizes=(HIDDEN,), activation="tanh", solver=optimizer, alpha=0.0,
            batch_size=BATCH, learning_rate="constant",
            learning_rate_init=LEARNING_RATES[optimizer], momentum=MOMENTUM,
            nesterovs_momentum=False, epsilon=eps, shuffle=shuffle, random_state=SEED,
            warm_start=True, max_iter=1,
            # Never stop early on the training loss: every side runs every epoch.
            tol=0.0, n_iter_no_change=epochs,
        )
        self.start, self.X, self.y = start, X, y
        self._fit()
        self.clf.set_params(max_iter=epochs)

    def _fit(self):
        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            # Running out of epochs is the plan here, not a problem.
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.clf.fit(self.X, self.y)

    def train(self):
        for coef, intercept, (W, b) in zip(self.clf.coefs_, self.clf.intercepts_, self.start):
            coef[...] = W.T
            intercept[...] = b
        self._fit()

    def params(self):
        return _flat([(coef.T, intercept)
                      for coef, intercept in zip(self.clf.coefs_, self.clf.intercepts_)])

    def accuracy(self, X, y):
        return float(self.clf.score(X, y))


class TorchSide:
    """The plain eager PyTorch loop: slice a batch, forward, backward, step."""

    name, label = "torch", "torch loop"

    def __init__(self, optimizer, start, X, y, *, epochs, shuffle, eps):
        import torch

        self.torch = torch
        self.model = torch.nn.Sequential(
            torch.nn.Linear(64, HIDDEN), torch.nn.Tanh(), torch.nn.Linear(HIDDEN, 10),
        ).to(torch.float32 if X.dtype == np.float32 else torch.float64)
        self.start = [(torch.from_numpy(W), torch.from_numpy(b)) for W, b in start]
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        self.optimizer, self.epochs, self.shuffle, self.eps = optimizer, epochs, shuffle, eps

    def train(self):
        torch = self.torch
        linears = (self.model[0], self.model[2])
        with torch.no_grad():
            for linear, (W, b) in zip(linears, self.start):
                linear.weight.copy_(W)
                linear.bias.copy_(b)
        lr = LEARNING_RATES[self.optimizer]
        params = self.model.parameters()
        optimizer = (torch.optim.SGD(params, lr=lr, momentum=MOMENTUM)
                     if self.optimizer == "sgd" else torch.optim.Adam(params, lr=lr, eps=self.eps))
        generator = torch.Generator().manual_seed(SEED)
        n = self.X.shape[0]
        for _ in range(self.epochs):
            order = torch.randperm(n, generator=generator) if self.shuffle else torch.arange(n)
            for i in range(0, n, BATCH):
                batch = order[i:i + BATCH]
                optimizer.zero_grad()
                loss = torch.nn.functional.cross_entropy(self.model(self.X[batch]), self.y[batch])
                loss.backward()
                optimizer.step()

    def params(self):
        return _flat([(m.weight.detach().numpy(), m.bias.detach().numpy())
                      for m in (self.model[0], self.model[2])])

    def accuracy(self, X, y):
        with self.torch.no_grad():
            predicted = self.model(self.torch.from_numpy(X)).argmax(dim=1).numpy()
        return float(np.mean(predicted == y))
