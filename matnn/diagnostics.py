"""What a training run can end in besides success, and how it is told.

A run that stops being finite raises :class:`TrainingDiverged`. A run that
ends clearly worse than it started, or stuck with no gradient flowing (a
sigmoid or tanh saturated at its limits, dead relu units), finishes but
warns with :class:`LossIncreasedWarning`, pointed at the user's own line.
The training loop (:mod:`matnn.training`) and the full-batch driver
(:mod:`matnn.lbfgs`) both report through here.
"""

from __future__ import annotations

import sys
import warnings
from types import FrameType
from typing import Any

import numpy as np

from ._typing import FloatArray, NDArray

__all__ = ["TrainingDiverged", "LossIncreasedWarning", "WORSE_FACTOR", "stuck_by_training",
           "warn_if_worse"]

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

    def __init__(
        self, message: str, epoch: int, batch: int | None, history: NDArray[np.float64]
    ) -> None:
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
    diverges, yet the network has stopped learning. A network that was
    stuck so from the start (a second ``fit`` of a saturated network, or
    a start that saturates) is reported as one that could not train.
    """


def stuck_by_training(
    run: Any, X: FloatArray, Y: FloatArray, start_params: Any
) -> tuple[Any, Any]:
    """Which members ended stuck (see :meth:`Run.stuck`), and which of those started so.

    The starting parameters are checked only when some member ends stuck.
    Members that failed have left the run (``full`` gives them NaN, not stuck).

    Returns
    -------
    stuck, from_start : bool, or ndarray of bool of shape (n_models,)
    """
    stuck = run.full(run.stuck(X, Y)) == 1
    if not np.any(stuck):
        return stuck, stuck
    end_params = run.params_full().copy()
    everyone = np.ones(np.shape(stuck), bool)
    run.load_full(start_params, everyone)
    try:
        return stuck, stuck & (run.full(run.stuck(X, Y)) == 1)
    finally:
        run.load_full(end_params, everyone)



def warn_if_worse(start: Any, final: Any, stuck: Any, from_start: Any = False) -> None:
    """Warn (:class:`LossIncreasedWarning`) when training ended worse than it started, or stuck.

    ``start`` and ``final`` are losses, ``stuck`` what :meth:`Run.stuck`
    found at the end and ``from_start`` where it found it at the start
    too: one value each, or one per member. A network stuck from the start
    could not train at all, which the warning says.
    """
    start, final = np.asarray(start, float), np.asarray(final, float)
    worse = np.isfinite(final) & np.isfinite(start) & (final > WORSE_FACTOR * start)
    stuck = np.asarray(stuck) & ~worse
    from_start = np.asarray(from_start) & stuck
    if not (worse.any() or stuck.any()):
        return
    if worse.ndim == 0 and worse:
        what = f"the loss went from {float(start):.4g} to {float(final):.4g}"
    elif worse.ndim == 0 and from_start:
        what = (f"its gradient was exactly 0 from the start, with the loss at "
                f"{float(start):.4g}, so no step could move it")
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
                         "of exactly 0 and a loss above 0"
                         + (f" ({int(from_start.sum())} of them from the start)"
                            if from_start.any() else ""))
        what = (f"{'; '.join(parts)} (member {k}: loss from {start[k]:.4g} to "
                f"{final[k]:.4g})")
    # Every stuck member stuck from the start: its parameters, not the rate, are the cause.
    could_not = not worse.any() and bool((stuck == from_start).all())
    headline = ("training made the network worse" if worse.any() else
                "the network could not train" if could_not else
                "training left the network stuck")
    remedy = ("start from other parameters" if could_not else "try a smaller learning rate")
    warnings.warn(
        f"{headline}: {what}. The outputs have probably saturated (sigmoid or tanh units "
        f"at their limits, or dead relu units); {remedy}, or scale the inputs.",
        LossIncreasedWarning, stacklevel=_first_caller_outside_matnn(),
    )


def _first_caller_outside_matnn() -> int:
    """The ``stacklevel`` that points a warning at the user's line that called matnn.

    Counted from the caller of this function, which is the one that warns:
    ``fit`` is reached through different depths of matnn's own frames.
    """
    frame: FrameType | None = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_globals.get("__name__", "").split(".")[0] == "matnn":
        frame, level = frame.f_back, level + 1
    return level
