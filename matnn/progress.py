"""``fit(..., progress=True)``: a progress bar driven by the per-epoch callback.

The bar is one more callback on the hook ``fit`` already has (see
:class:`matnn.EpochRecord`): it advances once per epoch (per L-BFGS
iteration), shows the record's losses and accuracies, then hands the record
to the user's callback, whose answer (go on or stop) it passes back. It is
tqdm's ``tqdm.auto``: a widget in Jupyter, a text bar on stderr elsewhere.
The bar appears with the first epoch, so a call that ``fit`` refuses shows
nothing.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np

from ._typing import EpochCallback
from .validation import check_callback

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["ProgressBar", "progress_callback"]


def progress_callback(
    progress: bool | np.bool_, total: int, unit: str, callback: EpochCallback | None
) -> AbstractContextManager[EpochCallback | None]:
    """The callback ``fit`` runs with, as a context manager.

    Parameters
    ----------
    progress : bool
    total : int
        The epochs (iterations) planned.
    unit : str
        ``"epoch"`` or ``"iteration"``.
    callback : callable ``EpochRecord -> None | bool``, or None
        The user's.

    Returns
    -------
    context manager
        Entering gives ``callback`` itself, or with ``progress`` a
        :class:`ProgressBar` that calls it; leaving closes the bar.
    """
    callback = check_callback(callback)
    if not progress:
        return contextlib.nullcontext(callback)
    return ProgressBar(total, unit, callback)


class ProgressBar:
    """A tqdm bar advanced by each :class:`~matnn.EpochRecord`, then the user's callback.

    Parameters
    ----------
    total : int
    unit : str
    then : callable ``EpochRecord -> None | bool``, optional
    """

    def __init__(self, total: int, unit: str, then: EpochCallback | None = None) -> None:
        self.total, self.unit, self.then = total, unit, check_callback(then)
        self.bar: tqdm[Any] | None = None

    def __call__(self, record: Any) -> bool | None:
        if self.bar is None:
            # tqdm.auto decides here, where the bar is shown: a widget in a notebook.
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, unit=self.unit, desc="fit", leave=True,
                            disable=False)
        self.bar.set_postfix(_fields(record), refresh=False)
        self.bar.update(1)
        return None if self.then is None else self.then(record)

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.bar is None:
            return
        if kind is None and self.bar.n < self.total:
            # Stopped early (patience, the callback, L-BFGS converged): that is
            # where this run ends, not a failure.
            self.bar.total = self.bar.n
            self.bar.set_description("fit (ended early)", refresh=False)
        self.bar.close()


def _fields(record: Any) -> dict[str, str]:
    """The record's numbers for the bar: an ensemble's as the median over its finite members."""
    fields = {}
    for name in ("loss", "val_loss", "accuracy", "val_accuracy"):
        value = getattr(record, name)
        if value is None:
            continue
        if np.ndim(value):
            finite = np.asarray(value)[np.isfinite(value)]
            if not finite.size:
                continue
            name, value = f"median {name}", np.median(finite)
        fields[name] = f"{float(value):.4g}"
    return fields
