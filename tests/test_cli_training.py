"""``matnn train``'s optimizers, losses and validation, ``predict``'s classes, ``matnn digits``.

The commands call ``main()`` in-process, which is what the entry point runs
(tests/test_cli.py runs it as a real process where that matters); the runs
several tests look at are made once and shared.
"""

import importlib.util
import io
import os
import re
import sys

import numpy as np
import pytest

import matnn
from matnn import data
from matnn.cli import main
from matnn.cli.digits import confusion

from test_cli import PEOPLE_CSV, run_main

HAS_SKLEARN = importlib.util.find_spec("sklearn") is not None
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def three_blobs(n_per_class=20, seed=0):
    """Two features, three well-separated classes: label 0, 1, 2 in the last column."""
    rng = np.random.default_rng(seed)
    centres = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]])
    X = np.concatenate([c + 0.6 * rng.standard_normal((n_per_class, 2)) for c in centres])
    y = np.repeat(np.arange(3), n_per_class)
    order = rng.permutation(len(y))
    return X[order], y[order]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli-training")
    (d / "people.csv").write_text(PEOPLE_CSV)
    X, y = three_blobs()
    (d / "blobs.csv").write_text("x1,x2,label\n" + "".join(
        f"{a!r},{b!r},{c}\n" for (a, b), c in zip(X.tolist(), y.tolist())))
    (d / "blob-queries.csv").write_text("-2,0\n2,0.1\n0,2.4\n0.1,1\n")
    (d / "fraction.csv").write_text("1,2,0\n3,4,1.5\n")
    (d / "five.csv").write_text("1,2,0\n3,4,5\n")
    (d / "two.csv").write_text("1,2,0\n3,4,2\n")
    matnn.Network.from_sizes([2, 2, 1], "identity", seed=0).save(d / "identity.npz")
    return d


#: name -> (arguments, the optimizer and fit arguments the run must equal)
TWINS = {
    "adam": (["--optimizer", "adam", "--lr", "0.05", "--epochs", "100", "--seed", "2"],
             lambda: matnn.Adam(0.05), {"epochs": 100}),
    "adamw": (["--optimizer", "adamw", "--epochs", "50", "--batch-size", "2", "--seed", "3"],
              lambda: matnn.AdamW(1e-3, weight_decay=1e-2), {"epochs": 50, "batch_size": 2}),
    "nesterov": (["--momentum", "0.9", "--nesterov", "--weight-decay", "0.001", "--lr", "0.05",
                  "--epochs", "60", "--no-shuffle", "--activation", "tanh,sigmoid"],
                 lambda: matnn.SGD(0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
                 {"epochs": 60, "shuffle": False}),
}

SPLIT = ["train", "blobs.csv", "--loss", "cross_entropy", "--sizes", "2,8,3",
         "--activation", "tanh,softmax", "--optimizer", "adam", "--lr", "0.02",
         "--batch-size", "8", "--validation-split", "0.25", "--seed", "4"]


@pytest.fixture(scope="module")
def results(workdir):
    """The commands several tests look at, each run once with ``main()``: name -> Done."""
    done = {name: run_main(["train", "people.csv", *args, "--save", f"{name}.npz"], workdir)
            for name, (args, _, _) in TWINS.items()}
    done["lbfgs"] = run_main(["train", "people.csv", "--optimizer", "lbfgs", "--epochs", "40",
                              "--seed", "1", "--save", "lbfgs.npz", "--progress"], workdir)
    done["split"] = run_main(SPLIT + ["--epochs", "40", "--save", "split.npz"], workdir)
    done["patience"] = run_main(SPLIT + ["--epochs", "3000", "--patience", "3", "--progress"],
                                workdir)
    if HAS_SKLEARN:
        plots = ["--plot", "curves.png", "--misclassified", "wrong.png"] if HAS_MATPLOTLIB else []
        done["digits"] = run_main(["digits", *plots], workdir)
    predict = ["predict", "split.npz", "blob-queries.csv"]
    done["classes"] = run_main(predict + ["--classes"], workdir)
    done["--probabilities"] = run_main(predict + ["--probabilities"], workdir)
    done["outputs"] = run_main(predict, workdir)
    return done


def ok(done, stderr=""):
    assert done.returncode == 0, done.stderr
    assert done.stderr == stderr
    return done.stdout.splitlines()


QUERIES_NOTE = "matnn predict: blob-queries.csv: no header row detected\n"


def last_bar(stderr):
    """The progress bar's last state: tqdm redraws it after a carriage return."""
    return re.split(r"[\r\n]", stderr.rstrip("\n"))[-1]


def number_after(lines, prefix):
    """The number that follows ``prefix`` on the line that holds it."""
    line = next(line for line in lines if prefix in line)
    return float(re.search(re.escape(prefix) + r"\s*([-+0-9.e]+)", line).group(1))


@pytest.mark.parametrize("name", sorted(TWINS))
def test_an_optimizer_from_the_command_line_trains_as_fit_does(workdir, results, name):
    args, optimizer, fit_args = TWINS[name]
    lines = ok(results[name])
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 0
    rng = np.random.default_rng(seed)
    activation = (args[args.index("--activation") + 1].split(",") if "--activation" in args
                  else "sigmoid")
    twin = matnn.Network.from_sizes([2, 2, 1], activation, seed=rng)
    history = twin.fit(data.X, data.y, optimizer=optimizer(), seed=rng,
                       **{"batch_size": 1, **fit_args})
    np.testing.assert_array_equal(matnn.load(workdir / f"{name}.npz").params, twin.params)
    assert lines[-2] == f"Final loss (MSE over all 4 rows): {history[-1]:.6g}"


def test_the_optimizer_and_its_settings_are_reported(results):
    assert ok(results["adam"])[2] == (
        "100 epochs, Adam, learning rate 0.05, weight decay 0, batch size 1, seed 2")
    assert ok(results["adamw"])[2] == (
        "50 epochs, AdamW, learning rate 0.001, weight decay 0.01, batch size 2, seed 3")
    assert ok(results["nesterov"])[2] == (
        "60 epochs, SGD, learning rate 0.05, momentum 0.9, Nesterov, weight decay 0.001, "
        "batch size 1, rows in file order, seed 0")


def test_lbfgs_reports_its_iterations_and_scipys_verdict(workdir, results):
    done = results["lbfgs"]
    lines = ok(done, done.stderr)
    rng = np.random.default_rng(1)
    twin = matnn.Network.from_sizes([2, 2, 1], seed=rng)
    history = twin.fit(data.X, data.y, optimizer=matnn.LBFGS(max_iter=40))
    np.testing.assert_array_equal(matnn.load(workdir / "lbfgs.npz").params, twin.params)
    verdict = "converged" if history.converged else "did not converge"
    assert f"L-BFGS: {len(history)} iterations, {verdict} (scipy: {history.message})" in lines
    # --progress: fit's bar counts the iterations, ended before the most (40), and shows
    # the last loss.
    n = len(history)
    assert re.fullmatch(rf"fit \(ended early\): 100%\|.*\| {n}/{n} \[.*iteration.*, "
                        rf"loss={history[-1]:.4g}\]", last_bar(done.stderr))
    assert lines[-2] == f"Final loss (MSE over all 4 rows): {history[-1]:.6g}"


def test_lbfgs_that_starts_at_its_minimum_reports_zero_iterations(workdir, monkeypatch,
                                                                   capsys):
    # x = 0 gives every sigmoid 0.5, the target: loss 0, gradient 0 from the start.
    (workdir / "still.csv").write_text("0,0.5\n0,0.5\n")
    monkeypatch.chdir(workdir)
    assert main(["train", "still.csv", "--sizes", "1,1", "--optimizer", "lbfgs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2].startswith("L-BFGS: 0 iterations, converged")
    assert lines[-1] == "Final loss (MSE over all 2 rows): 0"


def test_a_validation_split_is_seeded_reported_and_consistent(workdir, results, monkeypatch,
                                                               capsys):
    lines = ok(results["split"])
    assert lines[1] == ("features: x1, x2; class label: label (3 classes, 0 to 2); "
                        "loss: cross-entropy")
    assert lines[2] == ("validation: 15 of the 60 rows (25%, drawn with the seed); "
                        "training on the other 45")
    # The cross-entropy is a mean over rows, so the loss over the whole file
    # is the row-weighted mean of the training and validation losses printed.
    train_loss = number_after(lines, "over the 45 training rows):")
    val_loss = number_after(lines, "validation (15 rows):")
    train_acc = number_after(lines, "Final accuracy:")
    val_acc = number_after(lines, "; validation:")
    # The same seed draws the same split; another seed, another.
    monkeypatch.chdir(workdir)
    assert main(SPLIT + ["--epochs", "40"]) == 0
    assert capsys.readouterr().out == results["split"].stdout.replace(
        "Saved the model to split.npz\n", "")
    assert main(SPLIT[:-1] + ["5", "--epochs", "40"]) == 0
    other = capsys.readouterr().out
    assert "validation: 15 of the 60 rows" in other
    assert number_after(other.splitlines(), "validation (15 rows):") != val_loss
    net = matnn.load(workdir / "split.npz")
    X, y = three_blobs()
    net = matnn.Network(net.layers, loss="cross_entropy")
    assert net.loss(X, y) == pytest.approx((45 * train_loss + 15 * val_loss) / 60, rel=1e-5)
    assert net.accuracy(X, y) == pytest.approx((45 * train_acc + 15 * val_acc) / 60, abs=1e-3)
    # The kept epoch's validation loss is the final one printed.
    kept = int(re.search(r"Kept the parameters of epoch (\d+)", results["split"].stdout).group(1))
    assert number_after(lines, "the lowest validation loss (") == pytest.approx(val_loss, rel=1e-5)
    assert 0 <= kept <= 39


def test_patience_stops_early_and_says_so(results):
    done = results["patience"]
    ok(done, done.stderr)
    out = done.stdout
    stopped = int(re.search(r"Early stopping: yes, after epoch (\d+), 3 epochs without a "
                            r"lower validation loss", out).group(1))
    kept = int(re.search(r"Kept the parameters of epoch (\d+)", out).group(1))
    assert stopped - kept == 3
    assert stopped < 2999
    # The bar ends at the epoch it stopped at, not the planned last.
    assert last_bar(done.stderr).startswith("fit (ended early): 100%")
    assert f"| {stopped + 1}/{stopped + 1} [" in last_bar(done.stderr)


def test_predict_classes_and_probabilities_agree_with_the_network(workdir, results):
    net = matnn.load(workdir / "split.npz")
    queries = np.array([[-2, 0], [2, 0.1], [0, 2.4], [0.1, 1]])
    header, *rows = ok(results["classes"], QUERIES_NOTE)
    assert header == "class"
    assert [int(r) for r in rows] == net.classify(queries).tolist()
    header, *rows = ok(results["--probabilities"], QUERIES_NOTE)
    assert header == "p0,p1,p2"
    P = np.array([[float(v) for v in r.split(",")] for r in rows])
    np.testing.assert_array_equal(P, net.predict(queries))
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    # The blobs are far apart: these queries sit at the three centres.
    assert np.argmax(P[:3], axis=1).tolist() == [0, 1, 2]
    # Without an option a softmax model prints its outputs, the same probabilities.
    header, *rows = ok(results["outputs"], QUERIES_NOTE)
    assert header == "y_pred1,y_pred2,y_pred3"
    np.testing.assert_array_equal([[float(v) for v in r.split(",")] for r in rows], P)


def test_predict_classes_of_the_lessons_model_are_its_f_and_m(workdir, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    assert main(["train", "people.csv", "--save", "lesson.npz"]) == 0
    (workdir / "emily-frank.csv").write_text("-7,-3\n20,2\n")
    capsys.readouterr()
    assert main(["predict", "lesson.npz", "emily-frank.csv", "--classes"]) == 0
    # The lesson: Emily is F (1), Frank is M (0).
    assert capsys.readouterr().out == "class\n1\n0\n"
    assert main(["predict", "lesson.npz", "emily-frank.csv", "--probabilities"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header == "p1"
    net = matnn.load(workdir / "lesson.npz")
    assert [float(r) for r in rows] == net.predict([data.EMILY, data.FRANK])[:, 0].tolist()


ERRORS = {
    "patience without a split": (["train", "people.csv", "--patience", "5"],
                                 "--patience watches the validation loss: it needs "
                                 "--validation-split"),
    "lbfgs with a batch size": (["train", "people.csv", "--optimizer", "lbfgs",
                                 "--batch-size", "2"],
                                "--optimizer lbfgs trains on all the rows at once until it "
                                "converges: it takes no --batch-size"),
    "lbfgs with a rate": (["train", "people.csv", "--optimizer", "lbfgs", "--lr", "0.1"],
                          "it takes no --lr"),
    "lbfgs unshuffled": (["train", "people.csv", "--optimizer", "lbfgs", "--no-shuffle"],
                         "it takes no --no-shuffle"),
    "lbfgs with patience": (["digits", "--optimizer", "lbfgs", "--patience", "3"],
                            "it takes no --patience"),
    "adam with momentum": (["train", "people.csv", "--optimizer", "adam", "--momentum", "0.9"],
                           "--momentum is for --optimizer sgd"),
    "nesterov without momentum": (["train", "people.csv", "--nesterov"],
                                  "--nesterov needs --momentum > 0"),
    "one class": (["train", "people.csv", "--loss", "cross_entropy", "--sizes", "2,2,1"],
                  "--loss cross_entropy needs at least 2 classes, the last of --sizes, got 1"),
    "labels need one column": (["train", "people.csv", "--loss", "cross_entropy",
                                "--sizes", "3,2,2"],
                               "people.csv has 3 columns, but sizes 3,2,2 with --loss "
                               "cross_entropy need 3 feature + 1 label = 4 columns"),
    "fractional label": (["train", "fraction.csv", "--loss", "cross_entropy"],
                         "fraction.csv: with --loss cross_entropy the last column (column 3) "
                         "holds class labels 0, 1, 2, ..., but data row 2 has 1.5"),
    "label beyond the classes": (["train", "five.csv", "--loss", "cross_entropy",
                                  "--sizes", "2,2,3"],
                                 "five.csv: column 3 holds class 5 in data row 2, but sizes "
                                 "2,2,3 give 3 classes, 0 to 2"),
    "target beyond 1": (["train", "two.csv", "--loss", "binary_cross_entropy"],
                        "two.csv: --loss binary_cross_entropy needs targets from 0 to 1, but "
                        "column 3 is 2 in data row 2"),
    "no softmax output": (["train", "blobs.csv", "--loss", "cross_entropy", "--activation",
                           "tanh"], "use 'softmax' on the output layer"),
    "activations per layer": (["train", "people.csv", "--activation", "tanh,relu,sigmoid"],
                              "--activation lists 3 activations, but sizes 2,2,1 have 2 layers"),
    "split leaves nothing": (["train", "people.csv", "--validation-split", "0.1"],
                             "--validation-split 0.1 of 4 rows leaves no validation row"),
    "momentum diverging": (["train", "people.csv", "--momentum", "0.9", "--lr", "1000",
                            "--activation", "identity", "--epochs", "20"],
                           "training diverged at epoch 0"),
    "digits beyond memory": (["digits", "--hidden", str(10**11)],
                             "training a 64-100000000000-10 network on the digits for 30 "
                             "epochs needs about"),
    "probabilities of a regression": (["predict", "identity.npz", "blob-queries.csv",
                                       "--probabilities"],
                                      "the model in identity.npz ends in identity, so its "
                                      "outputs are not probabilities"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_bad_combinations_are_one_line_and_exit_2(workdir, monkeypatch, capsys, case):
    args, message = ERRORS[case]
    monkeypatch.chdir(workdir)
    assert main(args) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith(f"matnn {args[0]}: error: ")
    assert message in lines[0]


@pytest.mark.parametrize("args, message", [
    (["train", "people.csv", "--activation", "tanh,sigmod"], "unknown activation 'sigmod'"),
    (["train", "people.csv", "--validation-split", "1"], "expected a fraction between 0 and 1"),
    (["train", "people.csv", "--optimizer", "rmsprop"], "invalid choice: 'rmsprop'"),
    (["train", "people.csv", "--momentum", "-0.5"], "expected a finite number >= 0"),
    (["predict", "m.npz", "q.csv", "--classes", "--probabilities"],
     "not allowed with argument --classes"),
])
def test_malformed_options_are_usage_errors(workdir, monkeypatch, capsys, args, message):
    monkeypatch.chdir(workdir)
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    assert message in capsys.readouterr().err.splitlines()[-1]


class Terminal(io.StringIO):
    def isatty(self):
        return True


FIELDS = (r"loss=(?P<loss>[^,\]]+), val_loss=(?P<val_loss>[^,\]]+), "
          r"accuracy=(?P<accuracy>[^,\]]+), val_accuracy=(?P<val_accuracy>[^,\]]+)")


def test_on_a_terminal_progress_is_a_bar_on_stderr(workdir, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main([*SPLIT, "--epochs", "100", "--batch-size", "1"]) == 0
    # stdout has the results alone, as without a terminal.
    assert capsys.readouterr().out == run_main([*SPLIT, "--epochs", "100", "--batch-size", "1"],
                                               workdir).stdout
    states = [state for state in re.split(r"[\r\n]", terminal.getvalue()) if state]
    assert len(states) >= 2 and terminal.getvalue().endswith("\n")
    assert re.search(r"\| 100/100 \[.*epoch.*, " + FIELDS + r"\]$", states[-1])
    assert main([*SPLIT, "--epochs", "3", "--no-progress"]) == 0
    assert terminal.getvalue().endswith(states[-1] + "\n")  # nothing more was drawn


def test_progress_shows_what_fit_recorded(workdir, monkeypatch):
    # The bar's last numbers are the history's last epoch; fit hands them over.
    monkeypatch.chdir(workdir)
    histories = []
    fit = matnn.Network.fit

    def recording(self, *args, **kwargs):
        histories.append(fit(self, *args, **kwargs))
        return histories[-1]

    monkeypatch.setattr(matnn.Network, "fit", recording)
    done = run_main([*SPLIT, "--epochs", "25", "--progress"], workdir)
    (history,) = histories
    shown = re.search(FIELDS, last_bar(done.stderr))
    assert shown["loss"] == f"{history.loss[-1]:.4g}"
    assert shown["val_loss"] == f"{history.val_loss[-1]:.4g}"
    assert shown["accuracy"] == f"{history.accuracy[-1]:.4g}"
    assert shown["val_accuracy"] == f"{history.val_accuracy[-1]:.4g}"


def test_the_command_line_computes_nothing_fit_computed(workdir, monkeypatch):
    # Training with validation and the bar on, the CLI never evaluates the
    # network itself: the bar and the final lines use fit's numbers.
    calls = []
    for name in ("loss", "predict", "accuracy"):
        original = getattr(matnn.Network, name)
        monkeypatch.setattr(matnn.Network, name,
                            lambda self, *a, _f=original, _n=name: calls.append(_n) or _f(self, *a))
    done = run_main([*SPLIT, "--epochs", "20", "--progress"], workdir)
    assert done.returncode == 0, done.stderr
    assert calls == []


def test_not_on_a_terminal_there_is_no_progress(workdir, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    assert main(["train", "people.csv", "--epochs", "50", "--optimizer", "adam"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "\r" not in captured.out and "epoch" not in captured.out.split("\n", 3)[-1]


needs_sklearn = pytest.mark.skipif(not HAS_SKLEARN, reason="the digits come with scikit-learn")


@needs_sklearn
def test_digits_reaches_its_accuracy_with_the_defaults(results):
    from matnn import digits

    lines = ok(results["digits"])
    assert lines[0] == ("The 8x8 handwritten digits: 1077 training, 360 validation and 360 "
                        "test images (stratified split, seed 0)")
    assert lines[1] == ("A 64-64-10 tanh/softmax network, cross-entropy, 30 epochs, Adam, "
                        "learning rate 0.002, weight decay 0, batch size 32")
    accuracy = number_after(lines, "test accuracy")
    assert accuracy >= 0.96
    # The confusion matrix: each row holds one digit's test images, and the
    # diagonal is the accuracy.
    at = lines.index("true" + "".join(f"{j:>3}" for j in range(10)))
    counts = np.array([[int(v) for v in line.split()] for line in lines[at + 1:at + 11]])
    assert counts[:, 0].tolist() == list(range(10))
    counts = counts[:, 1:]
    np.testing.assert_array_equal(counts.sum(axis=1), np.bincount(digits.load(0).y_test))
    assert np.trace(counts) / 360 == pytest.approx(accuracy, abs=5e-4)
    assert any(re.fullmatch(r"Time: \d+\.\d\d s in all, \d+\.\d\d s training "
                            r"\(\d+\.\d ms per epoch\)", line) for line in lines)


@needs_sklearn
def test_the_confusion_matrix_is_scikit_learns():
    from sklearn.metrics import confusion_matrix

    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    np.testing.assert_array_equal(confusion(y_true, y_pred, 10),
                                  confusion_matrix(y_true, y_pred, labels=range(10)))


def test_digits_without_scikit_learn_says_how_to_install_it(workdir, monkeypatch, capsys):
    for name in ("sklearn", "sklearn.datasets", "sklearn.model_selection"):
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    monkeypatch.chdir(workdir)
    assert main(["digits"]) == 2
    assert capsys.readouterr().err == (
        "matnn digits: error: the digits data set comes with scikit-learn: "
        "pip install 'matnn[examples]'\n")


def test_digits_plots_without_matplotlib_fail_before_training(workdir, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if not installed
    monkeypatch.chdir(workdir)
    assert main(["digits", "--plot", "curves.png"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ("matnn digits: error: plotting needs matplotlib, an optional "
                            "extra: pip install 'matnn[plot]'\n")


@needs_sklearn
@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="plots need matplotlib")
def test_digits_draws_the_curves_and_the_misclassified_digits(workdir, results):
    from matplotlib.image import imread

    lines = ok(results["digits"])
    wrong = round((1 - number_after(lines, "test accuracy")) * 360)
    assert "Wrote the learning curves to curves.png" in lines
    assert f"Wrote {min(40, wrong)} misclassified test digits to wrong.png" in lines
    for name in ("curves.png", "wrong.png"):
        image = imread(workdir / name)
        assert image.ndim == 3 and min(image.shape[:2]) > 100


def test_threads_do_not_change_what_train_prints(tmp_path):
    # The same seeded run with one thread and with three: the same model, bit for bit.
    rng = np.random.default_rng(5)
    rows = np.column_stack([rng.normal(size=(300, 3)), rng.integers(0, 2, 300)])
    path = tmp_path / "data.csv"
    np.savetxt(path, rows, delimiter=",")
    saved = []
    for threads in ("1", "3"):
        model = tmp_path / f"model{threads}.npz"
        assert main(["train", str(path), "--sizes", "3,4,1", "--epochs", "3", "--batch-size", "300",
                     "--threads", threads, "--save", str(model)]) == 0
        saved.append(matnn.load(model).params)
    assert saved[0].tobytes() == saved[1].tobytes()
    # main() hands the process back with the thread count it found.
    assert matnn.get_num_threads() == matnn.threads.available_cores() or "MATNN_NUM_THREADS" in os.environ


def test_a_bad_thread_count_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["seeds", "--threads", "0"])
    assert exit_.value.code == 2
    assert "expected a thread count from 1 to 1024, got '0'" in capsys.readouterr().err
