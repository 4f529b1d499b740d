"""fit(progress=True): a tqdm bar fed by the per-epoch callback (text outside Jupyter).

The notebook's widget is checked in test_notebook.py.
"""

import fcntl
import os
import struct
import subprocess
import sys
import termios

import numpy as np
import pytest

import matnn
from matnn import data
from matnn.seeds import document_networks


def lesson_net():
    (net,) = document_networks([0])
    return net


def fit_lesson(net, epochs=200, **kwargs):
    return net.fit(data.X, data.y, epochs=epochs, learning_rate=0.1, batch_size=1,
                   shuffle=False, **kwargs)


def last_line(err):
    """The bar as it was last drawn: tqdm redraws it after a carriage return."""
    return err.rstrip("\n").split("\r")[-1]


def test_no_bar_by_default(capsys):
    fit_lesson(lesson_net())
    assert capsys.readouterr() == ("", "")


def test_a_text_bar_with_the_last_loss(capsys):
    history = fit_lesson(lesson_net(), validation_data=(data.X, data.y), progress=True)
    out, err = capsys.readouterr()
    assert out == ""
    bar = last_line(err)
    assert bar.startswith("fit: 100%") and "200/200" in bar and "epoch/s" in bar
    assert f"loss={history.loss[-1]:.4g}, val_loss={history.val_loss[-1]:.4g}]" in bar


def test_the_users_callback_still_runs_and_stops(capsys):
    seen = []

    def stop_after_five(record):
        seen.append(record.epoch)
        return record.epoch < 4

    history = fit_lesson(lesson_net(), callback=stop_after_five, progress=True)
    assert seen == [0, 1, 2, 3, 4] and history.epochs == 5 and history.stopped_early
    bar = last_line(capsys.readouterr().err)
    assert bar.startswith("fit (ended early): 100%") and "5/5" in bar


def test_the_same_run_with_and_without_the_bar(capsys):
    with_bar, without = lesson_net(), lesson_net()
    np.testing.assert_array_equal(fit_lesson(with_bar, progress=True),
                                  fit_lesson(without))
    np.testing.assert_array_equal(with_bar.params, without.params)


def test_an_ensemble_shows_its_median_loss(capsys):
    ensemble = matnn.Ensemble(document_networks(range(5)))
    history = fit_lesson(ensemble, epochs=20, progress=True)
    bar = last_line(capsys.readouterr().err)
    assert f"median loss={np.median(history.loss[:, -1]):.4g}]" in bar


def test_lbfgs_counts_iterations(capsys):
    net = lesson_net()
    history = net.fit(data.X, data.y, optimizer=matnn.LBFGS(max_iter=5), progress=True)
    bar = last_line(capsys.readouterr().err)
    assert f"{history.epochs}/{history.epochs}" in bar and "iteration/s" in bar


@pytest.mark.parametrize("kwargs, error", [
    ({"progress": "yes"}, TypeError),
    ({"progress": True, "batch_size": 0}, ValueError),
    ({"progress": True, "callback": 3}, TypeError),
])
def test_a_refused_call_shows_no_bar(capsys, kwargs, error):
    net = lesson_net()
    before = net.params.copy()
    with pytest.raises(error):
        net.fit(data.X, data.y, epochs=5, learning_rate=0.1, **kwargs)
    assert capsys.readouterr() == ("", "")
    np.testing.assert_array_equal(net.params, before)


def test_a_run_that_diverges_still_closes_its_bar(capsys):
    net = matnn.Network.from_sizes([2, 2, 1], activation="identity", seed=0)
    with pytest.raises(matnn.TrainingDiverged):
        net.fit(data.X, data.y, epochs=100, learning_rate=1.0, batch_size=1, shuffle=False,
                progress=True)
    err = capsys.readouterr().err
    assert err.endswith("\n") and "/100" in last_line(err)


def test_in_a_terminal_the_bar_is_redrawn_in_place(tmp_path):
    # stderr on a pseudo-terminal of 24 rows and 80 columns, as in an interactive shell.
    main, child = os.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    code = ("import matnn; from matnn import data\n"
            "net = matnn.Network.from_sizes([2, 2, 1], seed=0)\n"
            "net.fit(data.X, data.y, epochs=50, learning_rate=0.1, progress=True)\n")
    process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=child)
    os.close(child)
    shown = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the terminal closes when the process ends
            break
        if not chunk:
            break
        shown += chunk
    os.close(main)
    assert process.wait(timeout=60) == 0
    text = shown.decode().replace("\r\n", "\n")  # the terminal ends lines with CR LF
    assert "\r" in text and "50/50" in last_line(text) and "\u2588" in text  # a drawn bar
