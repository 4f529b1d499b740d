"""Many networks of one architecture, trained at once.

The lesson trains with one sample per step, which leaves nothing to
vectorise over samples. Questions about many *runs* ("how often does a
random start work?", "which learning rate is best?") are different: the runs
are independent, so K networks of one architecture can be stacked and
stepped together. Layer ``l`` of member ``k`` is ``W[k]`` of shape
(n_out, n_in) and ``b[k]`` of shape (n_out,).

An ensemble runs on the same passes, activations, losses and training loop
as :class:`~matnn.Network`; only the products differ
(:class:`~matnn.backprop.StackedProducts`: every array gains a trailing
member axis). So a member of a trained ensemble equals that network trained
alone, to rounding (a product may be summed in another order than BLAS sums
it).

Members never mix: a member whose parameters or loss overflow is frozen at
its last finite parameters and reported, and the others train on.
"""

from __future__ import annotations

import copy
from typing import NamedTuple

import numpy as np

from .backprop import (
    Engine,
    StackedProducts,
    block_rows,
    backward,
    forward,
    gradient,
    loss_total,
    n_params,
    outputs,
)
from .layers import Dense
from .network import Network, _labels_of, _true_labels
from .threads import blas_on_one_thread, run_tasks
from .validation import check_features, check_int, check_seed

__all__ = ["Ensemble", "StackedLayer", "member_groups"]

#: An ensemble is split into groups of at least this many consecutive
#: members ...
GROUP_MEMBERS = 64
#: ... and at most this many groups, which the threads share ...
MAX_GROUPS = 8
#: ... when a call's work, members x rows (a fit's: members x training
#: rows), is at least this much. None of these depends on the number of
#: threads; benchmarks/case_threads.py measures them.
GROUP_WORK = 4096


def splits(members, rows):
    """Whether work on ``members`` members and ``rows`` rows runs in groups of members."""
    return members >= 2 * GROUP_MEMBERS and members * rows >= GROUP_WORK


def member_groups(members):
    """``[(start, stop), ...]``: the groups of ``members`` consecutive members.

    ``min(MAX_GROUPS, members // GROUP_MEMBERS)`` groups (at least one), as
    even as can be. They depend on the number of members only, never on the
    number of threads: a member's arithmetic does depend on its group,
    because BLAS rounds a column of a matrix product differently depending
    on how many columns the product has (its kernels treat the last,
    narrower tiles differently), and the first layer's product has one
    column per member and unit. With fixed groups, one thread or many
    compute the same groups, so the same bits.
    """
    if members == 0:
        return []
    n = max(1, min(MAX_GROUPS, members // GROUP_MEMBERS))
    bounds = [members * g // n for g in range(n + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


class StackedLayer(NamedTuple):
    """One layer of every member.

    Attributes
    ----------
    W : ndarray of shape (n_models, n_out, n_in)
        ``W[k]`` is member ``k``'s weight matrix; a view into the
        ensemble's parameters, so writing into it changes the member.
    b : ndarray of shape (n_models, n_out)
        ``b[k]`` is member ``k``'s bias vector; a view as well.
    activation : Activation
    """

    W: np.ndarray
    b: np.ndarray
    activation: object


class Ensemble:
    """K networks of identical architecture, stored and trained as one.

    Parameters
    ----------
    networks : sequence of Network
        At least one; all with the same ``sizes``, activations, loss and
        dtype. Their parameters are copied, so the networks you pass stay as
        they are.

    Attributes
    ----------
    layers : tuple of StackedLayer
        Per layer, ``W`` of shape (n_models, n_out, n_in) and ``b`` of shape
        (n_models, n_out): views into the ensemble's parameters (write into
        them, do not rebind them). ``layers[0].W[k]`` is
        ``networks()[k].layers[0].W``.
    sizes : tuple of int
    activations : tuple of str
    loss_fn : Loss
        The members' loss.
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
        for k, net in enumerate(networks):
            overrides = [m for m in ("loss", "gradients")
                         if getattr(type(net), m) is not getattr(Network, m)]
            if overrides:
                # The stacked passes would train the members without them.
                raise TypeError(
                    f"networks[{k}] is a {type(net).__name__} that overrides "
                    f"{' and '.join(overrides)}; an Ensemble trains with matnn's own passes, "
                    "so fit such a network on its own"
                )
        first = networks[0]
        for k, net in enumerate(networks[1:], start=1):
            for what, mine, theirs, shown in (
                ("sizes", net.sizes, first.sizes, None),
                ("activations", net._engine.activations, first._engine.activations,
                 (net.activations, first.activations)),
                ("loss", net.loss_fn, first.loss_fn, (net.loss_fn.name, first.loss_fn.name)),
                ("dtype", net.dtype, first.dtype, None),
            ):
                if mine != theirs:
                    mine, theirs = shown or (mine, theirs)
                    raise ValueError(
                        f"networks[{k}] has {what} {mine} but networks[0] has {theirs}; every "
                        "member of an Ensemble needs the same sizes, activations, loss and dtype"
                    )
        self.sizes = first.sizes
        self.dtype = first.dtype
        self.loss_fn = first.loss_fn
        self._activations = first._engine.activations
        self.failed = np.zeros(len(networks), bool)
        self.failed_at = {}
        self._flat = np.empty((n_params(self.sizes), len(networks)), self.dtype)
        self._engine = self._engine_for(self._flat)
        self.layers = tuple(
            StackedLayer(WT.transpose(2, 1, 0), b.T, act) for WT, b, act in self._engine.layers
        )
        for l, layer in enumerate(self.layers):
            layer.W[...] = [net.layers[l].W for net in networks]
            layer.b[...] = [net.layers[l].b for net in networks]

    def _engine_for(self, flat):
        return Engine(flat, self.sizes, self._activations, self.loss_fn,
                      StackedProducts(flat.shape[1]))

    # Copies and pickles rebuild the views into the copied buffer.
    def __getstate__(self):
        state = dict(vars(self))
        del state["layers"], state["_engine"]
        return state

    def __setstate__(self, state):
        vars(self).update(state)
        self._engine = self._engine_for(self._flat)
        self.layers = tuple(
            StackedLayer(WT.transpose(2, 1, 0), b.T, act) for WT, b, act in self._engine.layers
        )

    @classmethod
    def from_sizes(cls, sizes, n_models, activation="sigmoid", seed=None, dtype=np.float64,
                   loss="mse"):
        """``n_models`` randomly initialised members.

        Member ``k`` is ``Network.from_sizes(sizes, activation, seed=rng_k,
        dtype=dtype, loss=loss)`` with ``rng_k = np.random.default_rng(children[k])``
        and ``children = np.random.SeedSequence(seed).spawn(n_models)`` (for a
        Generator seed, ``seed.spawn(n_models)``): the members get
        independent streams, and member ``k`` is the same network whatever
        ``n_models`` is.

        Parameters
        ----------
        sizes : sequence of int
            ``(n_in, n_hidden..., n_out)``.
        n_models : int >= 1
        activation : str, Activation, or a sequence of them
        seed : None, int >= 0, numpy.random.SeedSequence or numpy.random.Generator
        dtype : float32 or float64
        loss : str or Loss
        """
        n_models = check_int(n_models, "n_models", 1)
        seed = check_seed(seed)
        if isinstance(seed, np.random.Generator):
            children = seed.spawn(n_models)
        else:
            if isinstance(seed, np.random.BitGenerator):
                seed = seed.seed_seq
            children = [np.random.default_rng(c)
                        for c in np.random.SeedSequence(seed).spawn(n_models)]
        return cls([
            Network.from_sizes(sizes, activation, seed=child, dtype=dtype, loss=loss)
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

    @property
    def activations(self) -> tuple:
        """The activation name of every layer."""
        return tuple(act.name for act in self._activations)

    def __repr__(self):
        acts = self.activations
        act = acts[0] if len(set(acts)) == 1 else list(acts)
        return (f"Ensemble(n_models={self.n_models}, sizes={self.sizes}, "
                f"activation={act!r}, dtype={self.dtype}, failed={int(self.failed.sum())})")

    def network(self, k):
        """Member ``k`` as an independent :class:`Network` (a copy)."""
        k = check_int(k, "k", 0)
        if k >= self.n_models:
            raise IndexError(f"member {k} does not exist; this ensemble has {self.n_models}")
        return Network([Dense(layer.W[k], layer.b[k], layer.activation) for layer in self.layers],
                       loss=self.loss_fn)

    def networks(self):
        """Every member as an independent :class:`Network` (a copy).

        Returns
        -------
        list of Network, one per member
        """
        return [self.network(k) for k in range(self.n_models)]

    # -- what users call -----------------------------------------------------

    def predict(self, X):
        """Every member's outputs for one batch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_in)

        Returns
        -------
        ndarray of shape (n_models, n_samples, n_out)
            ``[k]`` is ``self.network(k).predict(X)``.
        """
        X = check_features(X, self.n_in, self.dtype)
        out = np.empty((self.n_models, X.shape[0], self.n_out), self.dtype)

        def members(engine, ws, a, b):
            outputs(engine, X, ws, out[a:b].transpose(1, 2, 0))

        self._in_groups(X.shape[0], members)
        return out

    def loss(self, X, y):
        """Every member's loss on one batch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_in)
        y : array-like, as :meth:`Network.loss` takes it

        Returns
        -------
        ndarray of shape (n_models,), float64
            ``[k]`` is ``self.network(k).loss(X, y)``.
        """
        X, Y = self._prepare(X, y)
        totals = np.empty(self.n_models, self.dtype)

        def members(engine, ws, a, b):
            totals[a:b] = loss_total(engine, X, Y, ws)

        self._in_groups(X.shape[0], members)
        return totals.astype(np.float64) / self.loss_fn.count(Y)

    def gradients(self, X, y):
        """Gradient of every member's :meth:`loss` with respect to its parameters.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_in)
        y : array-like, as :meth:`Network.loss` takes it

        Returns
        -------
        list of (ndarray of shape (n_models, n_out, n_in), ndarray of shape (n_models, n_out))
            ``(dW, db)`` per layer; ``dW[k]`` and ``db[k]`` are what
            ``self.network(k).gradients(X, y)`` returns.
        """
        X, Y = self._prepare(X, y)
        flat, grads = self._engine.products.flat(self.sizes, self.dtype)

        def members(engine, ws, a, b):
            if b - a == self.n_models:
                gradient(engine, X, Y, ws, flat, grads)
            else:
                group_flat, group_grads = engine.products.flat(self.sizes, self.dtype)
                flat[:, a:b] = gradient(engine, X, Y, ws, group_flat, group_grads)

        self._in_groups(X.shape[0], members)
        return [(dWT.transpose(2, 1, 0), db.T) for dWT, db in grads]

    def classify(self, X):
        """Every member's class labels.

        Returns
        -------
        ndarray of int, shape (n_models, n_samples)
        """
        return _labels_of(self.predict(X))

    def accuracy(self, X, y):
        """Every member's accuracy, as :meth:`Network.accuracy`.

        Returns
        -------
        ndarray of shape (n_models,)
        """
        predicted = self.classify(X)
        truth = _true_labels(y, predicted.shape[1], self.n_out)
        return np.mean(predicted == truth, axis=1)

    def fit(self, X, y, *, epochs=None, learning_rate=None, batch_size=None, optimizer=None,
            shuffle=True, seed=None, validation_data=None, patience=None, min_delta=0.0,
            restore_best=False, callback=None):
        """Train every member on the same data order, as :meth:`Network.fit` would.

        Each member takes exactly the steps :meth:`Network.fit` takes with
        the same arguments: the same consecutive batches and, with
        ``shuffle``, the same per-epoch order, shared by all members.

        Parameters
        ----------
        X, y, epochs, batch_size, shuffle, seed :
            As :meth:`Network.fit`.
        learning_rate : float > 0, or array-like of shape (n_models,)
            One rate for every member, or one per member (plain SGD).
        optimizer : Optimizer, optional
            Its hyperparameters may be one value or one per member.
        validation_data, patience, min_delta, restore_best :
            As :meth:`Network.fit`, per member; with ``patience``, training
            stops when no member has improved for that many epochs.
        callback : callable ``(epoch, losses) -> bool``, optional
            Called after every epoch with the losses of shape (n_models,)
            (NaN for failed members); returning True stops training.

        Returns
        -------
        History
            ``loss`` (and ``val_loss``) of shape (n_models, epochs_run): each
            member's loss over all of ``X`` after each epoch; NaN from the
            epoch a member failed in (and for members that had failed before
            this call). See :attr:`failed` and :attr:`failed_at`.
        """
        from .history import History
        from .optimizers import LBFGS
        from .training import _check_optimizer, _Loop

        X, Y = self._prepare(X, y)
        optimizer = _check_optimizer(learning_rate, optimizer, self.dtype, self.n_models)
        if isinstance(optimizer, LBFGS):
            raise ValueError("L-BFGS trains one network at a time; fit each member with it")
        # Checked against every member's parameters before the run selects
        # the members still training from it.
        optimizer.check(self._flat)
        loop = _Loop.check(self._prepare, X.shape[0], epochs=epochs, batch_size=batch_size,
                           shuffle=shuffle, seed=seed, validation_data=validation_data,
                           patience=patience, min_delta=min_delta, restore_best=restore_best,
                           log_every=None, callback=callback)
        if not splits(int((~self.failed).sum()), X.shape[0]):
            return loop.run(_EnsembleRun(self, optimizer, loop.batch_size, X.shape[0]),
                            X, Y, History)
        # One BLAS limit for the whole run, not one per epoch.
        with blas_on_one_thread():
            return loop.run(_GroupedRun(self, optimizer, loop.batch_size, X.shape[0]),
                            X, Y, History)

    # -- internals on validated arrays ---------------------------------------

    def _in_groups(self, n, task):
        """``task(engine, ws, a, b)`` for members ``a:b``: all at once, or per group on the threads.

        ``engine`` computes members ``a:b`` (the ensemble's own engine when
        they are all of them), ``ws`` is its workspace for blocks of an
        ``n``-row batch, sized by the whole ensemble so a member's blocks do
        not depend on its group.
        """
        K = self.n_models
        rows = block_rows(n, self.sizes, K)
        if not splits(K, n):
            task(self._engine, self._engine.workspace(rows, self.dtype), 0, K)
            return
        groups = member_groups(K)

        def run(_, g):
            a, b = groups[g]
            engine = self._engine_for(np.ascontiguousarray(self._flat[:, a:b]))
            task(engine, engine.workspace(rows, self.dtype), a, b)

        run_tasks(len(groups), run)

    def _prepare(self, X, y, name="X"):
        """``X``, and targets with a member axis: (n_samples, n_out, 1)."""
        X = check_features(X, self.n_in, self.dtype, name=name)
        if X.shape[0] == 0:
            raise ValueError(
                f"{name} has no samples (shape {X.shape}); the loss of an empty batch is undefined"
            )
        Y = self.loss_fn.targets(y, X.shape[0], self.n_out, self.dtype)
        return X, Y[:, :, None]


class _EnsembleRun:
    """The members still training in one :meth:`Ensemble.fit`, for the shared loop.

    ``flat`` (n_params, n_active) is a compact copy of the active members'
    parameters, so a member that fails is simply dropped and costs nothing
    afterwards.
    """

    def __init__(self, ens, optimizer, batch_size, n, members=None):
        self.ens, self.batch_size, self.n = ens, batch_size, n
        self.members = ens.n_models
        train = ~ens.failed
        if members is not None:
            train &= np.isin(np.arange(ens.n_models), members)
        self.active = np.flatnonzero(train)
        # The run steps a selection of the user's optimizer, compacted like
        # the parameters; finish() merges its state back.
        self.user_optimizer = optimizer
        self._build(np.ascontiguousarray(ens._flat[:, self.active]), optimizer.select(train))
        self.optimizer.check(self.flat)

    def _build(self, flat, optimizer):
        self.flat, self.optimizer = flat, optimizer
        self.engine = self.ens._engine_for(flat)
        dtype = flat.dtype
        self.grad, self.grads = self.engine.products.flat(self.ens.sizes, dtype)
        self.ws = self.engine.workspace(self.batch_size, dtype)
        # Blocks sized by the whole ensemble, not by the members training
        # here, so that a member's loss is summed the same way whichever
        # group (see _GroupedRun) it is in.
        self.eval_ws = self.engine.workspace(
            block_rows(self.n, self.ens.sizes, self.members), dtype)

    @property
    def training(self):
        return self.flat.shape[1] > 0

    def epoch(self, batches, X, Y, truth):
        """One pass over ``batches``; each member's loss over ``X`` after it, and which diverged."""
        self.before = self.flat.copy()
        self.state = self.optimizer.state_dict()
        for Xb, Yb in batches:
            self.step(Xb, Yb)
        loss, acc = self.evaluate(X, Y, truth)
        return loss, acc, ~(np.isfinite(loss) & np.isfinite(self.flat).all(axis=0))

    def step(self, Xb, Yb):
        w = self.ws.head(Xb.shape[0], self.engine)
        forward(self.engine, Xb, w)
        backward(self.engine, Xb, Yb, self.ens.loss_fn.count(Yb), w, self.grads)
        self.optimizer.step(self.flat, self.grad)

    @property
    def classifies(self):
        return self.ens.loss_fn.classifies

    def stuck(self, X, Y):
        from .training import _stuck

        return _stuck(self.engine, X, Y, self.eval_ws)

    def truth(self, Y):
        return self.ens.loss_fn.truth(Y)

    def evaluate(self, X, Y, truth):
        """Each active member's loss over ``X`` and, given ``truth`` (:meth:`truth` of ``Y``), accuracy."""
        count = self.ens.loss_fn.count(Y)
        if truth is None:
            return np.asarray(loss_total(self.engine, X, Y, self.eval_ws), np.float64) / count, None
        total, correct = loss_total(self.engine, X, Y, self.eval_ws, truth)
        return np.asarray(total, np.float64) / count, correct / count

    def full(self, values):
        """Per-member ``values`` of the active members, NaN for the failed ones."""
        out = np.full(self.members, np.nan)
        out[self.active] = values
        return out

    def params_full(self):
        params = self.ens._flat.copy()
        params[:, self.active] = self.flat
        return params

    def load_full(self, params, where):
        np.copyto(self.flat, params[:, self.active], where=where[self.active])

    def diverged(self, bad, batches, epoch, history):
        """Freeze the ``bad`` members at their last finite parameters; train on the rest.

        The bad members are replayed from the epoch's start (deterministic),
        checking after every batch, as :func:`matnn.training.fit` does for
        one network, to find the batch that broke each.

        Returns
        -------
        ndarray of bool, shape (n_active,)
            The members that train on.
        """
        replay = copy.deepcopy(self.optimizer)
        replay.load_state_dict(self.state)
        sub = _Replay(self, self.before[:, bad], replay.select(bad))
        last = sub.flat.copy()
        broke = np.full(last.shape[1], -1)
        for i, (Xb, Yb) in enumerate(batches):
            sub.step(Xb, Yb)
            broke[~np.isfinite(sub.flat).all(axis=0) & (broke < 0)] = i
            ok = broke < 0
            last[:, ok] = sub.flat[:, ok]
        members = self.active[bad]
        self.ens._flat[:, members] = last
        self.ens.failed[members] = True
        for k, i in zip(members, broke):
            self.ens.failed_at[int(k)] = (epoch, None if i < 0 else int(i))
        keep = ~bad
        self.ens._flat[:, self.active[keep]] = self.flat[:, keep]
        self.active = self.active[keep]
        self._build(np.ascontiguousarray(self.flat[:, keep]), self.optimizer.select(keep))
        return keep

    def finish(self):
        self.ens._flat[:, self.active] = self.flat
        keep = np.zeros(self.members, bool)
        keep[self.active] = True
        self.user_optimizer.merge(keep, self.optimizer)


class _Replay(_EnsembleRun):
    """A few members stepped again from the start of an epoch."""

    def __init__(self, run, flat, optimizer):
        self.ens, self.batch_size, self.n = run.ens, run.batch_size, run.n
        self.members = run.members
        self._build(np.ascontiguousarray(flat), optimizer)


class _GroupedRun:
    """The members of one :meth:`Ensemble.fit` in groups that the threads share.

    Each group is an :class:`_EnsembleRun` over consecutive members with its
    own parameters, optimizer selection and workspaces. Members never
    interact, except through the data order all of them share, so an epoch
    runs every group's batches and loss in parallel; the loop then sees the
    groups' results side by side, in member order. The groups depend only
    on the members (see :func:`member_groups`), so the number of threads
    changes nothing.
    """

    def __init__(self, ens, optimizer, batch_size, n):
        self.ens, self.batch_size, self.n = ens, batch_size, n
        self.members = ens.n_models
        self.user_optimizer = optimizer
        self.classifies = ens.loss_fn.classifies
        self._group()

    def _group(self):
        active = np.flatnonzero(~self.ens.failed)
        self.groups = [_EnsembleRun(self.ens, self.user_optimizer, self.batch_size, self.n,
                                    members=active[a:b])
                       for a, b in member_groups(active.size)]
        self.active = active

    def _each(self, task):
        """``task(group)`` for every group, on the threads; the results in group order."""
        results = [None] * len(self.groups)

        def run(_, g):
            results[g] = task(self.groups[g])

        run_tasks(len(self.groups), run)
        return results

    @property
    def training(self):
        return self.active.size > 0

    def epoch(self, batches, X, Y, truth):
        return _side_by_side(self._each(lambda g: g.epoch(batches, X, Y, truth)))

    def evaluate(self, X, Y, truth):
        return _side_by_side(self._each(lambda g: g.evaluate(X, Y, truth)))

    truth = _EnsembleRun.truth

    def stuck(self, X, Y):
        return np.concatenate(self._each(lambda g: g.stuck(X, Y)))

    full = _EnsembleRun.full

    def params_full(self):
        params = self.ens._flat.copy()
        for g in self.groups:
            params[:, g.active] = g.flat
        return params

    def load_full(self, params, where):
        for g in self.groups:
            g.load_full(params, where)

    def diverged(self, bad, batches, epoch, history):
        """Each group freezes its own bad members; the rest are regrouped to stay balanced.

        Returns
        -------
        ndarray of bool, shape (n_active,)
            The members that train on.
        """
        kept, start = [], 0
        for g in self.groups:
            stop = start + g.active.size
            if bad[start:stop].any():
                kept.append(g.diverged(bad[start:stop], batches, epoch, history))
            else:
                kept.append(np.ones(stop - start, bool))
            start = stop
        self.finish()
        self._group()
        return np.concatenate(kept)

    def finish(self):
        for g in self.groups:
            g.finish()


def _side_by_side(results):
    """The groups' per-member results, concatenated in member order (None stays None)."""
    return tuple(None if parts[0] is None else np.concatenate(parts) for parts in zip(*results))
