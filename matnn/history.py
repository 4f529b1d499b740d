"""What a training run returns: the loss per epoch and how the run ended.

``fit`` used to return the array of losses, and code indexes it
(``history[-1]``), measures it (``len``), iterates over it or passes it to
numpy. :class:`History` keeps all of that working by behaving as its
``loss`` array in every one of those uses, and adds the validation curve and
how the run stopped. :meth:`History.plot` draws it with matplotlib.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING, Any, Iterator, Sequence, overload

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

from ._typing import ArrayLike, DTypeLike, NDArray

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["History", "spans_decades"]


class History(NDArrayOperatorsMixin):
    """The record of one training run.

    As a sequence and as an array it is its ``loss``: ``len(history)``,
    ``history[-1]``, ``history[2:5]``, ``for loss in history``,
    ``np.asarray(history)``, ``history.shape`` and arithmetic or comparisons
    (``history < 0.1``, giving arrays) act on ``loss``.

    Parameters
    ----------
    loss : array-like of shape (n_epochs,), or (n_models, n_epochs) for an ensemble
        The training loss after each epoch (after each iteration for L-BFGS).
    val_loss : array-like of loss's shape, optional
        The loss on the validation data after each epoch; None without
        validation data.
    accuracy, val_accuracy : array-like of loss's shape, optional
        Training and validation accuracy after each epoch, for classifiers.
    stopped_early : bool
        Whether training ended before the epochs asked for (patience ran
        out, or a callback asked to stop).
    best_epoch : int, ndarray of int of shape (n_models,), or None
        The 0-based epoch with the lowest validation loss (the one
        ``restore_best`` restores); for an ensemble one per member (-1 for a
        member that never improved); None without validation data.
    converged : bool or None
        L-BFGS only: whether scipy reported convergence. None for the
        step-by-step optimizers, which have no such notion.
    message : str or None
        L-BFGS only: scipy's reason for stopping.

    Attributes
    ----------
    loss : ndarray, float64
    val_loss, accuracy, val_accuracy : ndarray (float64) or None
    stopped_early : bool
    best_epoch : int or None
    converged : bool or None
    message : str or None
    """

    def __init__(
        self,
        loss: ArrayLike,
        val_loss: ArrayLike | None = None,
        *,
        accuracy: ArrayLike | None = None,
        val_accuracy: ArrayLike | None = None,
        stopped_early: bool = False,
        best_epoch: int | Sequence[int] | NDArray[np.integer[Any]] | None = None,
        converged: bool | None = None,
        message: str | None = None,
    ) -> None:
        self.loss = _curve(loss, "loss")
        if self.loss.ndim not in (1, 2):
            raise ValueError(
                "loss must have shape (n_epochs,) or (n_models, n_epochs), "
                f"got shape {self.loss.shape}"
            )
        self.val_loss = _curve(val_loss, "val_loss", self.loss.shape)
        self.accuracy = _curve(accuracy, "accuracy", self.loss.shape)
        self.val_accuracy = _curve(val_accuracy, "val_accuracy", self.loss.shape)
        if not isinstance(stopped_early, (bool, np.bool_)):
            raise TypeError(f"stopped_early must be True or False, got {stopped_early!r}")
        self.stopped_early = bool(stopped_early)
        if best_epoch is not None and self.loss.ndim == 2:
            # An ensemble's: one per member, -1 for a member that never improved.
            best_epoch = np.asarray(best_epoch)
            if best_epoch.shape != self.loss.shape[:1] or best_epoch.dtype.kind not in "iu" \
                    or not ((best_epoch >= -1) & (best_epoch < self.epochs)).all():
                raise ValueError(
                    f"an ensemble's best_epoch must be {self.loss.shape[0]} integers in "
                    f"[-1, {self.epochs}), got {best_epoch!r}"
                )
        elif best_epoch is not None:
            if isinstance(best_epoch, (bool, np.bool_)) or not isinstance(best_epoch, numbers.Integral):
                raise TypeError(f"best_epoch must be an integer or None, got {best_epoch!r}")
            # An Integral compares with ints (mypy sees Sequence & Integral here).
            if not 0 <= best_epoch < self.epochs:  # type: ignore[operator]
                raise ValueError(
                    f"best_epoch must be in [0, {self.epochs}), the epochs run; got {best_epoch}"
                )
            best_epoch = int(best_epoch)
        self.best_epoch = best_epoch
        if converged is not None and not isinstance(converged, (bool, np.bool_)):
            raise TypeError(f"converged must be True, False or None, got {converged!r}")
        self.converged = None if converged is None else bool(converged)
        if message is not None and not isinstance(message, str):
            raise TypeError(f"message must be a str or None, got {message!r}")
        self.message = message

    @property
    def epochs(self) -> int:
        """The number of epochs (L-BFGS: iterations) the run recorded."""
        return self.loss.shape[-1]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.loss.shape

    @property
    def ndim(self) -> int:
        return self.loss.ndim

    def __len__(self) -> int:
        return len(self.loss)

    def __getitem__(self, key: Any) -> Any:
        return self.loss[key]

    def __iter__(self) -> Iterator[np.float64]:
        return iter(self.loss)

    def __array__(self, dtype: DTypeLike | None = None, copy: bool | None = None) -> NDArray[Any]:
        if copy:
            return np.array(self.loss, dtype)
        return np.asarray(self.loss, dtype)

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        # Every History among the operands stands for its loss array.
        inputs = tuple(x.loss if isinstance(x, History) else x for x in inputs)
        if "out" in kwargs:
            kwargs["out"] = tuple(x.loss if isinstance(x, History) else x for x in kwargs["out"])
        return getattr(ufunc, method)(*inputs, **kwargs)

    def plot(self, ax: Axes | None = None) -> Axes:
        """Draw the loss and val_loss per epoch, and the accuracies if there are any.

        Needs matplotlib (``pip install 'matnn[plot]'``). The loss axis is
        logarithmic when the losses span a factor of 10 or more. Accuracy
        and val_accuracy go on a second y axis, on the right, from 0 to 1.
        An ensemble's history draws one thin line per member. The epoch
        ``restore_best`` kept is marked with a dotted line.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Where to draw; by default a new figure.

        Returns
        -------
        matplotlib.axes.Axes
            The loss axes (the accuracy axes, when drawn, is its twin, also
            in ``ax.figure.axes``).
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("History.plot needs matplotlib, an optional extra: "
                              "pip install 'matnn[plot]'") from None
        figure = None
        if ax is None:
            figure, ax = plt.subplots(figsize=(6.4, 4))
        epochs = np.arange(self.epochs)
        unit = "epoch" if self.converged is None else "iteration"
        handles = []
        thin = self.loss.ndim == 2
        for k, (label, curve) in enumerate((("loss", self.loss), ("val_loss", self.val_loss))):
            if curve is not None:
                lines = ax.plot(epochs, np.where(np.isfinite(curve), curve, np.nan).T,
                                color=f"C{k}", linewidth=0.8 if thin else 1.5,
                                alpha=0.5 if thin else 1.0)
                lines[0].set_label(label)
                handles.append(lines[0])
        if self.best_epoch is not None and not thin:
            # A single network's best_epoch is an int.
            handles.append(ax.axvline(int(self.best_epoch), color="grey",
                                      linestyle=":", label=f"best_epoch {self.best_epoch}"))
        losses = [c for c in (self.loss, self.val_loss) if c is not None]
        log = spans_decades(np.concatenate([c.ravel() for c in losses]))
        if log:
            ax.set_yscale("log")
        ax.set_xlabel(unit)
        ax.set_ylabel("loss (log scale)" if log else "loss")
        if self.accuracy is not None or self.val_accuracy is not None:
            right = ax.twinx()
            for k, (label, curve) in enumerate((("accuracy", self.accuracy),
                                                ("val_accuracy", self.val_accuracy)), start=2):
                if curve is not None:
                    lines = right.plot(epochs, curve.T, color=f"C{k}", linestyle="--",
                                       linewidth=0.8 if thin else 1.5,
                                       alpha=0.5 if thin else 1.0)
                    lines[0].set_label(label)
                    handles.append(lines[0])
            right.set_ylim(0, 1.02)
            right.set_ylabel("accuracy")
        ax.legend(handles=handles)
        if figure is not None:
            figure.tight_layout()
        return ax

    def __repr__(self) -> str:
        parts = [f"epochs={self.epochs}"]
        if self.epochs and self.loss.ndim == 1:
            parts.append(f"loss[-1]={self.loss[-1]:.6g}")
            if self.val_loss is not None:
                parts.append(f"val_loss[-1]={self.val_loss[-1]:.6g}")
        if self.best_epoch is not None:
            parts.append(f"best_epoch={self.best_epoch}")
        parts.append(f"stopped_early={self.stopped_early}")
        if self.converged is not None:
            parts.append(f"converged={self.converged}")
        return f"History({', '.join(parts)})"


def spans_decades(values: ArrayLike) -> bool:
    """True when the positive finite ``values`` span a factor of 10 or more: worth a log axis."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    return bool(v.size > 1 and v.max() >= 10 * v.min())


@overload
def _curve(values: None, name: str, shape: tuple[int, ...] | None = None) -> None: ...
@overload
def _curve(
    values: ArrayLike, name: str, shape: tuple[int, ...] | None = None
) -> NDArray[np.float64]: ...
@overload
def _curve(
    values: ArrayLike | None, name: str, shape: tuple[int, ...] | None = None
) -> NDArray[np.float64] | None: ...
def _curve(
    values: ArrayLike | None, name: str, shape: tuple[int, ...] | None = None
) -> NDArray[np.float64] | None:
    """``values`` as a float64 array (of ``shape`` when given), or None."""
    if values is None:
        return None
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of numbers: {exc}") from None
    if shape is not None and arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape} but loss has shape {shape}")
    return arr
