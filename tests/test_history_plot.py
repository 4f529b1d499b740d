"""History.plot: the curves it is given, on the axis they need (matplotlib, the plot extra)."""

import sys

import numpy as np
import pytest

from matnn import History

matplotlib = pytest.importorskip("matplotlib", reason="History.plot needs matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def curves(ax):
    """{label: y data} of the labelled lines on ``ax``."""
    return {line.get_label(): line.get_ydata() for line in ax.get_lines()
            if not line.get_label().startswith("_")}


def test_loss_and_val_loss_on_a_linear_axis():
    ax = History([0.5, 0.3, 0.2], [0.6, 0.4, 0.35]).plot()
    shown = curves(ax)
    np.testing.assert_array_equal(shown["loss"], [0.5, 0.3, 0.2])
    np.testing.assert_array_equal(shown["val_loss"], [0.6, 0.4, 0.35])
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [0, 1, 2])
    assert ax.get_yscale() == "linear" and ax.get_ylabel() == "loss"
    assert ax.get_xlabel() == "epoch"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["loss", "val_loss"]
    assert ax.figure.axes == [ax]  # no accuracy, no second axis


def test_a_loss_that_spans_decades_gets_a_log_axis():
    ax = History([0.4, 0.05, 0.004]).plot()
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "loss (log scale)"
    # The validation curve counts too.
    assert History([0.4, 0.3], [5.0, 0.2]).plot().get_yscale() == "log"


def test_accuracy_goes_on_a_second_axis_from_0_to_1():
    history = History([0.7, 0.4], [0.8, 0.5], accuracy=[0.5, 0.75], val_accuracy=[0.25, 0.5])
    ax = history.plot()
    left, right = ax.figure.axes
    assert left is ax
    np.testing.assert_array_equal(curves(right)["accuracy"], [0.5, 0.75])
    np.testing.assert_array_equal(curves(right)["val_accuracy"], [0.25, 0.5])
    assert right.get_ylim() == (0, 1.02) and right.get_ylabel() == "accuracy"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["loss", "val_loss", "accuracy", "val_accuracy"]


def test_an_ensemble_draws_a_line_per_member():
    loss = np.array([[0.5, 0.4], [0.6, 0.2], [0.9, 0.8]])
    ax = History(loss).plot()
    lines = ax.get_lines()
    assert len(lines) == 3
    for line, member in zip(lines, loss):
        np.testing.assert_array_equal(line.get_ydata(), member)


def test_the_kept_epoch_is_marked():
    ax = History([0.5, 0.4, 0.45], [0.6, 0.5, 0.55], best_epoch=1).plot()
    (mark,) = [ln for ln in ax.get_lines() if ln.get_label() == "best_epoch 1"]
    np.testing.assert_array_equal(mark.get_xdata(), [1, 1])


def test_lbfgs_counts_iterations():
    assert History([0.5, 0.1], converged=True).plot().get_xlabel() == "iteration"


def test_it_draws_where_it_is_told():
    fig, (a, b) = plt.subplots(1, 2)
    assert History([0.5, 0.4]).plot(ax=b) is b
    assert not a.get_lines() and len(b.get_lines()) == 1


def test_without_matplotlib_it_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install 'matnn\[plot\]'"):
        History([0.5]).plot()
