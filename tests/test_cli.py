"""The command line: ``main(argv)`` in-process, and ``python -m matnn`` where a real process matters.

``main(argv)`` is what the entry point runs, so most commands call it here,
in this process: a new Python costs a start-up and the numpy/scipy imports.
Real processes check what only a process shows: the exit status of the entry
point, a fresh import of a missing matplotlib, warnings under a fresh
interpreter's filters, and Ctrl-C.
"""

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import matnn
from matnn import data
from matnn.cli import main

REPO = Path(__file__).resolve().parents[1]

PEOPLE_CSV = "weight,height,female\n" + "".join(
    f"{x1},{x2},{y}\n" for (x1, x2), y in zip(data.X.tolist(), data.y.tolist())
)
QUERY_CSV = "-7,-3\n20,2\n"


def run(args, cwd, pythonpath=()):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([*map(str, pythonpath), str(REPO)]))
    return subprocess.run([sys.executable, "-m", "matnn", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


class Done:
    """What one command did, as subprocess.CompletedProcess has it."""

    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run_main(args, cwd):
    """``main(args)`` in this process, in ``cwd``, with its exit status and output."""
    out, err, before = io.StringIO(), io.StringIO(), os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(args)
            except SystemExit as exc:  # argparse's exit: --help, a usage error
                status = exc.code
    finally:
        os.chdir(before)
    return Done(status, out.getvalue(), err.getvalue())


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    (d / "people.csv").write_text(PEOPLE_CSV)
    (d / "query.csv").write_text(QUERY_CSV)
    (d / "ragged.csv").write_text("1,2,3\n4,5,6\n7,8\n")
    (d / "words.csv").write_text("a,b,c\n1,2,3\n4,five,6\n")
    (d / "typo.csv").write_text("-2,-1x,1\n25,6,0\n")
    (d / "garbage.npz").write_bytes(b"PK\x03\x04" + bytes(range(200)))
    matnn.Network.from_sizes([2, 2, 1], seed=0).save(d / "model.npz")
    # A package named matplotlib that refuses to import, found first on the path.
    blocker = d / "no-matplotlib" / "matplotlib"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('blocked for this test')\n")
    return d


COMMANDS = ["demo", "explain", "train", "predict", "evaluate", "digits"]

# Each error case the command line must report in one line with exit status 2.
ERRORS = {
    "missing csv": (["train", "missing.csv"], "no such file: missing.csv"),
    "not a number": (["train", "words.csv"], "words.csv: line 3, column 2: 'five' is not a number"),
    "wrong column count": (["train", "people.csv", "--sizes", "2,2,2"],
                           "people.csv has 3 columns, but sizes 2,2,2 need 2 feature + 2 target"),
    "bad model file": (["predict", "garbage.npz", "query.csv"],
                       "garbage.npz: corrupted or truncated archive"),
    # Would hang for hours building 10**12 networks; refused from an estimate.
    "runs beyond memory": (["seeds", "--runs", str(10**12)],
                           "1000000000000 runs x 1 learning rate x 1000 epochs needs "
                           "about "),
    "ragged csv": (["train", "ragged.csv"], "ragged.csv: line 3 has 2 columns, but the first row has 3"),
    "features vs model": (["predict", "model.npz", "people.csv"],
                          "people.csv has 3 columns, but the model in model.npz takes 2 features"),
    "csv as model": (["predict", "people.csv", "query.csv"],
                     "people.csv: not a matnn model file"),
    "missing model": (["predict", "missing.npz", "query.csv"], "no such file: missing.npz"),
    "diverging": (["train", "people.csv", "--activation", "identity", "--lr", "1000",
                   "--epochs", "20"], "try a smaller learning_rate"),
    "x without y": (["explain", "--x=1,2"], "--x and --y go together"),
    "sample and x": (["explain", "--sample", "bob", "--x=1,2", "--y", "0"],
                     "choose the sample with --sample or with --x/--y, not both"),
    "unwritable save": (["train", "people.csv", "--epochs", "1", "--save", "no-dir/m.npz"],
                        "cannot write no-dir/m.npz"),
    "typo in the first row": (["train", "typo.csv"],
                              "typo.csv: line 1, column 2: '-1x' is not a number, but other "
                              "fields of this first row are"),
    "header refused": (["train", "people.csv", "--no-header"],
                       "people.csv: line 1, column 1: 'weight' is not a number"),
    "predict header refused": (["predict", "model.npz", "people.csv", "--no-header"],
                               "people.csv: line 1, column 1: 'weight' is not a number"),
    "epochs beyond memory": (["train", "people.csv", "--epochs", str(10**15)],
                             "for 1000000000000000 epochs needs about "),
    "hidden layer beyond memory": (["train", "people.csv", "--sizes", f"2,{10**11},1"],
                                   "training a 2,100000000000,1 network on 4 rows"),
    "batch beyond memory": (["gradcheck", "--batch", str(10**14)],
                            "checking a 2,2,1 network on 100000000000000 samples needs about"),
    "step too large": (["gradcheck", "--eps", "1e308"], "eps=1e+308 is too large"),
    "step too small": (["gradcheck", "--eps", "1e-300"], "eps=1e-300 is too small"),
}

EXPLAINED = {
    "default": [],
    "raw seeded w6": ["--x=-7,-3", "--y", "1", "--param", "w6", "--seed", "1"],
}


TRAIN = ["train", "people.csv", "--epochs", "1000", "--seed", "5", "--save", "trained.npz"]


@pytest.fixture(scope="module")
def results(workdir):
    """The commands several tests look at, each run once: name -> Done."""
    done = {f"help {c}": run_main([c, "--help"] if c else ["--help"], workdir)
            for c in ["", *COMMANDS]}
    done.update({f"explain {k}": run_main(["explain", *a], workdir) for k, a in EXPLAINED.items()})
    done["demo"] = run_main(["demo", "--seed", "3"], workdir)
    # Predicting needs the model that train saved.
    done["train"] = run_main(TRAIN, workdir)
    done["predict"] = run_main(["predict", "trained.npz", "query.csv"], workdir)
    done["predict --out"] = run_main(["predict", "trained.npz", "query.csv", "--out",
                                      "predictions.csv"], workdir)
    return done


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_every_command_has_help(results, command):
    done = results[f"help {command}"]
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: matnn {command}".rstrip())
    assert done.stderr == ""
    if not command:
        for listed in COMMANDS:
            assert listed in done.stdout


def test_explain_prints_the_documents_numbers(results):
    done = results["explain default"]
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("dL/dw1 for Alice: x1 = -2, x2 = -1, y_true = 1\n")
    for number in ["= 0.0474", "= 0.524", "= -0.953", "= 0.249", "= -0.0904", "= 0.0215"]:
        assert number in out
    flat = " ".join(out.split())
    assert "the document shows -0.952 instead of -0.953 and 0.0214 instead of 0.0215" in flat
    assert "dW1[0, 0] = delta1[0, 0] * X[0, 0] = -0.0107 * -2 = 0.0215" in out
    scalar_line, matrix_line, difference = out.splitlines()[-3:]
    scalar_value = float(scalar_line.split()[-1])
    matrix_value = float(matrix_line.split()[-1])
    assert matrix_value == pytest.approx(scalar_value, rel=1e-14)
    assert difference.split()[0] == "difference"
    assert float(difference.split()[-1]) == pytest.approx(matrix_value - scalar_value, abs=1e-17)


def test_explain_another_sample_and_parameter(capsys):
    assert main(["explain", "--sample", "bob", "--param", "b3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("dL/db3 for Bob: x1 = 25, x2 = 6, y_true = 0\n")
    assert "dL/db3 = dL/dy_pred * dy_pred/db3" in out
    assert "db2[0] = delta2[0, 0] = " in out


def test_explain_takes_a_negative_first_input_as_the_value_of_x(capsys):
    assert main(["explain", "--x", "-1,2", "--y", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("dL/dw1 for the sample: x1 = -1, x2 = 2, y_true = 1\n")
    # w1 x1 + w2 x2 + b1 with every weight 1: -1 + 2 = 1
    assert "h1 = f(w1 x1 + w2 x2 + b1) = f(1) = 0.731" in out


@pytest.mark.parametrize("name, x, label", [("Emily", (-7, -3), 1), ("Frank", (20, 2), 0)])
def test_explain_takes_the_lessons_emily_and_frank(capsys, name, x, label):
    assert main(["explain", "--sample", name.lower()]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"dL/dw1 for {name}: x1 = {x[0]}, x2 = {x[1]}, y_true = {label}\n")


def test_explain_a_raw_sample_with_seeded_weights(results):
    done = results["explain raw seeded w6"]
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("dL/dw6 for the sample: x1 = -7, x2 = -3, y_true = 1\n")
    assert "after np.random.seed(1)" in out
    assert "dW2[0, 1] = delta2[0, 0] * A1[0, 1]" in out
    from matnn.explain import explain

    expected = explain("w6", x=[-7, -3], y_true=1, seed=1)
    assert f"scalar chain  {expected.chain!r}" in out


def test_demo_with_a_seed(results):
    done = results["demo"]
    assert done.returncode == 0, done.stderr
    assert "np.random.seed(3)" in done.stdout
    assert "Emily [-7, -3]" in done.stdout and "Frank [20, 2]" in done.stdout
    last = done.stdout.splitlines()[-1]
    assert last.startswith("Largest difference between scalar and matrix parameters: ")
    assert float(last.split()[-1]) < 1e-12


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_errors_are_one_line_and_exit_2(workdir, monkeypatch, capsys, case):
    args, message = ERRORS[case]
    monkeypatch.chdir(workdir)
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"matnn {args[0]}: error: ")
    assert message in lines[0]


def test_a_missing_matplotlib_is_one_line_and_exit_2_before_training(workdir):
    # A real process: the entry point's exit status, and a fresh import that fails.
    done = run(["demo", "--plot", "loss.png"], workdir, [workdir / "no-matplotlib"])
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == ("matnn demo: error: plotting needs matplotlib, an optional extra: "
                           "pip install 'matnn[plot]'\n")


def test_train_save_then_predict(workdir, results):
    trained = results["train"]
    assert trained.returncode == 0, trained.stderr
    lines = trained.stdout.splitlines()
    assert lines[0].endswith("on 4 rows of people.csv (header row detected)")
    assert lines[1] == "features: weight, height; target: female; loss: MSE"
    assert lines[2] == ("1000 epochs, plain SGD (the lesson's rule), learning rate 0.1, "
                        "batch size 1, seed 5")
    # stderr is not a terminal: no progress bar, and stdout holds the results alone.
    assert trained.stderr == ""
    assert len(lines) == 5
    assert lines[-1] == "Saved the model to trained.npz"

    # The saved network is the one --seed determines, and its loss is the one printed.
    net = matnn.load(workdir / "trained.npz")
    rng = np.random.default_rng(5)
    twin = matnn.Network.from_sizes([2, 2, 1], seed=rng)
    history = twin.fit(data.X, data.y, epochs=1000, learning_rate=0.1, batch_size=1, seed=rng)
    np.testing.assert_array_equal(net.params, twin.params)
    assert lines[-2] == f"Final loss (MSE over all 4 rows): {history[-1]:.6g}"

    to_stdout = results["predict"]
    assert to_stdout.returncode == 0, to_stdout.stderr
    # stdout is the CSV alone; which the first row was is said on stderr.
    assert to_stdout.stderr == "matnn predict: query.csv: no header row detected\n"
    header, *rows = to_stdout.stdout.splitlines()
    assert header == "y_pred"
    expected = net.predict([data.EMILY, data.FRANK])[:, 0]
    assert [float(r) for r in rows] == expected.tolist()

    to_file = results["predict --out"]
    assert to_file.returncode == 0, to_file.stderr
    assert to_file.stdout == (
        "Wrote 2 predictions to predictions.csv (query.csv: no header row detected)\n")
    assert (workdir / "predictions.csv").read_text() == to_stdout.stdout


def test_the_docs_show_the_real_explain_output(results):
    page = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    block = page.split("$ matnn explain\n", 1)[1].split("```", 1)[0]
    assert block == results["explain default"].stdout


@pytest.mark.parametrize("command", ["demo", "explain", "train people.csv"])
@pytest.mark.parametrize("seed", ["-1", "4294967296", "x"])
def test_a_seed_numpy_would_refuse_is_a_usage_error(workdir, monkeypatch, capsys, command, seed):
    monkeypatch.chdir(workdir)
    with pytest.raises(SystemExit) as info:
        main([*command.split(), "--seed", seed])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.splitlines()[-1].endswith(
        f"argument --seed: expected a seed from 0 to 2**32 - 1, got '{seed}'")


def test_the_header_option_is_obeyed_and_reported(workdir, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    # Told so, the mixed first row is a header, and one row of data is left.
    assert main(["train", "typo.csv", "--header", "--epochs", "1"]) == 0
    first, features = capsys.readouterr().out.splitlines()[:2]
    assert first.endswith("on 1 rows of typo.csv (header row, as --header says)")
    assert features == "features: -2, -1x; target: 1; loss: MSE"
    assert main(["predict", "model.npz", "query.csv", "--no-header", "--out", "p.csv"]) == 0
    assert capsys.readouterr().out == (
        "Wrote 2 predictions to p.csv (query.csv: no header row, as --no-header says)\n")


def test_running_out_of_memory_is_one_line(workdir, monkeypatch, capsys):
    import matnn.cli.seeds

    def exhausted(*args, **kwargs):
        raise MemoryError("Unable to allocate 8.00 GiB for an array with shape (10**9,)")

    monkeypatch.chdir(workdir)
    monkeypatch.setattr(matnn.cli.seeds, "train_seeds", exhausted)
    assert main(["seeds", "--runs", "3"]) == 2
    assert capsys.readouterr().err == (
        "matnn seeds: error: not enough memory (Unable to allocate 8.00 GiB for an array "
        "with shape (10**9,)); use smaller values\n")


def test_a_warning_during_a_command_is_one_line(workdir):
    # A matplotlib that warns (over two lines) while being imported, then fails.
    fake = workdir / "warning-matplotlib" / "matplotlib"
    fake.mkdir(parents=True, exist_ok=True)
    (fake / "__init__.py").write_text(
        "import warnings\n"
        "warnings.warn('training saturated:\\nthe loss grew', RuntimeWarning)\n"
        "raise ImportError('blocked for this test')\n")
    done = run(["demo", "--plot", "loss.png"], workdir, [fake.parent])
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "matnn demo: warning: training saturated: the loss grew",
        "matnn demo: error: plotting needs matplotlib, an optional extra: pip install "
        "'matnn[plot]'",
    ]


def test_ctrl_c_is_one_line_and_exit_130(workdir):
    import signal

    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    # Ten million epochs: far longer than the test waits.
    child = subprocess.Popen(
        [sys.executable, "-m", "matnn", "train", "people.csv", "--epochs", str(10**7)],
        cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().startswith("Training a 2,2,1 sigmoid network")
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 130
    assert err == "matnn train: interrupted\n"
