"""Training: the lesson's loop in matrix form, for a network or an ensemble.

The lesson updates every parameter after each single sample
(``w1 -= learn_rate * dL/dw1``). Here one step takes a batch of rows, computes
the gradient of the batch's loss (the mean of its per-sample gradients) and
updates all parameters at once: with ``learning_rate`` alone, by
``params -= learning_rate * grad``, the lesson's rule (:class:`~matnn.SGD`'s
plain path); with an ``optimizer``, by its rule (see :mod:`matnn.optimizers`).
With ``batch_size=1`` and ``shuffle=False`` the first is the lesson's loop
exactly.

One loop, :class:`Loop`, serves :meth:`matnn.Network.fit` and
:meth:`matnn.Ensemble.fit`. It owns the epochs: the order of the rows, the
batches, validation, early stopping, the callback and the history. A *run*
(the :class:`Run` protocol; the model makes it) owns everything else: how a
step is taken (a network's engine, an ensemble's stacked one, or a
subclass's own ``gradients``) and what happens when a parameter or the loss
stops being finite (a network raises :class:`TrainingDiverged`; an ensemble
freezes that member and trains on). A full-batch optimizer
(:class:`~matnn.LBFGS`) takes the run and trains without the loop.

The data are checked once per call, before the first epoch. The passes
write into workspaces made before the first epoch, and a shuffled epoch
gathers the rows into buffers made then too, so a step allocates no array
memory. Per epoch the loop keeps what it records (the losses, and for an
ensemble their per-member arrays) and the run keeps what it needs to replay
a diverged epoch (a copy of the parameters and of the optimizer's state).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence, TypeVar

import numpy as np

from .diagnostics import (
    WORSE_FACTOR,
    LossIncreasedWarning,
    TrainingDiverged,
    stuck_by_training,
    warn_if_worse,
)
from .history import History
from .optimizers import SGD, Optimizer
from .progress import progress_callback
from .validation import check_callback, check_int, check_real, check_seed
from ._typing import ArrayLike, DTypeLike, EpochCallback, FloatArray, NDArray, SeedLike

T = TypeVar("T")

__all__ = ["fit", "EpochRecord", "Run", "Loop", "RandomPermutation", "take_steps",
           "TrainingDiverged", "LossIncreasedWarning", "WORSE_FACTOR"]



@dataclass(frozen=True)
class EpochRecord:
    """What ``fit`` hands its ``callback`` after every epoch (L-BFGS: every iteration).

    The values are the ones ``fit`` computed for its history; nothing is
    computed again for the callback.

    Attributes
    ----------
    epoch : int
        0-based.
    loss : float, or ndarray of shape (n_models,) for an ensemble
        The loss over all the training data after this epoch (NaN for an
        ensemble's failed members).
    val_loss : float, ndarray of shape (n_models,), or None
        The loss on ``validation_data``; None without validation data.
    accuracy : float, ndarray of shape (n_models,), or None
        The training accuracy, for a loss that classifies; else None.
    val_accuracy : float, ndarray of shape (n_models,), or None
        The validation accuracy, for a classifying loss and validation
        data; else None.
    model : Network or Ensemble
        The model being trained, with its parameters as of the end of this
        epoch.
    """

    epoch: int
    loss: float | NDArray[np.float64]
    val_loss: float | NDArray[np.float64] | None
    accuracy: float | NDArray[np.float64] | None
    val_accuracy: float | NDArray[np.float64] | None
    # A Network or an Ensemble (this module does not import them).
    model: Any


def fit(
    model: Any,
    X: Any,
    y: Any,
    *,
    epochs: int | None = None,
    learning_rate: float | ArrayLike | None = None,
    batch_size: int | None = None,
    optimizer: Optimizer | None = None,
    shuffle: bool = True,
    seed: SeedLike = None,
    validation_data: tuple[ArrayLike, ArrayLike] | None = None,
    patience: int | None = None,
    min_delta: float = 0.0,
    restore_best: bool = False,
    log_every: int | None = None,
    callback: EpochCallback | None = None,
    progress: bool = False,
) -> History:
    """Train ``model`` (a :class:`~matnn.Network` or an :class:`~matnn.Ensemble`) in place.

    Parameters
    ----------
    model : Network or Ensemble
    X : array-like of shape (n_samples, n_in)
    y : array-like
        Targets as ``model.loss`` takes them.
    epochs : int >= 0
        Passes over the data. Not taken by :class:`~matnn.LBFGS`.
    learning_rate : float > 0, optional
        The lesson's ``learn_rate`` (eta) for plain SGD,
        ``params -= learning_rate * grad``; an ensemble also takes one rate
        per member. Give this or ``optimizer``.
    batch_size : int >= 1, optional
        Samples per update; default ``min(32, n_samples)``. Batches are
        consecutive slices of the (possibly shuffled) data; the last one
        holds the remainder, so no sample is dropped. ``batch_size=1`` is the
        lesson's per-sample SGD.
    optimizer : Optimizer, optional
        :class:`~matnn.SGD`, :class:`~matnn.Adam`, :class:`~matnn.AdamW`
        or :class:`~matnn.LBFGS`. It keeps its state: passing the same object
        to a second ``fit`` of the same model continues where the first
        stopped. Another model is refused, so as not to carry one network's
        moments into another: call its ``reset()``, or make a new one.
    shuffle : bool
        Draw a new sample order every epoch (a permutation from
        ``numpy.random.default_rng(seed)``). The lesson keeps dataset order
        (``shuffle=False``).
    seed : None, int >= 0 or numpy.random.Generator
        Seeds the shuffling; checked even when ``shuffle=False`` leaves it
        unused. Not taken by L-BFGS, which never shuffles.
    validation_data : (X_val, y_val), optional
        Evaluated after every epoch into ``history.val_loss``.
    patience : int >= 1, optional
        Stop after this many epochs without an improvement: a validation
        loss lower by more than ``min_delta`` than the last improvement's
        (the first epoch's loss is one). Needs ``validation_data``.
    min_delta : float >= 0
        What ``patience`` counts as an improvement. Needs
        ``validation_data``. It does not change ``history.best_epoch``,
        which is the epoch of the lowest validation loss however small its
        lead.
    restore_best : bool
        At the end, put back the parameters of ``history.best_epoch``, the
        epoch with the lowest validation loss. Needs ``validation_data``.
    log_every : int >= 1, optional
        Print ``Epoch %d loss: %.3f`` after every epoch whose 0-based number
        is divisible by it (epochs 0, k, 2k, ...), as the lesson does with
        10; L-BFGS prints ``Iteration %d loss: %.3f`` after its
        iterations. A network's only.
    callback : callable ``EpochRecord -> None | bool``, optional
        Called after every epoch (after every iteration for L-BFGS) with an
        :class:`EpochRecord`: the epoch, its losses and accuracies, and the
        model as of the end of that epoch. Returning False stops training
        (``history.stopped_early`` is then True if epochs remained); None or
        True go on. Anything else raises TypeError, so that an ensemble's
        per-member comparison (an array) is not mistaken for an answer.
    progress : bool
        Show a progress bar (tqdm's: a widget in Jupyter, a text bar on
        stderr elsewhere) with the latest losses and accuracies (an
        ensemble's medians). It is a callback too, run before ``callback``
        (see :mod:`matnn.progress`).

    Returns
    -------
    History
        ``loss`` (the loss over all of ``X`` after each epoch, the value the
        lesson prints), ``val_loss``, ``accuracy``, ``val_accuracy``,
        ``stopped_early``, ``best_epoch``. ``history[-1]`` and
        ``len(history)`` act on ``loss``: for a network, the last epoch's
        loss and the number of epochs; for an ensemble, whose ``loss`` has
        shape (n_models, epochs), the last *member*'s curve and the number
        of members (``history.loss[:, -1]`` and ``history.epochs`` give the
        last epoch and the epoch count).

    Raises
    ------
    TrainingDiverged
        A ``FloatingPointError`` raised when a network's parameter or loss
        becomes NaN or inf. It names the epoch and batch, and the network is
        left at the last finite parameters it had, and the optimizer at its
        state after the same step: a next ``fit`` (with a smaller rate, say)
        continues from there. (An ensemble freezes such a member instead,
        its optimizer state with it; see :attr:`matnn.Ensemble.failed`.)

    Warns
    -----
    LossIncreasedWarning
        When the final loss is more than :data:`WORSE_FACTOR` times the
        starting loss, or when training left the gradient exactly 0 with the
        loss above 0 (saturated or dead units); a network that was so from
        the start is said to be one that could not train.
    """
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True or False, got {progress!r}")
    X, Y = model._training_data(X, y)
    n = X.shape[0]
    optimizer = check_optimizer(learning_rate, optimizer, model.dtype, model._members)
    if optimizer.full_batch:
        with model._run(optimizer, None, n) as run:
            _refuse_with_full_batch(epochs=epochs, batch_size=batch_size, seed=seed,
                                    patience=patience,
                                    min_delta=check_real(min_delta, "min_delta", 0) or None,
                                    restore_best=restore_best, validation_data=validation_data)
            log_every = None if log_every is None else check_int(log_every, "log_every", 1)
            # A full-batch optimizer (LBFGS) has max_iter and train.
            with progress_callback(progress, optimizer.max_iter,  # type: ignore[attr-defined]
                                   "iteration", callback) as callback:
                return optimizer.train(run, X, Y, callback, log_every)  # type: ignore[attr-defined]
    if epochs is None:
        raise TypeError("fit needs epochs, the number of passes over the data")
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle must be True or False, got {shuffle!r}")
    if shuffle:
        order = RandomPermutation(seed)
    else:
        # Unused, but refused as it would be with shuffling, not ignored.
        check_seed(seed)
        order = None
    validation = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("validation_data must be a pair (X_val, y_val)")
        Xv, yv = validation_data
        validation = model._prepare(Xv, yv, name="validation_data[0]",
                                    target_name="validation_data[1]")
    with progress_callback(progress, epochs, "epoch", callback) as callback:
        loop = Loop(n, epochs=epochs, batch_size=batch_size, order=order, validation=validation,
                    patience=patience, min_delta=min_delta, restore_best=restore_best,
                    log_every=log_every, callback=callback)
        with model._run(optimizer, loop.batch_size, n) as run:
            return loop.run(run, (X, Y))


def check_optimizer(
    learning_rate: float | ArrayLike | None,
    optimizer: Optimizer | None,
    dtype: DTypeLike,
    members: int | None,
) -> Optimizer:
    """The optimizer to train with: the given one, or for ``learning_rate`` the lesson's plain SGD.

    Parameters
    ----------
    learning_rate : float, array-like of shape (members,), or None
    optimizer : Optimizer or None
    dtype : numpy dtype
        The model's.
    members : int or None
        An ensemble's member count; None for a network.
    """
    if optimizer is not None:
        if learning_rate is not None:
            raise ValueError(
                "give learning_rate or optimizer, not both: the optimizer has its own "
                "learning rate"
            )
        if isinstance(optimizer, type) and issubclass(optimizer, Optimizer):
            raise TypeError(
                f"optimizer must be a matnn optimizer object, got the class "
                f"{optimizer.__name__}; make one, e.g. optimizer=matnn.{optimizer.__name__}()"
            )
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"optimizer must be a matnn optimizer (matnn.SGD, matnn.Adam, matnn.AdamW, "
                f"matnn.LBFGS), got {type(optimizer).__name__}"
            )
        return optimizer
    if learning_rate is None:
        raise TypeError("fit needs a learning_rate (plain SGD) or an optimizer")
    rates = check_real(learning_rate, "learning_rate", 0, above=True, per_member=True)
    if np.ndim(rates) and np.shape(rates) != (members,):
        raise ValueError(
            "learning_rate must be one number"
            + (f" or one per member, shape ({members},)" if members else "")
            + f"; got shape {np.shape(rates)}"
        )
    return SGD(rates)


def _refuse_with_full_batch(**given: object) -> None:
    for name, value in given.items():
        if value is not None and value is not False:
            raise ValueError(
                f"L-BFGS trains on the full batch until it converges: it takes no {name}"
            )


def callback_stops(callback: EpochCallback, record: EpochRecord) -> bool:
    """Call ``callback(record)``: True when it asks to stop (returns False).

    None and True go on. numpy's own booleans count as booleans; anything
    else is refused, naming what came back.
    """
    answer = callback(record)
    if answer is None or answer is True or answer is np.True_:
        return False
    if answer is False or answer is np.False_:
        return True
    shown = repr(answer)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    raise TypeError(
        f"callback must return None or True (go on) or False (stop), got "
        f"{type(answer).__name__} {shown}"
    )


def take_steps(
    step: Callable[..., object], batches: Sequence[tuple[Any, ...]], restart: Callable[[], object]
) -> None:
    """``step(*batch)`` for every batch; cut short, back to the last completed step.

    A step cut short (Ctrl-C, an error in a subclass's ``gradients``) may
    have moved the parameters and not the optimizer's state, or part of
    either. ``restart()`` puts both back as they were before the first
    batch (the copies a run keeps to replay an epoch); the steps that
    completed are then taken again, and the error raised. Cut short again,
    the two stay at the start. Nothing is copied while the steps go well.
    """
    done = 0
    try:
        for done, batch in enumerate(batches):
            step(*batch)
    except BaseException:
        restart()
        try:
            for batch in batches[:done]:
                step(*batch)
        except BaseException:
            restart()
            raise
        raise


class Run(Protocol):
    """What the loop asks of the model it trains: the run of one ``fit`` call.

    The model makes it (``model._run(optimizer, batch_size, n)``, a
    context manager that yields the run; a network's is
    :class:`matnn.network_run._NetworkRun`, an ensemble's
    :class:`matnn.ensemble._EnsembleRun` or, in groups of members on the
    threads, :class:`matnn.ensemble._GroupedRun`). Per-member values (an
    ensemble's) are arrays over the members still training; :meth:`full`
    spreads them over all members.

    Attributes
    ----------
    model : Network or Ensemble
        What is trained; the callback's :attr:`EpochRecord.model`.
    members : int or None
        The number of members (None for a network): the loop then keeps
        one curve per member.
    classifies : bool
        Whether the loss classifies, so the loop records accuracies.
    training : bool
        False once nothing is left to train (every member failed).
    """

    model: Any
    members: int | None
    classifies: bool
    training: bool

    def truth(self, Y: FloatArray) -> Any:
        """The right answers in ``Y``, for :meth:`evaluate`'s accuracy (computed once)."""

    def evaluate(self, X: FloatArray, Y: FloatArray, truth: Any) -> tuple[Any, Any]:
        """The loss over ``(X, Y)`` and, given ``truth``, the accuracy (else None)."""

    def epoch(
        self,
        batches: list[tuple[FloatArray, ...]],
        X: FloatArray,
        Y: FloatArray,
        truth: Any,
        last: bool = False,
    ) -> tuple[Any, Any, Any]:
        """Train one pass over ``batches``; return ``(loss, accuracy, bad)``.

        ``batches`` is a list of tuples of row-aligned arrays, ``(X_b, Y_b)``
        (and whatever further per-row arrays the loop was given, e.g.
        sample weights), views into the epoch's (shuffled) data. The run
        steps once per batch (``step(*batch)``), remembering what it needs
        to replay the epoch (:func:`take_steps` steps so, and replays the
        completed steps after one cut short), then returns :meth:`evaluate` of ``(X, Y)``
        after the epoch and ``bad``: whether (per member) a parameter or the
        loss stopped being finite. A diagnosing loop passes ``last=True``
        to the last planned epoch: the run may then keep, from that
        evaluation, what :meth:`stuck` needs at the parameters it ends with.
        """

    def diverged(self, bad: Any, batches: list[tuple[FloatArray, ...]], epoch: int,
                 history: list[Any]) -> Any:
        """Handle the ``bad`` members of this epoch.

        A network raises :class:`TrainingDiverged`, naming the batch (it
        replays the epoch to find it); an ensemble freezes them. Returns the
        mask (over the members that trained this epoch) of those that go
        on.
        """

    def full(self, values: Any) -> Any:
        """Per-member ``values`` of the training members, as all members' (NaN for failed ones)."""

    def params_full(self) -> FloatArray:
        """The parameters of every member, to copy (best epoch, stuck check)."""

    def load_full(self, params: FloatArray, where: Any) -> None:
        """Put back ``params`` (from :meth:`params_full`) where ``where`` (per member) is True."""

    def stuck(self, X: FloatArray, Y: FloatArray) -> Any:
        """Whether (per member) the gradient on ``(X, Y)`` is exactly 0 with the loss above 0."""

    def publish(self) -> None:
        """Make the model's parameters the run's current ones (before the callback sees it)."""

    def finish(self) -> None:
        """Write everything back into the model (and the caller's optimizer) at the end."""


class RandomPermutation:
    """The loop's default order: a new random permutation of the rows every epoch.

    A shuffle strategy is any callable ``order(n) -> ndarray of int of
    shape (n,)`` that returns a permutation of ``range(n)``, called once per
    epoch; the loop checks that it is one, then gathers every row-aligned
    array into that order. A caller with its own order (another random
    stream, a fixed order) passes its own strategy to :class:`Loop`.

    Parameters
    ----------
    seed : None, int >= 0, numpy.random.SeedSequence, BitGenerator or Generator
        ``numpy.random.default_rng(seed)`` draws the permutations.
    """

    def __init__(self, seed: SeedLike = None) -> None:
        self.rng = np.random.default_rng(check_seed(seed))

    def __call__(self, n: int) -> NDArray[np.int64]:
        return self.rng.permutation(n)


class Loop:
    """The epochs: order, batches, divergence, validation, early stopping, callback.

    Parameters
    ----------
    n : int
        The number of training rows.
    epochs : int >= 0
    batch_size : int >= 1, optional
        Default ``min(32, n)``.
    order : callable ``n -> permutation``, optional
        The shuffle strategy (see :class:`RandomPermutation`); None keeps
        the dataset's order.
    validation : (X_val, Y_val), optional
        Prepared arrays, as the run's :meth:`Run.evaluate` takes them.
    patience, min_delta, restore_best, log_every :
        As :func:`fit` describes them.
    callback : callable ``EpochRecord -> None | bool``, optional
        As :func:`fit` describes it; returning False stops.
    diagnose : bool
        Evaluate the loss before the first epoch, and at the end warn
        (:class:`LossIncreasedWarning`) when training made the model worse
        or left it stuck. A caller that reports on convergence its own way
        (:mod:`matnn.sklearn`, as scikit-learn does) turns it off; the loop
        then never calls the run's ``evaluate`` on the training data nor
        its ``stuck``.
    """

    def __init__(
        self,
        n: int,
        *,
        epochs: int,
        batch_size: int | None = None,
        order: Callable[[int], ArrayLike] | None = None,
        validation: tuple[FloatArray, FloatArray] | None = None,
        patience: int | None = None,
        min_delta: float = 0.0,
        restore_best: bool = False,
        log_every: int | None = None,
        callback: EpochCallback | None = None,
        diagnose: bool = True,
    ) -> None:
        self.epochs = check_int(epochs, "epochs", 0)
        self.batch_size = min(n, 32 if batch_size is None else check_int(batch_size, "batch_size", 1))
        if order is not None and not callable(order):
            raise TypeError(f"order must be a callable n -> permutation, got {order!r}")
        self.order = order
        self.validation = validation
        self.patience = None if patience is None else check_int(patience, "patience", 1)
        self.min_delta = check_real(min_delta, "min_delta", 0)
        if not isinstance(restore_best, (bool, np.bool_)):
            raise TypeError(f"restore_best must be True or False, got {restore_best!r}")
        self.restore_best = bool(restore_best)
        for name, given in (("patience", self.patience is not None),
                            ("restore_best", self.restore_best),
                            ("min_delta", self.min_delta != 0)):
            if given and validation is None:
                raise ValueError(f"{name} needs validation_data to watch")
        self.log_every = None if log_every is None else check_int(log_every, "log_every", 1)
        self.callback = check_callback(callback)
        if not isinstance(diagnose, (bool, np.bool_)):
            raise TypeError(f"diagnose must be True or False, got {diagnose!r}")
        self.diagnose = bool(diagnose)

    def run(self, run: Run, data: Sequence[FloatArray]) -> History:
        """Train ``run`` on ``data``; return the :class:`~matnn.History`.

        Parameters
        ----------
        run : Run
        data : tuple of ndarray
            ``(X, Y)``, then any further per-row arrays (sample weights,
            say): all with ``n`` rows, shuffled and batched together, so
            each batch is a tuple of the same length. ``X`` and ``Y`` are
            what :meth:`Run.evaluate` is given. ``X`` may also be a scipy
            sparse matrix in CSR format (for a run whose products take one):
            a shuffled epoch then gathers its rows by indexing, into a new
            matrix.
        """
        X, Y = data[:2]
        n, batch_size = X.shape[0], self.batch_size
        if any(a.shape[0] != n for a in data):
            raise ValueError(f"the arrays to train on must have {n} rows each, got "
                             f"{[a.shape[0] for a in data]}")
        dense = all(isinstance(a, np.ndarray) for a in data)
        if self.order is not None and dense:
            # Each epoch gathers the data in its new order into these buffers,
            # so the batches (views into them) are made once.
            shuffled = tuple(np.empty_like(a) for a in data)
            batches = _split(shuffled, batch_size)
        else:
            batches = _split(data, batch_size)
        members = () if run.members is None else (run.members,)
        if self.diagnose:
            # Parameters too large to evaluate are reported as divergence below.
            with _quiet():
                start = run.full(run.evaluate(X, Y, None)[0])
        else:
            start = None
        # The right answers, for the accuracy: found once, not every epoch.
        truth = run.truth(Y) if run.classifies else None
        start_params = run.params_full().copy() if self.diagnose else None
        losses: list[Any] = []
        val_losses: list[Any] = []
        accuracy: list[Any] = []
        val_accuracy: list[Any] = []
        lowest: Any = None
        best_params: Any = None
        validated = self.validation is not None
        if validated:
            Xv, Yv = self.validation  # type: ignore[misc]  # validated: not None
            val_truth = run.truth(Yv) if run.classifies else None
            # best and improved_at serve patience (improvements by more than
            # min_delta); lowest and best_epoch the lowest loss, to restore.
            best, lowest = np.full(members, np.inf), np.full(members, np.inf)
            improved_at, best_epoch = np.full(members, -1), np.full(members, -1)
            if self.restore_best:
                best_params = run.params_full().copy()
        stopped_early = False
        try:
            # Overflow is detected below and reported with its epoch and batch;
            # numpy's own warnings would only say which ufunc saw it.
            with _quiet():
                for epoch in range(self.epochs):
                    if not run.training:
                        break
                    if self.order is not None:
                        order = _checked_order(self.order(n), n)
                        if dense:
                            for a, into in zip(data, shuffled):
                                # A checked permutation is in range; "clip" spares
                                # take's checked copy through a buffer.
                                np.take(a, order, axis=0, out=into, mode="clip")
                        else:
                            batches = _split(tuple(a[order] for a in data), batch_size)
                    # The last planned epoch's evaluation may keep what the
                    # stuck check needs; only a diagnosing loop asks for it.
                    ending = {"last": True} if self.diagnose and epoch == self.epochs - 1 else {}
                    loss, acc, bad = run.epoch(batches, X, Y, truth, **ending)
                    # A network's flag is a bool, an ensemble's an array (np.any
                    # costs microseconds per epoch on a bool).
                    if bad is True or (isinstance(bad, np.ndarray) and bad.any()):
                        keep = run.diverged(bad, batches, epoch, losses)
                        loss, acc = loss[keep], None if acc is None else acc[keep]
                    losses.append(run.full(loss))
                    if run.classifies:
                        accuracy.append(run.full(acc))
                    if validated:
                        val, val_acc = run.evaluate(Xv, Yv, val_truth)
                        val = run.full(val)
                        val_losses.append(val)
                        if run.classifies:
                            val_accuracy.append(run.full(val_acc))
                        improved = val < best - self.min_delta
                        best = np.where(improved, val, best)
                        improved_at = np.where(improved, epoch, improved_at)
                        lower = val < lowest
                        lowest = np.where(lower, val, lowest)
                        best_epoch = np.where(lower, epoch, best_epoch)
                        if best_params is not None:
                            np.copyto(best_params, run.params_full(), where=lower)
                        if self.patience is not None and np.all(
                                (epoch - improved_at >= self.patience) | ~np.isfinite(val)):
                            stopped_early = True
                    if self.log_every is not None and epoch % self.log_every == 0:
                        print("Epoch %d loss: %.3f" % (epoch, loss))
                    if self.callback is not None:
                        run.publish()
                        record = EpochRecord(
                            epoch, _copy(losses[-1]),
                            _copy(val_losses[-1]) if validated else None,
                            _copy(accuracy[-1]) if run.classifies else None,
                            _copy(val_accuracy[-1]) if run.classifies and validated else None,
                            run.model)
                        if callback_stops(self.callback, record):
                            stopped_early = epoch + 1 < self.epochs
                            break
                    if stopped_early:
                        break
                if self.diagnose:
                    stuck = stuck_by_training(run, X, Y, start_params) if losses else (False,)
            if best_params is not None:
                run.load_full(best_params, np.asarray(best_epoch >= 0))
        finally:
            run.finish()
        if self.diagnose:
            warn_if_worse(start, losses[-1] if losses else start, *stuck)

        def curve(values: Any, recorded: bool = True) -> NDArray[np.float64] | None:
            if not recorded:
                return None
            values = np.array(values, dtype=np.float64)
            if run.members is not None:
                values = values.reshape(len(values), run.members).T
            return values

        return History(
            loss=curve(losses),  # type: ignore[arg-type]  # recorded: an array
            val_loss=curve(val_losses, validated),
            accuracy=curve(accuracy, run.classifies),
            val_accuracy=curve(val_accuracy, run.classifies and validated),
            stopped_early=stopped_early,
            best_epoch=None if lowest is None else
            best_epoch if run.members is not None else
            int(best_epoch) if best_epoch >= 0 else None,
        )


def _quiet() -> np.errstate:
    """numpy's floating-point warnings off, where the loop reports the problem itself."""
    return np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore")


def _checked_order(order: ArrayLike, n: int) -> NDArray[np.integer[Any]]:
    """``order`` if it is a permutation of ``range(n)``, else a clear error."""
    order = np.asarray(order)
    if order.shape != (n,) or order.dtype.kind not in "iu" or (n and (
            order.min() < 0 or order.max() >= n
            or not (np.bincount(order, minlength=n) == 1).all())):
        raise ValueError(
            f"the shuffle order must be a permutation of range({n}), got an array of dtype "
            f"{order.dtype} and shape {order.shape} that is not one"
        )
    return order


def _copy(value: T) -> T:
    return value.copy() if isinstance(value, np.ndarray) else value


def _split(data: Sequence[FloatArray], batch_size: int) -> list[tuple[FloatArray, ...]]:
    """The batches of one epoch: tuples of views, one per array in ``data``."""
    starts = range(0, data[0].shape[0], batch_size)
    return list(zip(*([a[s:s + batch_size] for s in starts] for a in data)))
