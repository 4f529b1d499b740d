"""Many networks of one architecture, trained at once.

The document trains with one sample per step, which leaves nothing to
vectorise over samples. Questions about many *runs* ("how often does a
random start work?", "which learning rate is best?") are different: the runs
are independent, so K networks of one architecture can be stacked and
stepped together. Layer ``l`` of member ``k`` is ``W[k]`` of shape
(n_out, n_in) and ``b[k]`` of shape (n_out,), and every pass of
:mod:`matnn.backprop` becomes a stacked one:

    forward    Z[k] = A_prev[k] @ W[k].T + b[k]        A[k] = f(Z[k])
    backward   delta_prev[k] = delta[k] @ W[k]        dW[k] = delta[k].T @ A_prev[k]

with ``A_prev = X`` shared by every member in the first layer. Each member's
numbers go through the same operations as :meth:`matnn.Network.fit`, so a
member of a trained ensemble equals that network trained alone (to rounding:
a product may be summed in another order than BLAS sums it).

Memory layout: all parameters live in one flat buffer with the member axis
*last* (contiguous), so every elementwise step of the tiny document network
runs over all K members in one vectorised loop, and an SGD step is one update
of one array. The public views (``layers``, and what ``predict`` and
``gradients`` return) put the member axis first.

Members never mix: a member whose parameters or loss overflow is frozen at
its last finite parameters and reported, and the others train on.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .activations import get_activation
from .backprop import BLOCK_ROWS
from .layers import Dense
from .losses import mse_gradient
from .network import Network
from .validation import (
    as_array,
    check_batch,
    check_callback,
    check_features,
    check_int,
    check_positive,
)

__all__ = ["Ensemble", "StackedLayer"]

#: A stacked product whose summed dimension is at most this long is computed
#: as that many broadcast multiply-adds over the (contiguous) member axis;
#: longer ones go to ``np.matmul`` over the members. Measured on the
#: document's network with 100 to 1000 members, the multiply-adds train
#: 10-25% faster; with about 10 members ``np.matmul`` is faster. The choice
#: depends only on the architecture and the batch, never on the number of
#: members, so a member takes the same code path whoever shares its
#: ensemble, and so does the replay of a diverged member.
UNROLL_MAX = 4


class StackedLayer(NamedTuple):
    """One layer of every member.

    Attributes
    ----------
    W : ndarray of shape (n_models, n_out, n_in)
        ``W[k]`` is member ``k``'s weight matrix; a view into the
        ensemble's parameters, so writing into it changes the member.
    b : ndarray of shape (n_models, n_out)
        ``b[k]`` is member ``k``'s bias vector; a view as well.
    activation : str
    """

    W: np.ndarray
    b: np.ndarray
    activation: str


class Ensemble:
    """K networks of identical architecture, stored and trained as one.

    Parameters
    ----------
    networks : sequence of Network
        At least one; all with the same ``sizes``, activations and dtype.
        Their parameters are copied, so the networks you pass stay as they
        are.

    Attributes
    ----------
    layers : tuple of StackedLayer
        Per layer, ``W`` of shape (n_models, n_out, n_in) and ``b`` of shape
        (n_models, n_out): views into the ensemble's parameters (write into
        them, do not rebind them). ``layers[0].W[k]`` is
        ``networks()[k].layers[0].W``.
    sizes : tuple of int
    activations : tuple of str
    dtype : numpy dtype
    failed : ndarray of bool, shape (n_models,)
        Members that diverged in some :meth:`fit`; they are frozen at their
        last finite parameters and no longer train.
    failed_at : dict
        ``{member: (epoch, batch)}`` for every failed member, 0-based within
        the :meth:`fit` call where it diverged. ``batch`` is the batch whose
        update made a parameter NaN or inf, or None when the parameters
        stayed finite and only the end-of-epoch loss overflowed: the
        ``epoch`` and ``batch`` that :class:`~matnn.TrainingDiverged` reports
        for the same network trained alone.
    """

    def __init__(self, networks):
        if isinstance(networks, Network):
            raise TypeError("networks must be a sequence of Network; wrap a single network in a list")
        networks = list(networks)
        if not networks:
            raise ValueError("an Ensemble needs at least one network")
        for k, net in enumerate(networks):
            if not isinstance(net, Network):
                raise TypeError(f"networks[{k}] must be a matnn.Network, got {type(net).__name__}")
        first = networks[0]
        for k, net in enumerate(networks[1:], start=1):
            for what in ("sizes", "activations", "dtype"):
                mine, theirs = getattr(net, what), getattr(first, what)
                if mine != theirs:
                    raise ValueError(
                        f"networks[{k}] has {what} {mine} but networks[0] has {theirs}; "
                        "every member of an Ensemble needs the same sizes, activations and dtype"
                    )
        self.sizes = first.sizes
        self.activations = first.activations
        self.dtype = first.dtype
        self.failed = np.zeros(len(networks), bool)
        self.failed_at = {}
        self._acts = [get_activation(a) for a in self.activations]
        self._flat = np.empty((first.params.size, len(networks)), self.dtype)
        self._engine = _engine(self._flat, self.sizes, self._acts)
        self.layers = tuple(
            StackedLayer(WT.transpose(2, 1, 0), b.T, act.name) for WT, b, act in self._engine
        )
        for l, layer in enumerate(self.layers):
            layer.W[...] = [net.layers[l].W for net in networks]
            layer.b[...] = [net.layers[l].b for net in networks]

    @classmethod
    def from_sizes(cls, sizes, n_models, activation="sigmoid", seed=None, dtype=np.float64):
        """``n_models`` randomly initialised members.

        Member ``k`` is ``Network.from_sizes(sizes, activation, seed=rng_k,
        dtype=dtype)`` with ``rng_k = np.random.default_rng(children[k])`` and
        ``children = np.random.SeedSequence(seed).spawn(n_models)``: the
        members get independent streams, and member ``k`` is the same network
        whatever ``n_models`` is.

        Parameters
        ----------
        sizes : sequence of int
            ``(n_in, n_hidden..., n_out)``.
        n_models : int >= 1
        activation : str or sequence of str
        seed : None, int >= 0 or numpy.random.SeedSequence
        dtype : float32 or float64
        """
        n_models = check_int(n_models, "n_models", 1)
        if seed is not None and not isinstance(seed, np.random.SeedSequence):
            seed = check_int(seed, "seed", 0)
        children = np.random.SeedSequence(seed).spawn(n_models)
        return cls([
            Network.from_sizes(sizes, activation, seed=np.random.default_rng(child), dtype=dtype)
            for child in children
        ])

    # -- description -------------------------------------------------------

    @property
    def n_models(self) -> int:
        return self._flat.shape[1]

    def __len__(self):
        return self.n_models

    @property
    def n_in(self) -> int:
        return self.sizes[0]

    @property
    def n_out(self) -> int:
        return self.sizes[-1]

    def __repr__(self):
        acts = self.activations
        act = acts[0] if len(set(acts)) == 1 else list(acts)
        return (f"Ensemble(n_models={self.n_models}, sizes={self.sizes}, "
                f"activation={act!r}, dtype={self.dtype}, failed={int(self.failed.sum())})")

    def networks(self):
        """Every member as an independent :class:`Network` (a copy).

        Returns
        -------
        list of Network, one per member
        """
        return [
            Network([Dense(layer.W[k], layer.b[k], layer.activation) for layer in self.layers])
            for k in range(self.n_models)
        ]

    # -- what users call -----------------------------------------------------

    def predict(self, X):
        """Every member's outputs for one batch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_in)

        Returns
        -------
        ndarray of shape (n_models, n_samples, n_out)
            ``[k]`` is ``self.networks()[k].predict(X)``.
        """
        X = check_features(X, self.n_in, self.dtype)
        n = X.shape[0]
        out = np.empty((self.n_models, n, self.n_out), self.dtype)
        ws = _Workspace(self.n_models, self.sizes, _block_rows(self.n_models, n), self.dtype)
        for start in range(0, n, ws.rows):
            Xb = X[start:start + ws.rows]
            A = _forward(self._engine, Xb, ws.head(Xb.shape[0]))
            out[:, start:start + ws.rows] = A.transpose(2, 0, 1)
        return out

    def loss(self, X, y):
        """Every member's MSE on one batch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_in)
        y : array-like of shape (n_samples, n_out), or (n_samples,) if n_out == 1

        Returns
        -------
        ndarray of shape (n_models,), float64
            ``[k]`` is ``self.networks()[k].loss(X, y)``.
        """
        X, Y = self._check_batch(X, y)
        ws = _Workspace(self.n_models, self.sizes, _block_rows(self.n_models, X.shape[0]), self.dtype)
        return _losses(self._engine, X, Y, ws)

    def gradients(self, X, y):
        """Gradient of every member's :meth:`loss` with respect to its parameters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_in)
        y : array-like of shape (n_samples, n_out), or (n_samples,) if n_out == 1

        Returns
        -------
        list of (ndarray of shape (n_models, n_out, n_in), ndarray of shape (n_models, n_out))
            ``(dW, db)`` per layer; ``dW[k]`` and ``db[k]`` are what
            ``self.networks()[k].gradients(X, y)`` returns.
        """
        X, Y = self._check_batch(X, y)
        K, n = self.n_models, X.shape[0]
        flat = np.zeros_like(self._flat)
        block_flat = np.empty_like(self._flat)
        block_grads = _views(block_flat, self.sizes)
        ws = _Workspace(K, self.sizes, _block_rows(K, n), self.dtype)
        for start in range(0, n, ws.rows):
            Xb, Yb = X[start:start + ws.rows], Y[start:start + ws.rows]
            w = ws.head(Xb.shape[0])
            _forward(self._engine, Xb, w)
            _backward(self._engine, Xb, Yb, Y.size, w, block_grads)
            flat += block_flat
        return [(dWT.transpose(2, 1, 0), db.T) for dWT, db in _views(flat, self.sizes)]

    def fit(self, X, y, *, epochs, learning_rate, batch_size, shuffle=False, seed=None,
            callback=None):
        """Train every member with mini-batch SGD on the same data order.

        Each member takes exactly the steps :meth:`Network.fit` would take
        with the same arguments: the same consecutive batches (the last one
        holds the remainder) and, with ``shuffle``, the same per-epoch order
        ``np.random.default_rng(seed).permutation(n_samples)``, shared by all
        members.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_in)
        y : array-like of shape (n_samples, n_out), or (n_samples,) if n_out == 1
        epochs : int >= 0
        learning_rate : float > 0, or array-like of shape (n_models,)
            One rate for every member, or one per member.
        batch_size : int >= 1
            ``batch_size=1`` with ``shuffle=False`` is the document's loop.
        shuffle : bool
            Draw a new sample order every epoch (the document does not).
        seed : None, int or numpy.random.Generator
            Seeds the shuffling.
        callback : callable ``(epoch, losses) -> bool``, optional
            Called after every epoch with the losses of shape (n_models,)
            (NaN for failed members); returning True stops training.

        Returns
        -------
        ndarray of shape (n_models, epochs_run), float64
            Each member's MSE over all of ``X`` after each epoch; NaN from
            the epoch a member failed in (and for members that had failed
            before this call). See :attr:`failed` and :attr:`failed_at`.
        """
        X, Y = self._check_batch(X, y)
        epochs = check_int(epochs, "epochs", 0)
        rates = _check_learning_rates(learning_rate, self.n_models)
        batch_size = check_int(batch_size, "batch_size", 1)
        callback = check_callback(callback)

        n = X.shape[0]
        batch_size = min(batch_size, n)
        rng = np.random.default_rng(seed) if shuffle else None
        starts = range(0, n, batch_size)
        batches = None if shuffle else _split(X, Y, starts, batch_size)
        history = np.full((self.n_models, epochs), np.nan)
        active = np.flatnonzero(~self.failed)
        run = _Run(self._flat[:, active], self.sizes, self._acts, rates[active], batch_size, n)
        try:
            # Overflow is detected explicitly, member by member, below.
            with np.errstate(all="ignore"):
                for epoch in range(epochs):
                    if not active.size:
                        break
                    if shuffle:
                        order = rng.permutation(n)
                        batches = _split(X[order], Y[order], starts, batch_size)
                    before = run.flat.copy()
                    for Xb, Yb in batches:
                        run.step(Xb, Yb)
                    losses = run.losses(X, Y)
                    bad = ~(np.isfinite(losses) & np.isfinite(run.flat).all(axis=0))
                    if bad.any():
                        self._freeze(active[bad], *run.replay(bad, before, batches), epoch)
                        run, active, losses = run.select(~bad), active[~bad], losses[~bad]
                    history[active, epoch] = losses
                    if callback is not None and callback(epoch, history[:, epoch].copy()):
                        history = history[:, :epoch + 1]
                        break
        finally:
            self._flat[:, active] = run.flat
        return history

    # -- internals on validated arrays ---------------------------------------

    def _check_batch(self, X, y):
        return check_batch(X, y, self.n_in, self.n_out, self.dtype)

    def _freeze(self, members, flat, broke, epoch):
        self._flat[:, members] = flat
        self.failed[members] = True
        for k, i in zip(members, broke):
            self.failed_at[int(k)] = (epoch, None if i < 0 else int(i))


class _Run:
    """The members still training in one :meth:`Ensemble.fit`, and their buffers.

    ``flat`` (n_params, n_active) is a compact copy of the active members'
    parameters, so a member that fails is simply dropped and costs nothing
    afterwards.
    """

    def __init__(self, flat, sizes, acts, rates, batch_size, n):
        self.flat = np.ascontiguousarray(flat)
        self.sizes, self.acts, self.rates = sizes, acts, rates
        self.batch_size, self.n = batch_size, n
        K, dtype = self.flat.shape[1], self.flat.dtype
        self.engine = _engine(self.flat, sizes, acts)
        self.grad = np.empty_like(self.flat)
        self.grads = _views(self.grad, sizes)
        # In the member's dtype, so a float32 member steps in float32 as
        # Network.fit does.
        self.step_size = rates.astype(dtype)
        self.ws = _Workspace(K, sizes, batch_size, dtype)
        self.eval_ws = _Workspace(K, sizes, _block_rows(K, n), dtype)

    def step(self, Xb, Yb):
        ws = self.ws.head(Xb.shape[0])
        _forward(self.engine, Xb, ws)
        _backward(self.engine, Xb, Yb, Yb.size, ws, self.grads)
        np.multiply(self.grad, self.step_size, out=self.grad)
        np.subtract(self.flat, self.grad, out=self.flat)

    def losses(self, X, Y):
        return _losses(self.engine, X, Y, self.eval_ws)

    def select(self, keep):
        """The run restricted to the members where ``keep`` is True."""
        return _Run(self.flat[:, keep], self.sizes, self.acts, self.rates[keep],
                    self.batch_size, self.n)

    def replay(self, bad, before, batches):
        """Find where the ``bad`` members broke in this epoch.

        Finiteness is checked once per epoch to keep the loop lean; the
        members that broke are replayed from the epoch's start, which is
        deterministic, checking after every batch (as :func:`matnn.training.fit`
        does for one network).

        Returns
        -------
        flat : ndarray of shape (n_params, n_bad)
            Each member's last finite parameters: those before the batch
            that broke it, or after the epoch when only its loss overflowed.
        broke : ndarray of int, shape (n_bad,)
            That batch, or -1 for a loss overflow.
        """
        sub = _Run(before[:, bad], self.sizes, self.acts, self.rates[bad], self.batch_size, self.n)
        last = sub.flat.copy()
        broke = np.full(last.shape[1], -1)
        for i, (Xb, Yb) in enumerate(batches):
            sub.step(Xb, Yb)
            broke[~np.isfinite(sub.flat).all(axis=0) & (broke < 0)] = i
            ok = broke < 0
            last[:, ok] = sub.flat[:, ok]
        return last, broke


class _Workspace:
    """Buffers for one stacked pass of ``n_models`` members over ``rows`` samples.

    ``A``, ``D`` and ``T`` are the activations, deltas and ``f'(A)`` scratch
    of :class:`matnn.backprop.Workspace`, each with the member axis last:
    ``A[l]`` has shape (rows, sizes[l + 1], n_models). ``S[l]``, shaped like
    layer ``l``'s stored weights (n_in, n_out, n_models), is scratch for
    summing ``dW`` over rows.
    """

    def __init__(self, n_models, sizes, rows, dtype):
        self.rows = rows
        self._args = (n_models, sizes, dtype)
        shapes = [(rows, n, n_models) for n in sizes[1:]]
        self.A = [np.empty(s, dtype) for s in shapes]
        self.D = [np.empty(s, dtype) for s in shapes]
        self.T = [np.empty(s, dtype) for s in shapes]
        self.S = [np.empty((i, o, n_models), dtype) for i, o in zip(sizes[:-1], sizes[1:])]
        self._heads = {}

    def head(self, rows):
        """A workspace for ``rows`` samples: this one, or a cached other one."""
        if rows == self.rows:
            return self
        ws = self._heads.get(rows)
        if ws is None:
            n_models, sizes, dtype = self._args
            ws = self._heads[rows] = _Workspace(n_models, sizes, rows, dtype)
        return ws


def _views(flat, sizes):
    """``[(WT, b), ...]`` views into ``flat`` of shape (n_params, n_models).

    Each layer stores its weights *transposed*, ``WT`` of shape
    (n_in, n_out, n_models) with ``WT[j, i, k]`` = member ``k``'s
    ``W[i, j]``, followed by ``b`` of shape (n_out, n_models). This way the
    first layer, whose input ``X`` every member shares, is one 2-D product
    ``X @ WT.reshape(n_in, n_out * n_models)`` for all members at once.
    """
    K, views, start = flat.shape[1], [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        stop = start + n_in * n_out
        views.append((flat[start:stop].reshape(n_in, n_out, K), flat[stop:stop + n_out]))
        start = stop + n_out
    return views


def _engine(flat, sizes, acts):
    """``(WT, b, Activation)`` per layer, the form the stacked passes take."""
    return [(WT, b, act) for (WT, b), act in zip(_views(flat, sizes), acts)]


def _members_first(a):
    """View of a (rows, n, n_models) array as (n_models, rows, n)."""
    return a.transpose(2, 0, 1)


def _sum_of_products(pairs, out, scratch):
    """``out = sum of a * b`` over ``pairs``, added left to right."""
    pairs = iter(pairs)
    a, b = next(pairs)
    np.multiply(a, b, out=out)
    for a, b in pairs:
        np.multiply(a, b, out=scratch)
        np.add(out, scratch, out=out)
    return out


def _forward(engine, X, ws):
    """Stacked forward pass of ``X`` (rows, n_in) into ``ws.A``.

    Returns ``ws.A[-1]``, of shape (rows, n_out, n_models).
    """
    rows = X.shape[0]
    for l, ((WT, b, act), A, T) in enumerate(zip(engine, ws.A, ws.T)):
        n_in, n_out, K = WT.shape
        if l == 0:
            np.matmul(X, WT.reshape(n_in, n_out * K), out=A.reshape(rows, n_out * K))
        elif n_in <= UNROLL_MAX:
            prev = ws.A[l - 1]
            _sum_of_products(((prev[:, j, None, :], WT[j]) for j in range(n_in)), A, T)
        else:
            np.matmul(_members_first(ws.A[l - 1]), WT.transpose(2, 0, 1),
                      out=_members_first(A))
        np.add(A, b, out=A)
        act.function(A, A)
    return ws.A[-1]


def _backward(engine, X, Y, n_elements, ws, grads):
    """Stacked backward pass from ``ws.A``, as :func:`matnn.backprop.backward`.

    ``X`` (rows, n_in) and ``Y`` (rows, n_out) are shared by every member;
    ``grads`` are ``(dWT, db)`` views as from :func:`_views`, overwritten.
    """
    last = len(engine) - 1
    mse_gradient(Y[:, :, None], ws.A[last], n_elements, ws.D[last])
    rows = X.shape[0]
    for l in range(last, -1, -1):
        WT, _, act = engine[l]
        n_in, n_out, K = WT.shape
        D = ws.D[l]
        act.derivative(ws.A[l], ws.T[l])
        np.multiply(D, ws.T[l], out=D)
        dWT, db = grads[l]
        # dWT[j, i] = sum over rows of prev[:, j] * D[:, i]
        prev = X[:, :, None] if l == 0 else ws.A[l - 1]
        if rows <= UNROLL_MAX:
            _sum_of_products(((prev[r, :, None, :], D[r, None]) for r in range(rows)),
                             dWT, ws.S[l])
        elif l == 0:
            np.matmul(X.T, D.reshape(rows, n_out * K), out=dWT.reshape(n_in, n_out * K))
        else:
            np.matmul(prev.transpose(2, 1, 0), _members_first(D), out=dWT.transpose(2, 0, 1))
        np.sum(D, axis=0, out=db)
        if l:
            # T[l - 1] is free: f'(A[l - 1]) is written into it only afterwards.
            if n_out <= UNROLL_MAX:
                _sum_of_products(((D[:, i, None, :], WT[:, i]) for i in range(n_out)),
                                 ws.D[l - 1], ws.T[l - 1])
            else:
                np.matmul(_members_first(D), WT.transpose(2, 1, 0),
                          out=_members_first(ws.D[l - 1]))


def _losses(engine, X, Y, ws):
    """Each member's MSE over all of ``X``, in blocks of ``ws.rows``.

    Returns
    -------
    ndarray of shape (n_models,), float64
    """
    total = np.zeros(ws.A[0].shape[2])
    for start in range(0, X.shape[0], ws.rows):
        Xb = X[start:start + ws.rows]
        w = ws.head(Xb.shape[0])
        out = _forward(engine, Xb, w)
        err = w.D[-1]
        np.subtract(out, Y[start:start + ws.rows, :, None], out=err)
        np.multiply(err, err, out=err)
        total += err.sum(axis=(0, 1))
    return total / Y.size


def _block_rows(n_models, n):
    """Rows per block, so a stacked block holds about as much as one network's block."""
    return max(1, min(n, BLOCK_ROWS // max(n_models, 1)))


def _split(X, Y, starts, batch_size):
    return [(X[s:s + batch_size], Y[s:s + batch_size]) for s in starts]


def _check_learning_rates(value, n_models):
    """One learning rate per member, as a float64 array of shape (n_models,)."""
    if np.ndim(value) == 0:
        return np.full(n_models, check_positive(value, "learning_rate"))
    rates = as_array(value, "learning_rate", np.float64)
    if rates.shape != (n_models,):
        raise ValueError(
            f"learning_rate must be one number or one per member, shape ({n_models},); "
            f"got shape {rates.shape}"
        )
    bad = np.flatnonzero(rates <= 0)
    if bad.size:
        k = int(bad[0])
        raise ValueError(f"learning_rate[{k}] must be > 0, got {rates[k]}")
    return rates
