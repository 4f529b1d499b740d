"""The PNG plots (an optional extra): log loss axis, titles, the seeds histogram."""

import contextlib
import io

import numpy as np
import pytest

from matnn import cli
from matnn.cli import plots

plt = pytest.importorskip("matplotlib.pyplot", reason="the PNG plots need matplotlib")


@pytest.fixture
def figures(monkeypatch):
    """The figures the commands would save, kept open for inspection."""
    kept = []
    monkeypatch.setattr(plots, "save_figure", lambda fig, path: kept.append(fig))
    yield kept
    for fig in kept:
        plt.close(fig)


def quiet(argv):
    with contextlib.redirect_stdout(io.StringIO()):
        return cli.main(argv)


def test_demo_loss_axis_is_logarithmic_with_seed_and_rate(figures):
    assert quiet(["demo", "--seed", "2", "--plot", "loss.png"]) == 0
    (ax,) = figures[0].axes
    # The loss falls from about 0.3 to about 0.002: over two decades.
    assert ax.get_yscale() == "log"
    assert "np.random.seed(2)" in ax.get_title() and "learning rate 0.1" in ax.get_title()


def test_seeds_histogram_splits_the_two_peaks(figures):
    assert quiet(["seeds", "--runs", "30", "--epochs", "300", "--lr", "0.1,1",
                  "--plot", "h.png"]) == 0
    axes = figures[0].axes
    assert [ax.get_title() for ax in axes] == ["30 seeds, learning rate 0.1, 300 epochs",
                                               "30 seeds, learning rate 1, 300 epochs"]
    labels = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert labels[0].startswith("w5, w6 of opposite signs")
    caption = " ".join(t.get_text() for t in figures[0].texts)
    assert "Two peaks: when w5 and w6 have opposite signs" in caption


def test_at_most_forty_misclassified_digits_are_drawn(figures, capsys):
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 1, size=(50, 64))
    y = np.zeros(50, dtype=int)
    predicted = np.r_[np.ones(45, dtype=int), np.zeros(5, dtype=int)]
    plots.plot_misclassified("wrong.png", X, y, predicted)
    assert capsys.readouterr().out == "Wrote 40 misclassified test digits to wrong.png\n"
    drawn = [ax for ax in figures[0].axes if ax.images]
    assert len(drawn) == 40
    assert [ax.get_title() for ax in drawn[:2]] == ["true 0\npredicted 1"] * 2
    assert figures[0]._suptitle.get_text() == "45 of 50 test digits misclassified (the first 40)"
