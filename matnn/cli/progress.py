"""Training progress: a tqdm bar on stderr, with the numbers of the epoch just done.

The bar is on by default when stderr is a terminal and off otherwise (a
file, a pipe, a CI log), so stdout holds only the command's results;
``--progress`` or ``--no-progress`` decides instead. The numbers are the
ones ``fit`` computed for its history and handed over in each
:class:`~matnn.EpochRecord`: nothing is evaluated again for the display.
"""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

__all__ = ["add_progress_option", "Progress"]


def add_progress_option(parser):
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction,
                        help="show a progress bar on stderr with each epoch's loss, "
                             "validation loss and accuracies (default: only when stderr "
                             "is a terminal)")


class Progress:
    """The ``fit`` callback that moves the bar one epoch (or iteration) per record.

    Use it as a context manager: leaving the block, however, ends the bar's
    line, so an error or Ctrl-C prints below it.

    Parameters
    ----------
    total : int
        The epochs (L-BFGS: the most iterations) asked for.
    unit : str
        ``"epoch"`` or ``"iteration"``.
    shown : bool or None
        ``--progress`` (True), ``--no-progress`` (False) or neither (None:
        shown when stderr is a terminal).
    """

    def __init__(self, total, unit, shown):
        if shown is None:
            shown = sys.stderr.isatty()
        self.bar = tqdm(total=total, unit=unit, file=sys.stderr, disable=not shown,
                        dynamic_ncols=True)

    def __call__(self, record):
        fields = {"loss": f"{record.loss:.4g}"}
        if record.val_loss is not None:
            fields["val_loss"] = f"{record.val_loss:.4g}"
        if record.accuracy is not None:
            fields["accuracy"] = f"{record.accuracy:.3f}"
        if record.val_accuracy is not None:
            fields["val_accuracy"] = f"{record.val_accuracy:.3f}"
        # The bar redraws at most a few times a second; update() decides when.
        self.bar.set_postfix(fields, refresh=False)
        self.bar.update(1)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.bar.close()
