"""The PNG plots of ``demo``, ``digits`` and ``seeds``.

matplotlib is an optional extra: it is imported only when a plot is asked
for, and a command checks for it and for the plot's file name
(:func:`check_plot_path`) before it trains, so a missing matplotlib or a
format matplotlib cannot write costs one line, not a finished run. A plot
is written atomically, in the format its file name ends in, under exactly
that name.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .._typing import FloatArray, NDArray
from ..history import spans_decades
from .errors import CommandError
from .output import shown, write_file

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from ..history import History
    from ..seeds import SeedRuns

__all__ = ["pyplot", "check_plot_path", "save_figure", "plot_losses", "plot_learning_curves",
           "plot_misclassified", "plot_final_losses"]

#: At most this many misclassified digits are drawn.
MOST_DRAWN = 40


def pyplot() -> ModuleType:
    """matplotlib.pyplot with a headless backend, or a clear CommandError."""
    try:
        import matplotlib
    except ImportError:
        raise CommandError(
            "plotting needs matplotlib, an optional extra: pip install 'matnn[plot]'"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def check_plot_path(option: str, path: str) -> str:
    """The format matplotlib writes ``path`` in (its extension), or a one-line CommandError.

    Checked before a command trains. matplotlib would add ``.png`` to a name
    without an extension, so the file would not be the one asked for: a
    name must end in one of matplotlib's formats.
    """
    pyplot()
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    extension = os.path.splitext(path)[1][1:].lower()
    if extension not in formats:
        given = f"ends in .{extension}" if extension else "has no extension"
        raise CommandError(
            f"{option} {path}: the file name {given}, which is no format matplotlib "
            f"writes; end it in .png or another of its formats "
            f"({', '.join('.' + f for f in sorted(formats))})"
        )
    return extension


def save_figure(fig: Figure, path: str) -> None:
    """Write ``fig`` to ``path`` (checked by :func:`check_plot_path`) atomically, and close it."""
    import matplotlib.pyplot as plt

    extension = os.path.splitext(path)[1][1:].lower()
    try:
        write_file(path, lambda f: fig.savefig(f, format=extension, dpi=120))
    finally:
        plt.close(fig)


def plot_losses(
    path: str,
    scalar_log: Sequence[tuple[int, float]],
    history: History,
    *,
    seed: int,
    learning_rate: float,
) -> None:
    """``matnn demo --plot``: both forms' loss curves."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(np.arange(len(history)), history, label="matrix form (every epoch)")
    epochs, losses = zip(*scalar_log)
    ax.plot(epochs, losses, "o", markersize=3, label="scalar shim (every 10 epochs)")
    ax.set_xlabel("epoch")
    if spans_decades(history):
        ax.set_yscale("log")
        ax.set_ylabel("MSE loss (log scale)")
    else:
        ax.set_ylabel("MSE loss")
    ax.set_title(f"Training the document's network\nnp.random.seed({seed}), "
                 f"learning rate {learning_rate:g}")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path)
    print(f"Wrote the loss curve to {shown(path)}")


def plot_learning_curves(
    path: str, history: History, test_accuracy: float, shape: str, described: str
) -> None:
    """``matnn digits --plot``: training and validation loss and accuracy per epoch."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    epochs = np.arange(len(history))
    curves = ((left, history.loss, history.val_loss, "cross-entropy loss"),
              (right, history.accuracy, history.val_accuracy, "accuracy"))
    for ax, train, val, name in curves:
        if train is None:  # L-BFGS records only the training loss
            ax.set_visible(False)
            continue
        ax.plot(epochs, train, label="training")
        if val is not None:
            ax.plot(epochs, val, label="validation")
        if history.best_epoch is not None:
            ax.axvline(history.best_epoch, color="grey", linestyle=":",
                       label=f"kept: epoch {history.best_epoch}")
        ax.set_xlabel("epoch" if history.converged is None else "iteration")
        ax.set_ylabel(name)
        ax.legend()
    if spans_decades(history.loss):
        left.set_yscale("log")
        left.set_ylabel("cross-entropy loss (log scale)")
    fig.suptitle(f"The 8x8 digits: a {shape} network, {described}; "
                 f"test accuracy {test_accuracy:.3f}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    print(f"Wrote the learning curves to {shown(path)}")


def plot_misclassified(
    path: str, X: FloatArray, y: NDArray[np.integer[Any]], predicted: NDArray[np.integer[Any]]
) -> None:
    """``matnn digits --misclassified``: the test digits it got wrong, with both labels."""
    wrong = np.flatnonzero(predicted != y)
    if not wrong.size:
        print(f"No test digit was misclassified; {shown(path)} not written")
        return
    plt = pyplot()
    drawn = wrong[:MOST_DRAWN]
    columns = min(10, drawn.size)
    rows = -(-drawn.size // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(1.3 * columns, 1.55 * rows + 0.6),
                             squeeze=False)
    for ax in axes.flat:
        ax.set_axis_off()
    for ax, i in zip(axes.flat, drawn):
        ax.imshow(X[i].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"true {y[i]}\npredicted {predicted[i]}", fontsize=8)
    more = f" (the first {drawn.size})" if drawn.size < wrong.size else ""
    fig.suptitle(f"{wrong.size} of {len(y)} test digits misclassified{more}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)
    print(f"Wrote {drawn.size} misclassified test digits to {shown(path)}")


def plot_final_losses(path: str, results: Sequence[SeedRuns], epochs: int) -> None:
    """``matnn seeds --plot``: a histogram of final losses per learning rate."""
    plt = pyplot()
    fig, axes = plt.subplots(len(results), 1, figsize=(7, 2.2 + 2.6 * len(results)),
                             squeeze=False)
    for ax, r in zip(axes[:, 0], results):
        groups = [(r.final_loss[r.split], "w5, w6 of opposite signs (h1, h2 split the work)"),
                  (r.final_loss[~r.split], "w5, w6 of one sign (h1, h2 learned the same thing)")]
        losses = r.final_loss[np.isfinite(r.final_loss) & (r.final_loss > 0)]
        # Final losses can span decades, so the bins are even on a log scale.
        bins = (np.geomspace(losses.min(), losses.max(), 41)
                if losses.size and losses.min() < losses.max() else 40)
        ax.hist([g[g > 0] for g, _ in groups], bins=bins, stacked=True,
                label=[f"{label}: {g.size} runs" for g, label in groups])
        ax.set_xscale("log")
        ax.set_xlabel("final MSE loss (log scale)")
        ax.set_ylabel("runs")
        ax.set_title(f"{len(r.seeds)} seeds, learning rate {r.learning_rate:g}, {epochs} epochs",
                     fontsize=10)
        ax.legend(fontsize=8)
    fig.suptitle("Final loss of the document's network, run s from np.random.seed(s)")
    fig.text(0.5, 0.01, _two_peaks_caption(results), ha="center", va="bottom", fontsize=8,
             wrap=True)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    save_figure(fig, path)
    print(f"Wrote the histogram of final losses to {shown(path)}")


def _two_peaks_caption(results: Sequence[SeedRuns]) -> str:
    """Why the final losses form two peaks, with each group's median from these runs."""
    parts = []
    for r in results:
        if r.split.any() and (~r.split).any():
            parts.append(f"rate {r.learning_rate:g}: median "
                         f"{np.median(r.final_loss[r.split]):.2g} split vs "
                         f"{np.median(r.final_loss[~r.split]):.2g} same")
    if not parts:
        return "Every run ended with its hidden neurons in the same arrangement."
    return ("Two peaks: when w5 and w6 have opposite signs, one hidden neuron fires for the "
            "women and the other for the men, and the output ends closer to 0 and 1 (lower "
            "loss) than when both hidden neurons learned the same thing.\n" + "; ".join(parts))
