"""Training: the lesson's loop in matrix form, for a network or an ensemble.

The lesson updates every parameter after each single sample
(``w1 -= learn_rate * dL/dw1``). Here one step takes a batch of rows, computes
the gradient of the batch's loss (the mean of its per-sample gradients) and
updates all parameters at once: with ``learning_rate`` alone, by
``params -= learning_rate * grad``, the lesson's rule; with an
``optimizer``, by its rule (see :mod:`matnn.optimizers`). With
``batch_size=1`` and ``shuffle=False`` the first is the lesson's loop exactly.

One loop serves :meth:`matnn.Network.fit` and :meth:`matnn.Ensemble.fit`. A
*run* says what differs: how a step is taken (the network's own engine, an
ensemble's stacked one, or a subclass's own ``gradients``) and what happens
when a parameter or the loss stops being finite (a network raises
:class:`TrainingDiverged`; an ensemble freezes that member and trains on).

The loop validates nothing and allocates nothing per step: the data are
checked once per call, and every pass (and each epoch's shuffle) writes into
buffers made before the first epoch.
"""

from __future__ import annotations

import math
import numbers
import sys
import warnings

import numpy as np

from .validation import check_callback, check_int, check_seed

__all__ = ["fit", "TrainingDiverged", "LossIncreasedWarning", "WORSE_FACTOR"]

#: ``fit`` warns when the final loss is more than this many times the loss
#: it started from: training made the network clearly worse.
WORSE_FACTOR = 2.0


class TrainingDiverged(FloatingPointError):
    """Raised by ``fit`` when the loss or a parameter stops being finite.

    Attributes
    ----------
    epoch : int
        The epoch (0-based) in which it happened.
    batch : int or None
        The batch (0-based, within the epoch) whose update produced a NaN or
        inf parameter, or None when the parameters stayed finite and only the
        end-of-epoch loss overflowed.
    history : ndarray of shape (epoch,)
        The losses of the epochs that completed.
    """

    def __init__(self, message, epoch, batch, history):
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch
        self.history = history


class LossIncreasedWarning(RuntimeWarning):
    """``fit`` ended with a network clearly worse than it should be.

    Raised when the final loss is more than :data:`WORSE_FACTOR` times the
    starting loss, or when training left the gradient exactly 0 with the
    loss above 0 (which a loss that started absurdly high, as a relu
    network's on unscaled data does, can hide). Typically the learning rate
    is far too large: the outputs saturate (a sigmoid or tanh stuck at its
    limits, relu units dead) and the parameters stay finite, so nothing
    diverges, yet the network has stopped learning.
    """


def fit(net, X, y, *, epochs=None, learning_rate=None, batch_size=None, optimizer=None,
        shuffle=True, seed=None, validation_data=None, patience=None, min_delta=0.0,
        restore_best=False, log_every=None, callback=None):
    """Train ``net`` in place.

    Parameters
    ----------
    net : Network
    X : array-like of shape (n_samples, n_in)
    y : array-like
        Targets as ``net.loss`` takes them.
    epochs : int >= 0
        Passes over the data. Not taken by :class:`~matnn.LBFGS`.
    learning_rate : float > 0, optional
        The lesson's ``learn_rate`` (eta) for plain SGD,
        ``params -= learning_rate * grad``. Give this or ``optimizer``.
    batch_size : int >= 1, optional
        Samples per update; default ``min(32, n_samples)``. Batches are
        consecutive slices of the (possibly shuffled) data; the last one
        holds the remainder, so no sample is dropped. ``batch_size=1`` is the
        lesson's per-sample SGD.
    optimizer : Optimizer, optional
        :class:`~matnn.SGD`, :class:`~matnn.Adam`, :class:`~matnn.AdamW`
        or :class:`~matnn.LBFGS`. It keeps its state: passing the same object
        to a second ``fit`` continues where the first stopped.
    shuffle : bool
        Draw a new sample order every epoch. The lesson keeps dataset order
        (``shuffle=False``).
    seed : None, int >= 0 or numpy.random.Generator
        Seeds the shuffling.
    validation_data : (X_val, y_val), optional
        Evaluated after every epoch into ``history.val_loss``.
    patience : int >= 1, optional
        Stop after this many epochs without a validation loss lower than the
        best so far by more than ``min_delta``. Needs ``validation_data``.
    min_delta : float >= 0
    restore_best : bool
        At the end, put back the parameters of the epoch with the best
        validation loss. Needs ``validation_data``.
    log_every : int >= 1, optional
        Print ``Epoch %d loss: %.3f`` for every epoch divisible by it, as the
        lesson does with 10.
    callback : callable ``(epoch, loss) -> bool``, optional
        Called after every epoch; returning True stops training.

    Returns
    -------
    History
        ``loss`` (the loss over all of ``X`` after each epoch, the value the
        lesson prints), ``val_loss``, ``stopped_early``, ``best_epoch``;
        ``history[-1]`` and ``len(history)`` index the losses.

    Raises
    ------
    TrainingDiverged
        A ``FloatingPointError`` raised when a parameter or the loss becomes
        NaN or inf. It names the epoch and batch, and the network is left at
        the last finite parameters it had.

    Warns
    -----
    LossIncreasedWarning
        When the final loss is more than :data:`WORSE_FACTOR` times the
        starting loss, or when training left the gradient exactly 0 with the
        loss above 0 (saturated or dead units).
    """
    from .history import History
    from .optimizers import LBFGS

    X, Y = _unshared(*net._prepare(X, y), net.params)
    optimizer = _check_optimizer(learning_rate, optimizer, net.dtype, None)
    if isinstance(optimizer, LBFGS):
        _refuse_with_lbfgs(epochs=epochs, batch_size=batch_size, patience=patience,
                           restore_best=restore_best, validation_data=validation_data)
        return _fit_lbfgs(net, X, Y, optimizer, callback)
    loop = _Loop.check(net._prepare, X.shape[0], epochs=epochs, batch_size=batch_size,
                       shuffle=shuffle, seed=seed, validation_data=validation_data,
                       patience=patience, min_delta=min_delta, restore_best=restore_best,
                       log_every=log_every, callback=callback)
    optimizer.check(net.params)
    run = _NetworkRun(net, optimizer, loop.batch_size, X.shape[0])
    return loop.run(run, X, Y, History)


def _unshared(X, Y, params):
    """Copies of ``X`` and ``Y`` where they share memory with the parameters.

    Training on a view of the network's own weights would train on data that
    changes under it.
    """
    if np.shares_memory(X, params):
        X = X.copy()
    if np.shares_memory(Y, params):
        Y = Y.copy()
    return X, Y


def _check_optimizer(learning_rate, optimizer, dtype, members):
    """The optimizer to step with: the given one, or the lesson's plain SGD."""
    from .optimizers import LBFGS, Optimizer

    if optimizer is not None:
        if learning_rate is not None:
            raise ValueError(
                "give learning_rate or optimizer, not both: the optimizer has its own "
                "learning rate"
            )
        if isinstance(optimizer, type) and issubclass(optimizer, (Optimizer, LBFGS)):
            raise TypeError(
                f"optimizer must be a matnn optimizer object, got the class "
                f"{optimizer.__name__}; make one, e.g. optimizer=matnn.{optimizer.__name__}()"
            )
        if not isinstance(optimizer, (Optimizer, LBFGS)):
            raise TypeError(
                f"optimizer must be a matnn optimizer (matnn.SGD, matnn.Adam, matnn.AdamW, "
                f"matnn.LBFGS), got {type(optimizer).__name__}"
            )
        return optimizer
    if learning_rate is None:
        raise TypeError("fit needs a learning_rate (plain SGD) or an optimizer")
    return PlainSGD(learning_rate, dtype, members)


class PlainSGD:
    """The lesson's update ``params -= learning_rate * grad``, and nothing else.

    Kept apart from :class:`~matnn.SGD` so the lesson's path is exactly the
    lesson's arithmetic, at the lesson's speed. ``learning_rate`` is one
    number, or for an ensemble one per member.
    """

    def __init__(self, learning_rate, dtype, members):
        from .optimizers import _hyperparameter

        rates = np.asarray(_hyperparameter(learning_rate, "learning_rate", 0, above=True))
        if rates.ndim and rates.shape != (members,):
            raise ValueError(
                "learning_rate must be one number"
                + (f" or one per member, shape ({members},)" if members else "")
                + f"; got shape {rates.shape}"
            )
        if members is not None and not rates.ndim:
            rates = np.full(members, rates)
        # In the network's dtype, so a float32 network steps in float32; a
        # 0-d array is what numpy would convert the float to on every call.
        self.rate = rates.astype(dtype)
        if (self.rate == 0).any():
            raise ValueError(
                f"learning_rate {float(np.min(rates)):g} rounds to 0 in {np.dtype(dtype)}; "
                "training would change nothing"
            )

    def step(self, params, grad):
        np.multiply(grad, self.rate, grad)
        np.subtract(params, grad, params)

    # It keeps no state; these make it usable wherever an Optimizer is.
    def check(self, params):
        pass

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass

    def select(self, keep):
        new = object.__new__(PlainSGD)
        new.rate = self.rate[keep]
        return new

    def merge(self, keep, other):
        pass


def _refuse_with_lbfgs(**given):
    for name, value in given.items():
        if value is not None and value is not False:
            raise ValueError(
                f"L-BFGS trains on the full batch until it converges: it takes no {name}"
            )


def _fit_lbfgs(net, X, Y, optimizer, callback):
    """Full-batch training with scipy's L-BFGS-B on the flat parameters."""
    from .backprop import block_rows
    from .history import History

    callback = check_callback(callback)
    params = net.params
    custom = _custom_passes(net)

    def loss_and_gradient(p):
        params[...] = p
        if custom.loss or custom.gradients:
            # A subclass's own passes: what it overrides is what trains.
            value = float(net.loss(X, Y))
            grads = net.gradients(X, Y)
            g = np.concatenate([np.concatenate([np.ravel(dW), np.ravel(db)]) for dW, db in grads])
        else:
            value = net._loss(X, Y)
            g = net._gradients(X, Y)[0]
        return value, g.astype(np.float64)

    def after_iteration(iteration, loss, p):
        return bool(callback is not None and callback(iteration, loss))

    start = params.copy()
    ws = net._engine.workspace(block_rows(X.shape[0], net.sizes), net.dtype)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        stuck_before = _stuck(net._engine, X, Y, ws)
        result = optimizer.minimize(loss_and_gradient, params.astype(np.float64),
                                    callback=after_iteration)
    if not (np.isfinite(result.x).all() and np.isfinite(result.loss).all()):
        params[...] = start
        raise TrainingDiverged(
            f"L-BFGS reached non-finite parameters or loss ({result.message}); the network "
            "keeps the parameters it started from", len(result.loss), None, result.loss)
    params[...] = result.x
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        stuck = _stuck(net._engine, X, Y, ws) & ~stuck_before
    if result.loss.size:
        _warn_if_worse(result.loss[0], result.loss[-1], stuck)
    return History(result.loss, converged=result.success, message=result.message)


class _Custom:
    def __init__(self, loss, gradients):
        self.loss, self.gradients = loss, gradients


def _custom_passes(net):
    """Which of ``loss`` and ``gradients`` a subclass of Network overrides."""
    from .network import Network

    cls = type(net)
    return _Custom(cls.loss is not Network.loss, cls.gradients is not Network.gradients)


class _NetworkRun:
    """One network's steps, losses and divergence, for :class:`_Loop`."""

    def __init__(self, net, optimizer, batch_size, n):
        from .backprop import Products, backward, block_rows, forward, gradient

        self.net, self.optimizer = net, optimizer
        self.flat = net.params
        self.before, self.state = np.empty_like(self.flat), None
        engine, dtype = net._engine, net.dtype
        self.engine = engine
        self.ws = engine.workspace(block_rows(batch_size, net.sizes), dtype)
        self.eval_ws = engine.workspace(block_rows(n, net.sizes), dtype)
        grad, grads = Products().flat(net.sizes, dtype)
        count = net.loss_fn.count
        update = optimizer.step
        custom = _custom_passes(net)
        params = self.flat

        if custom.gradients:
            # A subclass's own backward pass: slower, but it is what trains.
            def step(Xb, Yb):
                for (dW, db), (gW, gb) in zip(net.gradients(Xb, Yb), grads):
                    gW[...] = dW
                    gb[...] = db
                update(params, grad)
        elif batch_size <= self.ws.rows:
            ws = self.ws

            def step(Xb, Yb):
                w = ws.head(Xb.shape[0], engine)
                forward(engine, Xb, w)
                backward(engine, Xb, Yb, count(Yb), w, grads)
                update(params, grad)
        else:
            # Batches of several blocks: the blocks run on the threads.
            ws = self.ws

            def step(Xb, Yb):
                gradient(engine, Xb, Yb, ws, grad, grads)
                update(params, grad)

        self.step = step
        self.classifies = net.loss_fn.classifies
        self.custom_loss = custom.loss

    def truth(self, Y):
        return self.net.loss_fn.truth(Y)

    def evaluate(self, X, Y, truth):
        """The loss over ``X`` and, given ``truth`` (:meth:`truth` of ``Y``), the accuracy (else None)."""
        from .backprop import loss_total

        net, count = self.net, self.net.loss_fn.count(Y)
        if self.custom_loss:
            # A subclass's own loss is what the history reports.
            loss = float(net.loss(X, Y))
            if truth is None:
                return loss, None
            _, correct = loss_total(self.engine, X, Y, self.eval_ws, truth)
            return loss, float(correct) / count
        if truth is None:
            return float(loss_total(self.engine, X, Y, self.eval_ws)) / count, None
        total, correct = loss_total(self.engine, X, Y, self.eval_ws, truth)
        return float(total) / count, float(correct) / count

    members = None
    training = True

    def stuck(self, X, Y):
        return _stuck(self.engine, X, Y, self.eval_ws)

    def epoch(self, batches, X, Y, truth):
        """One pass over ``batches``; the loss over ``X`` after it, and whether it diverged."""
        np.copyto(self.before, self.flat)
        self.state = self.optimizer.state_dict()
        for Xb, Yb in batches:
            self.step(Xb, Yb)
        loss, acc = self.evaluate(X, Y, truth)
        return loss, acc, not (math.isfinite(loss) and np.isfinite(self.flat).all())

    def full(self, values):
        return values

    def params_full(self):
        return self.flat

    def load_full(self, params, where):
        np.copyto(self.flat, params, where=where)

    def diverged(self, bad, batches, epoch, history):
        before = self.before
        self.flat[...] = before
        self.optimizer.load_state_dict(self.state)
        for i, (Xb, Yb) in enumerate(batches):
            self.step(Xb, Yb)
            if not np.isfinite(self.flat).all():
                self.flat[...] = before
                where, what = f"epoch {epoch}, batch {i}", "parameters"
                break
            before[...] = self.flat
        else:
            i, where, what = None, f"epoch {epoch}, when evaluating the loss after the last batch", "loss"
        rate = getattr(self.optimizer, "rate", None)
        setting = (f"learning_rate={float(rate):g}" if rate is not None
                   else f"optimizer {type(self.optimizer).__name__}")
        raise TrainingDiverged(
            f"training diverged at {where}: the {what} became NaN or inf with {setting}. "
            "The network keeps its last finite parameters; try a smaller learning_rate "
            "(or scale the inputs).",
            epoch, i, np.array(history),
        )

    def finish(self):
        pass


class _Loop:
    """The epochs: shuffling, batches, divergence, validation, early stopping."""

    @classmethod
    def check(cls, prepare, n, *, epochs, batch_size, shuffle, seed, validation_data,
              patience, min_delta, restore_best, log_every, callback):
        self = cls()
        if epochs is None:
            raise TypeError("fit needs epochs, the number of passes over the data")
        self.epochs = check_int(epochs, "epochs", 0)
        self.batch_size = min(n, 32 if batch_size is None else check_int(batch_size, "batch_size", 1))
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False, got {shuffle!r}")
        self.shuffle = bool(shuffle)
        self.rng = np.random.default_rng(check_seed(seed)) if shuffle else None
        self.validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data must be a pair (X_val, y_val)")
            Xv, yv = validation_data
            self.validation = prepare(Xv, yv, name="validation_data[0]")
        for name, value in (("patience", patience), ("restore_best", restore_best)):
            if value not in (None, False) and self.validation is None:
                raise ValueError(f"{name} needs validation_data to watch")
        self.patience = None if patience is None else check_int(patience, "patience", 1)
        if isinstance(min_delta, bool) or not isinstance(min_delta, numbers.Real) \
                or not (math.isfinite(min_delta) and min_delta >= 0):
            raise ValueError(f"min_delta must be a finite number >= 0, got {min_delta!r}")
        self.min_delta = float(min_delta)
        if not isinstance(restore_best, (bool, np.bool_)):
            raise TypeError(f"restore_best must be True or False, got {restore_best!r}")
        self.restore_best = bool(restore_best)
        self.log_every = None if log_every is None else check_int(log_every, "log_every", 1)
        self.callback = check_callback(callback)
        return self

    def run(self, run, X, Y, History):
        n, batch_size = X.shape[0], self.batch_size
        if self.shuffle:
            # Each epoch gathers the data in its new order into these buffers,
            # so the batches (views into them) are made once.
            Xs, Ys = np.empty_like(X), np.empty_like(Y)
            batches = _split(Xs, Ys, batch_size)
        else:
            batches = _split(X, Y, batch_size)
        start = run.full(run.evaluate(X, Y, None)[0])
        # The right answers, for the accuracy: found once, not every epoch.
        truth = run.truth(Y) if run.classifies else None
        start_params = run.params_full().copy()
        losses, val_losses, accuracy, val_accuracy = [], [], [], []
        best = best_params = None
        if self.validation is not None:
            Xv, Yv = self.validation
            val_truth = run.truth(Yv) if run.classifies else None
            best = np.full(np.shape(start), np.inf)
            best_epoch = np.full(np.shape(start), -1)
            if self.restore_best:
                best_params = run.params_full().copy()
        stopped_early = False
        try:
            # Overflow is detected below and reported with its epoch and batch;
            # numpy's own warnings would only say which ufunc saw it.
            with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
                for epoch in range(self.epochs):
                    if not run.training:
                        break
                    if self.shuffle:
                        order = self.rng.permutation(n)
                        # A permutation is always in range; "clip" spares take's
                        # checked copy through a buffer.
                        np.take(X, order, axis=0, out=Xs, mode="clip")
                        np.take(Y, order, axis=0, out=Ys, mode="clip")
                    loss, acc, bad = run.epoch(batches, X, Y, truth)
                    # A network's flag is a bool, an ensemble's an array (np.any
                    # costs microseconds per epoch on a bool).
                    if bad is True or (isinstance(bad, np.ndarray) and bad.any()):
                        keep = run.diverged(bad, batches, epoch, losses)
                        loss, acc = loss[keep], None if acc is None else acc[keep]
                    losses.append(run.full(loss))
                    if run.classifies:
                        accuracy.append(run.full(acc))
                    if self.validation is not None:
                        val, val_acc = run.evaluate(Xv, Yv, val_truth)
                        val = run.full(val)
                        val_losses.append(val)
                        if run.classifies:
                            val_accuracy.append(run.full(val_acc))
                        improved = val < best - self.min_delta
                        best = np.where(improved, val, best)
                        best_epoch = np.where(improved, epoch, best_epoch)
                        if best_params is not None:
                            np.copyto(best_params, run.params_full(), where=improved)
                        if self.patience is not None and np.all(
                                (epoch - best_epoch >= self.patience) | ~np.isfinite(val)):
                            stopped_early = True
                    if self.log_every is not None and epoch % self.log_every == 0:
                        print("Epoch %d loss: %.3f" % (epoch, loss))
                    if self.callback is not None and self.callback(epoch, _copy(losses[-1])):
                        stopped_early = epoch + 1 < self.epochs
                        break
                    if stopped_early:
                        break
                stuck = _stuck_by_training(run, X, Y, start_params) if losses else False
        finally:
            run.finish()
        if best_params is not None:
            run.load_full(best_params, np.asarray(best_epoch >= 0))
        _warn_if_worse(start, losses[-1] if losses else start, stuck)

        def curve(values, recorded=True):
            if not recorded:
                return None
            values = np.array(values, dtype=np.float64)
            if run.members is not None:
                values = values.reshape(len(values), run.members).T
            return values

        validated = self.validation is not None
        return History(
            loss=curve(losses),
            val_loss=curve(val_losses, validated),
            accuracy=curve(accuracy, run.classifies),
            val_accuracy=curve(val_accuracy, run.classifies and validated),
            stopped_early=stopped_early,
            best_epoch=None if best is None else
            best_epoch if run.members is not None else
            int(best_epoch) if best_epoch >= 0 else None,
        )


def _copy(value):
    return value.copy() if isinstance(value, np.ndarray) else value


def _split(X, Y, batch_size):
    """``(X_batch, Y_batch)`` views for every batch of one epoch."""
    return [(X[s:s + batch_size], Y[s:s + batch_size]) for s in range(0, X.shape[0], batch_size)]


def _stuck_by_training(run, X, Y, start_params):
    """Which members training left stuck (see :func:`_stuck`) that did not start so.

    The starting parameters are checked only when some member ends stuck.
    Members that failed have left the run (``full`` gives them NaN, not stuck).
    """
    stuck = run.full(run.stuck(X, Y)) == 1
    if not np.any(stuck):
        return stuck
    end_params = run.params_full().copy()
    everyone = np.ones(np.shape(stuck), bool)
    run.load_full(start_params, everyone)
    try:
        return stuck & ~(run.full(run.stuck(X, Y)) == 1)
    finally:
        run.load_full(end_params, everyone)


def _stuck(engine, X, Y, ws):
    """Whether no gradient flows: the batch gradient is exactly 0 while the loss is not.

    Sigmoid or tanh units saturated at their limits (``f'`` exactly 0 there)
    and dead relu units leave a network here, and no gradient step moves it
    again; its parameters stay finite, so nothing diverges. ``fit`` warns
    when training brought a network here (not when it started here). One
    value per member for an ensemble's (stacked) engine.
    """
    from .backprop import gradient, loss_total

    flat, grads = engine.products.flat(engine.sizes, X.dtype)
    gradient(engine, X, Y, ws, flat, grads)
    zero = ~flat.any(axis=0)
    if not zero.any():
        return zero
    return zero & (np.asarray(loss_total(engine, X, Y, ws)) > 0)


def _warn_if_worse(start, final, stuck):
    start, final = np.asarray(start, float), np.asarray(final, float)
    worse = np.isfinite(final) & np.isfinite(start) & (final > WORSE_FACTOR * start)
    stuck = np.asarray(stuck) & ~worse
    if not (worse.any() or stuck.any()):
        return
    if worse.ndim == 0 and worse:
        what = f"the loss went from {float(start):.4g} to {float(final):.4g}"
    elif worse.ndim == 0:
        what = (f"its gradient ended exactly 0 with the loss at {float(final):.4g} "
                f"(it started at {float(start):.4g}), so no step can move it")
    else:
        k = int(np.flatnonzero(worse | stuck)[0])
        parts = []
        if worse.any():
            parts.append(f"{int(worse.sum())} of {worse.size} members ended worse than they "
                         "started")
        if stuck.any():
            parts.append(f"{int(stuck.sum())} of {worse.size} members ended with a gradient "
                         "of exactly 0 and a loss above 0")
        what = (f"{'; '.join(parts)} (member {k}: loss from {start[k]:.4g} to "
                f"{final[k]:.4g})")
    headline = "training made the network worse" if worse.any() else \
        "training left the network stuck"
    warnings.warn(
        f"{headline}: {what}. The outputs have probably saturated (sigmoid or tanh units "
        "at their limits, or dead relu units); try a smaller learning rate, or scale the "
        "inputs.",
        LossIncreasedWarning, stacklevel=_first_caller_outside_matnn(),
    )


def _first_caller_outside_matnn():
    """The ``stacklevel`` that points a warning at the user's line that called matnn.

    Counted from the caller of this function, which is the one that warns:
    ``fit`` is reached through different depths of matnn's own frames.
    """
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] == "matnn":
        frame, level = frame.f_back, level + 1
    return level
