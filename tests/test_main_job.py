"""The main job, `matnn demo`, run through the real entry point."""

import re
import subprocess
import sys


def run_matnn(*args):
    return subprocess.run([sys.executable, "-m", "matnn", *args],
                          capture_output=True, text=True, timeout=120)


def test_demo_trains_both_forms_to_the_same_log_and_parameters():
    result = run_matnn("demo", "--seed", "3")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    scalar_part, matrix_part = out.split("== The matrix-form network")
    scalar_log = re.findall(r"^Epoch \d+ loss: \d\.\d{3}$", scalar_part, re.M)
    matrix_log = re.findall(r"^Epoch \d+ loss: \d\.\d{3}$", matrix_part, re.M)
    assert len(scalar_log) == 100
    assert matrix_log == scalar_log
    assert "np.random.seed(3)" in out
    emily = re.search(r"^Emily \[-7, -3\]: scalar (\S+), matrix (\S+) - F", out, re.M)
    frank = re.search(r"^Frank \[20, 2\]: scalar (\S+), matrix (\S+) - M", out, re.M)
    assert emily and emily.group(1) == emily.group(2)
    assert frank and frank.group(1) == frank.group(2)
    diff = re.search(r"Largest difference between scalar and matrix parameters: (\S+)", out)
    assert float(diff.group(1)) < 1e-12
    assert result.stderr == ""


def test_demo_help_describes_the_command():
    result = run_matnn("demo", "--help")
    assert result.returncode == 0
    assert "--seed" in result.stdout and "--plot" in result.stdout
