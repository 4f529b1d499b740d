"""One network's side of training: its steps, losses and divergence.

:func:`matnn.training.fit` runs the epochs; this run (a
:class:`matnn.training.Run`, made by ``Network._run``) says how a
:class:`~matnn.Network` takes a step, evaluates itself and fails: with its
own engine, or with a subclass's own ``gradients`` and ``loss``, and by
raising :class:`~matnn.TrainingDiverged` when a parameter or the loss stops
being finite. :class:`~matnn.Ensemble`'s twin lives beside it, in
:mod:`matnn.ensemble`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable, TypeVar

import numpy as np

from .backprop import Products, backward, block_rows, forward, gradient, loss_total
from .model import stuck
from .optimizers import SGD
from .diagnostics import TrainingDiverged
from .training import take_steps
from .validation import check_gradients
from ._typing import FloatArray, NDArray

T = TypeVar("T")

if TYPE_CHECKING:
    from .optimizer_base import Optimizer, StepOptimizer

__all__ = []


class _NetworkRun:
    """One network's training, for :class:`matnn.training.Loop` and the full-batch optimizers.

    Parameters
    ----------
    net : Network
    optimizer : Optimizer
    batch_size : int or None
        The largest batch :meth:`step` takes; None for a full-batch
        optimizer, which calls :meth:`objective` instead.
    n : int
        The rows of the training data.

    Notes
    -----
    *Another kind of step.* ``step`` is the closure :meth:`make_step`
    returns, built once. A subclass that trains differently (an extra
    penalty, a record of every batch's loss, per-row weights arriving as a
    third batch array) overrides :meth:`make_step` and builds its step from
    these attributes: ``engine`` and ``ws`` (the passes of
    :mod:`matnn.backprop` and a workspace for ``batch_size`` rows; after
    ``forward`` on the one-block workspace ``ws.head(rows, engine)``, its
    ``A[-1]`` holds the batch's outputs), ``grad`` (the flat gradient,
    shape (n_params,)) and ``grads`` (its ``(dW, db)`` views per layer),
    ``params`` (the network's flat parameters) and ``update``
    (``update(params, grad)``, the optimizer's step, which may overwrite
    ``grad``).
    """

    members = None
    training = True

    #: The optimizer's state at the epoch's start, to replay it.
    state: Any
    #: ``(params, output layer's (dW, db))`` at the last epoch's end, for :meth:`stuck`.
    end: tuple[FloatArray, list[tuple[FloatArray, FloatArray]]] | None

    # net is a Network (or a subclass): its module imports this one.
    def __init__(self, net: Any, optimizer: StepOptimizer, batch_size: int | None, n: int) -> None:
        self.model, self.optimizer = net, optimizer
        self.params = net.params
        self.before, self.state = np.empty_like(self.params), None
        self.engine = net._engine
        self.eval_ws = self.engine.workspace(block_rows(n, net.sizes), net.dtype)
        # The output layer's gradient at the end of the last epoch, for stuck().
        self.end, self.keep_end = None, False
        self.classifies = net.loss_fn.classifies
        overrides = net._overrides()
        self.custom_loss, self.custom_gradients = "loss" in overrides, "gradients" in overrides
        if batch_size is not None:
            self.ws = self.engine.workspace(block_rows(batch_size, net.sizes), net.dtype)
            self.grad, self.grads = Products().flat(net.sizes, net.dtype)
            self.update = optimizer.step
            self.step = self.make_step(batch_size)

    def make_step(self, batch_size: int) -> Callable[..., object]:
        """The step ``(X_batch, Y_batch) -> None``: one batch's gradient, then one update."""
        net, engine, params = self.model, self.engine, self.params
        grad, grads, update = self.grad, self.grads, self.update
        if self.custom_gradients:
            # A subclass's own backward pass: slower, but it is what trains.
            # Checked whole before anything is written, every step.
            layers, name = net.layers, f"{type(net).__name__}.gradients()"

            def step(Xb: FloatArray, Yb: FloatArray) -> None:
                for (dW, db), (gW, gb) in zip(
                        check_gradients(net.gradients(Xb, Yb), layers, name), grads):
                    gW[...] = dW
                    gb[...] = db
                update(params, grad)
        elif batch_size <= self.ws.rows:
            ws, count = self.ws, net.loss_fn.count

            def step(Xb: FloatArray, Yb: FloatArray) -> None:
                w = ws.head(Xb.shape[0], engine)
                forward(engine, Xb, w)
                backward(engine, Xb, Yb, count(Yb), w, grads)
                update(params, grad)
        else:
            # Batches of several blocks: the blocks run on the threads.
            ws = self.ws

            def step(Xb: FloatArray, Yb: FloatArray) -> None:
                gradient(engine, Xb, Yb, ws, grad, grads)
                update(params, grad)

        return step

    def truth(self, Y: FloatArray) -> Any:
        return self.model.loss_fn.truth(Y)

    def evaluate(self, X: FloatArray, Y: FloatArray, truth: Any) -> tuple[float, Any]:
        """The loss over ``X`` and, given ``truth`` (:meth:`truth` of ``Y``), the accuracy (else None).

        Asked by the last epoch (``keep_end``), the same forward pass also
        computes the output layer's gradient, which :meth:`stuck` then uses
        at these parameters.
        """
        net, count = self.model, self.model.loss_fn.count(Y)
        grads = None
        if self.keep_end and not self.custom_loss:
            grads = Products().flat(net.sizes, net.dtype)[1]
            self.end = (self.params.copy(), grads)
        self.keep_end = False
        if self.custom_loss:
            # A subclass's own loss is what the history reports.
            loss = float(net.loss(X, Y))
            if truth is None:
                return loss, None
            _, correct = loss_total(self.engine, X, Y, self.eval_ws, truth)
            return loss, float(correct) / count
        if truth is None:
            return float(loss_total(self.engine, X, Y, self.eval_ws, None, grads)) / count, None
        total, correct = loss_total(self.engine, X, Y, self.eval_ws, truth, grads)
        return float(total) / count, float(correct) / count

    def objective(
        self, X: FloatArray, Y: FloatArray
    ) -> Callable[[NDArray[np.float64]], tuple[float, NDArray[np.float64]]]:
        """``p -> (loss, gradient)`` over all of ``X`` at parameters ``p``, for a full-batch optimizer.

        ``p`` (float64, shape (n_params,)) is copied into the network's
        parameters; the gradient comes back as a new float64 array.
        """
        net, params = self.model, self.params
        if self.custom_loss or self.custom_gradients:
            # A subclass's own passes: what it overrides is what trains.
            layers, name = net.layers, f"{type(net).__name__}.gradients()"

            def loss_and_gradient(p: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
                params[...] = p
                value = float(net.loss(X, Y))
                g = np.concatenate([np.concatenate([np.ravel(dW), np.ravel(db)])
                                    for dW, db in check_gradients(net.gradients(X, Y), layers,
                                                                  name)])
                return value, g.astype(np.float64)

            return loss_and_gradient
        engine, ws, count = self.engine, self.eval_ws, net.loss_fn.count(Y)
        flat, grads = Products().flat(net.sizes, net.dtype)

        # The subclass's variant above has returned.
        def loss_and_gradient(  # type: ignore[no-redef]
            p: NDArray[np.float64],
        ) -> tuple[float, NDArray[np.float64]]:
            params[...] = p
            value = float(loss_total(engine, X, Y, ws)) / count
            gradient(engine, X, Y, ws, flat, grads)
            return value, flat.astype(np.float64)

        return loss_and_gradient

    def stuck(self, X: FloatArray, Y: FloatArray) -> Any:
        at_end = self.end is not None and np.array_equal(self.end[0], self.params)
        # at_end: self.end is set.
        return stuck(self.engine, X, Y, self.eval_ws,
                     self.end[1] if at_end else None)  # type: ignore[index]

    def epoch(
        self,
        batches: list[tuple[FloatArray, ...]],
        X: FloatArray,
        Y: FloatArray,
        truth: Any,
        last: bool = False,
    ) -> tuple[float, Any, bool]:
        """One pass over ``batches``; the loss over ``X`` after it, and whether it diverged."""
        np.copyto(self.before, self.params)
        self.state = self.optimizer.state_dict()
        take_steps(self.step, batches, self.restart)
        self.keep_end = last
        loss, acc = self.evaluate(X, Y, truth)
        return loss, acc, not (math.isfinite(loss) and np.isfinite(self.params).all())

    def full(self, values: T) -> T:
        return values

    def params_full(self) -> FloatArray:
        return self.params

    def load_full(self, params: FloatArray, where: Any) -> None:
        np.copyto(self.params, params, where=where)

    def publish(self) -> None:
        """The network's parameters are the run's own: nothing to write back."""

    def restart(self) -> None:
        """Parameters and optimizer state back to the epoch's start."""
        self.params[...] = self.before
        self.optimizer.load_state_dict(self.state)

    def diverged(
        self, bad: Any, batches: list[tuple[FloatArray, ...]], epoch: int, history: list[Any]
    ) -> Any:
        before = self.before
        self.restart()
        for i, batch in enumerate(batches):
            # The optimizer goes back with the parameters, so that they
            # stay one step's pair (a rare path: a copy per replayed step).
            state = self.optimizer.state_dict()
            self.step(*batch)
            if not np.isfinite(self.params).all():
                self.params[...] = before
                self.optimizer.load_state_dict(state)
                where, what = f"epoch {epoch}, batch {i}", "parameters"
                break
            before[...] = self.params
        else:
            i, where, what = None, f"epoch {epoch}, when evaluating the loss after the last batch", "loss"
        raise TrainingDiverged(
            f"training diverged at {where}: the {what} became NaN or inf with "
            f"{_setting(self.optimizer)}. The network keeps its last finite parameters; try a "
            "smaller learning_rate (or scale the inputs).",
            epoch, i, np.array(history),
        )

    def finish(self) -> None:
        self.optimizer._belongs_to(self.params)


def _setting(optimizer: Optimizer) -> str:
    """How the message names the optimizer: the plain rule by its rate, any other by its class."""
    if type(optimizer) is SGD and optimizer.momentum == 0 and optimizer.weight_decay == 0:
        return f"learning_rate={float(optimizer.learning_rate):g}"
    return f"optimizer {type(optimizer).__name__}"
