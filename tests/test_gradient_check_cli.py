"""``matnn gradcheck``, run as a user runs it: the real entry point in a subprocess."""

import subprocess
import sys


def matnn(*args):
    return subprocess.run([sys.executable, "-m", "matnn", "gradcheck", *args],
                          capture_output=True, text=True, timeout=60)


def test_with_no_arguments_it_checks_the_documents_worked_example():
    run = matnn()
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("The document's network at its worked example: Alice "
                               "(x = [-2, -1], y_true = 1), every weight 1")
    assert lines[1].startswith("gradcheck passed: method 'central', eps 5e-06")
    rows = [line.split()[:3] for line in lines[3:]]
    assert rows == [["layers[0].W", "(2,", "2)"], ["layers[0].b", "(2,)", "b1,"],
                    ["layers[1].W", "(1,", "2)"], ["layers[1].b", "(1,)", "b3"]]


def test_a_random_network_from_the_issue_passes_with_exit_status_0():
    run = matnn("--sizes", "2,2,1", "--activation", "sigmoid", "--batch", "8",
                "--dtype", "float64", "--seed", "0")
    assert run.returncode == 0, run.stderr
    assert "A random 2,2,1 sigmoid network, float64, on 8 random samples" in run.stdout
    assert "gradcheck passed" in run.stdout


def test_a_deeper_float32_network_under_scipy_passes():
    run = matnn("--sizes", "3,5,4,2", "--activation", "tanh", "--dtype", "float32",
                "--method", "scipy")
    assert run.returncode == 0, run.stderr
    assert "dtype float32" in run.stdout
    assert [line.split()[0] for line in run.stdout.splitlines()[3:]] == [
        f"layers[{l}].{kind}" for l in range(3) for kind in "Wb"]


def test_a_step_far_too_large_fails_with_exit_status_1_and_the_worst_entries():
    # With eps = 0.5 the central difference's truncation error dwarfs the
    # default tolerances: an honest way for a check to disagree.
    run = matnn("--eps", "0.5")
    assert run.returncode == 1, run.stderr
    assert "gradcheck FAILED in 4 of 4 arrays" in run.stdout
    assert "layers[0].W, shape (2, 2): 4 of 4 checked entries mismatch" in run.stdout
    assert "\n    (0, 0) w1 " in run.stdout


def test_bad_options_exit_2_with_a_message():
    run = matnn("--sizes", "2,x")
    assert run.returncode == 2
    assert "argument --sizes: expected at least two widths >= 1 such as 2,2,1, got '2,x'" \
        in run.stderr
    run = matnn("--eps", "-1")
    assert run.returncode == 2
    assert "argument --eps: expected a finite number > 0, got '-1'" in run.stderr
