"""`matnn seeds`, run through the real entry point."""

import os
import re
import subprocess
import sys

import numpy as np

from matnn.seeds import CONVERGED, train_seeds


def run_matnn(*args, env=None):
    return subprocess.run([sys.executable, "-m", "matnn", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def test_seeds_reports_successes_loss_quantiles_and_the_slowest_seeds():
    result = run_matnn("seeds", "--runs", "12", "--epochs", "200", "--slowest", "4")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout
    (runs,) = train_seeds(range(12), (0.1,), epochs=200)

    success = re.search(r"^Emily classified F and Frank M: (\d+) of 12 runs", out, re.M)
    assert int(success.group(1)) == runs.correct.sum()
    quantiles = re.search(r"^Final loss: min (\S+), 5% (\S+), 25% (\S+), median (\S+), "
                          r"75% (\S+), 95% (\S+), max (\S+)$", out, re.M)
    expected = np.quantile(runs.final_loss, [0, 0.05, 0.25, 0.5, 0.75, 0.95, 1])
    assert [float(q) for q in quantiles.groups()] == [round(q, 5) for q in expected]
    assert f"first falls below {CONVERGED:g}" in out

    table = out.split("final loss   Emily   Frank\n")[1].splitlines()[:4]
    listed = [int(row.split()[0]) for row in table]
    assert listed == runs.seeds[runs.slowest(4)].tolist()
    epochs = runs.epochs_to()
    for row, i in zip(table, runs.slowest(4)):
        assert row.split()[1] == ("never" if epochs[i] < 0 else str(epochs[i]))
    assert "No run diverged." in out
    assert re.search(r"^Trained 12 runs x 200 epochs as one ensemble in \d+\.\d\d s$", out, re.M)


def test_seeds_sweeps_learning_rates_side_by_side():
    result = run_matnn("seeds", "--runs", "6", "--epochs", "60", "--lr", "0.01,0.1,1")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.findall(r"^== Learning rate (\S+)$", out, re.M) == ["0.01", "0.1", "1"]
    side_by_side = out.split("== Learning rates side by side\n")[1].splitlines()
    rows = [line.split() for line in side_by_side[1:4]]
    assert [row[0] for row in rows] == ["0.01", "0.1", "1"]
    for row, runs in zip(rows, train_seeds(range(6), (0.01, 0.1, 1.0), epochs=60)):
        assert row[1] == f"{runs.correct.mean():.1%}"
        assert float(row[2]) == round(float(np.median(runs.final_loss)), 5)
    assert "Trained 18 runs x 60 epochs" in out


def test_bad_options_fail_with_status_2():
    for args, message in [(["--lr", "0.1,0"], "expected comma-separated numbers > 0"),
                          (["--runs", "0"], "expected an integer >= 1")]:
        result = run_matnn("seeds", *args)
        assert result.returncode == 2
        assert message in result.stderr and result.stdout == ""


def test_plot_without_matplotlib_is_one_line_and_trains_nothing(tmp_path):
    # A package that fails to import stands in for a missing matplotlib.
    (tmp_path / "matplotlib").mkdir()
    (tmp_path / "matplotlib" / "__init__.py").write_text("raise ImportError('absent')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])))
    png = tmp_path / "losses.png"
    result = run_matnn("seeds", "--runs", "3", "--epochs", "5", "--plot", str(png), env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("matnn seeds: error: plotting needs matplotlib")
    assert not png.exists()


def test_seeds_help_describes_the_command():
    result = run_matnn("seeds", "--help")
    assert result.returncode == 0
    for option in ("--runs", "--epochs", "--lr", "--plot", "--slowest"):
        assert option in result.stdout
