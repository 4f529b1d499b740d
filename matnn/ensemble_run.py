"""An ensemble's side of training: its members' steps, losses and failures.

:func:`matnn.training.fit` runs the epochs; these runs (each a
:class:`matnn.training.Run`, made by ``Ensemble._run``) say how an
:class:`~matnn.Ensemble` trains: all members stacked in one engine
(:class:`_EnsembleRun`), or many members in groups that the threads share
(:class:`_GroupedRun`), and a member whose parameters or loss stop being
finite frozen while the others train on. :class:`~matnn.Network`'s twin is
:mod:`matnn.network_run`.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, Callable, Sequence, TypeVar

import numpy as np

from .backprop import backward, block_rows, forward, loss_total
from .model import stuck
from .threads import run_tasks
from .training import take_steps
from ._typing import FloatArray, NDArray

T = TypeVar("T")

if TYPE_CHECKING:
    from .optimizer_base import StepOptimizer

__all__ = []

class _EnsembleRun:
    """The members still training in one :meth:`Ensemble.fit`, for the shared loop.

    ``flat`` (n_params, n_active) is a compact copy of the active members'
    parameters, so a member that fails is simply dropped and costs nothing
    afterwards.
    """

    #: ``(params, output layer's (dW, db))`` at the last epoch's end, for :meth:`stuck`.
    end: tuple[FloatArray, Any] | None

    def __init__(
        self,
        ens: Any,
        optimizer: StepOptimizer,
        batch_size: int,
        n: int,
        members: NDArray[np.intp] | None = None,
    ) -> None:
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

    def _build(self, flat: FloatArray, optimizer: StepOptimizer) -> None:
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
        # The output layer's gradient at the end of the last epoch, for stuck().
        self.end, self.keep_end = None, False

    @property
    def training(self) -> bool:
        return self.flat.shape[1] > 0

    @property
    def model(self) -> Any:
        return self.ens

    def epoch(
        self,
        batches: list[tuple[FloatArray, ...]],
        X: FloatArray,
        Y: FloatArray,
        truth: Any,
        last: bool = False,
    ) -> tuple[Any, Any, Any]:
        """One pass over ``batches``; each member's loss over ``X`` after it, and which diverged."""
        self.before = self.flat.copy()
        self.state = self.optimizer.state_dict()
        take_steps(self.step, batches, self.restart)
        self.keep_end = last
        loss, acc = self.evaluate(X, Y, truth)
        return loss, acc, ~(np.isfinite(loss) & np.isfinite(self.flat).all(axis=0))

    def restart(self) -> None:
        """The members' parameters and optimizer state back to the epoch's start."""
        self.flat[...] = self.before
        self.optimizer.load_state_dict(self.state)

    def step(self, Xb: FloatArray, Yb: FloatArray) -> None:
        w = self.ws.head(Xb.shape[0], self.engine)
        forward(self.engine, Xb, w)
        backward(self.engine, Xb, Yb, self.ens.loss_fn.count(Yb), w, self.grads)
        self.optimizer.step(self.flat, self.grad)

    @property
    def classifies(self) -> bool:
        return self.ens.loss_fn.classifies

    def stuck(self, X: FloatArray, Y: FloatArray) -> Any:
        end = self.end
        at_end = end is not None and end[0].shape == self.flat.shape \
            and np.array_equal(end[0], self.flat)
        # at_end: end is set.
        return stuck(self.engine, X, Y, self.eval_ws,
                     end[1] if at_end else None)  # type: ignore[index]

    def truth(self, Y: FloatArray) -> Any:
        return self.ens.loss_fn.truth(Y)

    def evaluate(self, X: FloatArray, Y: FloatArray, truth: Any) -> tuple[Any, Any]:
        """Each active member's loss over ``X`` and, given ``truth`` (:meth:`truth` of ``Y``), accuracy.

        Asked by the last epoch (``keep_end``), the same forward pass also
        computes the output layer's gradient, which :meth:`stuck` then uses
        at these parameters.
        """
        count = self.ens.loss_fn.count(Y)
        grads = None
        if self.keep_end:
            grads = self.engine.products.flat(self.ens.sizes, self.flat.dtype)[1]
            self.end = (self.flat.copy(), grads)
        self.keep_end = False
        if truth is None:
            total = loss_total(self.engine, X, Y, self.eval_ws, None, grads)
            return np.asarray(total, np.float64) / count, None
        total, correct = loss_total(self.engine, X, Y, self.eval_ws, truth, grads)
        return np.asarray(total, np.float64) / count, correct / count

    def full(self, values: Any) -> Any:
        """Per-member ``values`` of the active members, NaN for the failed ones."""
        out = np.full(self.members, np.nan)
        out[self.active] = values
        return out

    def params_full(self) -> FloatArray:
        params = self.ens._flat.copy()
        params[:, self.active] = self.flat
        return params

    def load_full(self, params: FloatArray, where: Any) -> None:
        np.copyto(self.flat, params[:, self.active], where=where[self.active])

    def diverged(
        self, bad: Any, batches: list[tuple[FloatArray, ...]], epoch: int, history: list[Any]
    ) -> Any:
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
        # Each member's optimizer state after its last finite step, to freeze
        # with its parameters (None until the first step: no state yet).
        kept = sub.optimizer.state_dict() or None
        broke = np.full(last.shape[1], -1)
        for i, batch in enumerate(batches):
            sub.step(*batch)
            broke[~np.isfinite(sub.flat).all(axis=0) & (broke < 0)] = i
            ok = broke < 0
            last[:, ok] = sub.flat[:, ok]
            now = sub.optimizer.state_dict()
            if kept is None:
                # Zero steps and zero buffers: the state of a member that never stepped.
                kept = {name: np.zeros_like(value) for name, value in now.items()}
            for name, value in now.items():
                kept[name][..., ok] = value[..., ok]
        members = self.active[bad]
        # A diverged epoch had batches, so kept is set.
        sub.optimizer.load_state_dict(kept)  # type: ignore[arg-type]
        failed = np.zeros(self.members, bool)
        failed[members] = True
        self.user_optimizer.merge(failed, sub.optimizer)
        self.ens._flat[:, members] = last
        self.ens.failed[members] = True
        for k, i in zip(members, broke):
            self.ens.failed_at[int(k)] = (epoch, None if i < 0 else int(i))
        keep = ~bad
        self.ens._flat[:, self.active[keep]] = self.flat[:, keep]
        self.active = self.active[keep]
        self._build(np.ascontiguousarray(self.flat[:, keep]), self.optimizer.select(keep))
        return keep

    def publish(self) -> None:
        """Write the training members' parameters into the ensemble."""
        self.ens._flat[:, self.active] = self.flat

    def finish(self) -> None:
        self.publish()
        keep = np.zeros(self.members, bool)
        keep[self.active] = True
        self.user_optimizer.merge(keep, self.optimizer)
        self.user_optimizer._belongs_to(self.ens._flat)


class _Replay(_EnsembleRun):
    """A few members stepped again from the start of an epoch."""

    def __init__(self, run: _EnsembleRun, flat: FloatArray, optimizer: StepOptimizer) -> None:
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
    on the members (see :func:`matnn.ensemble.member_groups`), so the number of threads
    changes nothing.
    """

    def __init__(self, ens: Any, optimizer: StepOptimizer, batch_size: int, n: int) -> None:
        self.ens, self.batch_size, self.n = ens, batch_size, n
        self.members = ens.n_models
        self.user_optimizer = optimizer
        self.classifies = ens.loss_fn.classifies
        self._group()

    @property
    def model(self) -> Any:
        return self.ens

    def _group(self) -> None:
        active = np.flatnonzero(~self.ens.failed)
        self.groups = [_EnsembleRun(self.ens, self.user_optimizer, self.batch_size, self.n,
                                    members=active[a:b])
                       for a, b in self.ens._member_groups(active.size)]
        self.active = active

    def _each(self, task: Callable[[_EnsembleRun], T]) -> list[T]:
        """``task(group)`` for every group, on the threads; the results in group order."""
        results: list[Any] = [None] * len(self.groups)

        def run(_: object, g: int) -> None:
            results[g] = task(self.groups[g])

        run_tasks(len(self.groups), run)
        return results

    @property
    def training(self) -> bool:
        return self.active.size > 0

    def epoch(
        self,
        batches: list[tuple[FloatArray, ...]],
        X: FloatArray,
        Y: FloatArray,
        truth: Any,
        last: bool = False,
    ) -> tuple[Any, Any, Any]:
        return _side_by_side(self._each(lambda g: g.epoch(batches, X, Y, truth, last)))

    def evaluate(self, X: FloatArray, Y: FloatArray, truth: Any) -> tuple[Any, Any]:
        return _side_by_side(self._each(lambda g: g.evaluate(X, Y, truth)))

    truth = _EnsembleRun.truth

    def stuck(self, X: FloatArray, Y: FloatArray) -> Any:
        return np.concatenate(self._each(lambda g: g.stuck(X, Y)))

    full = _EnsembleRun.full

    def params_full(self) -> FloatArray:
        params = self.ens._flat.copy()
        for g in self.groups:
            params[:, g.active] = g.flat
        return params

    def load_full(self, params: FloatArray, where: Any) -> None:
        for g in self.groups:
            g.load_full(params, where)

    def diverged(
        self, bad: Any, batches: list[tuple[FloatArray, ...]], epoch: int, history: list[Any]
    ) -> Any:
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

    def publish(self) -> None:
        for g in self.groups:
            g.publish()

    def finish(self) -> None:
        for g in self.groups:
            g.finish()


def _side_by_side(results: Sequence[Any]) -> Any:
    """The groups' per-member results, concatenated in member order (None stays None)."""
    return tuple(None if parts[0] is None else np.concatenate(parts) for parts in zip(*results))
