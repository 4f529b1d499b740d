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

import numpy as np

from .validation import check_callback

__all__ = ["ProgressBar", "progress_callback"]


def progress_callback(progress, total, unit, callback):
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

    def __init__(self, total, unit, then=None):
        self.total, self.unit, self.then = total, unit, check_callback(then)
        self.bar = None

    def __call__(self, record):
        if self.bar is None:
            # tqdm.auto decides here, where the bar is shown: a widget in a notebook.
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.total, unit=self.unit, desc="fit", leave=True,
                            disable=False)
        self.bar.set_postfix(_fields(record), refresh=False)
        self.bar.update(1)
        return None if self.then is None else self.then(record)

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if self.bar is None:
            return
        if kind is None and self.bar.n < self.total:
            # Stopped early (patience, the callback, L-BFGS converged): that is
            # where this run ends, not a failure.
            self.bar.total = self.bar.n
            self.bar.set_description("fit (ended early)", refresh=False)
        self.bar.close()


def _fields(record):
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
