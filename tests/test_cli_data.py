"""The command line on real data: ``--target``, ``--standardize`` and ``matnn evaluate``.

``main()`` runs in-process, as in tests/test_cli_training.py; the standardized
round trip is checked against scikit-learn's StandardScaler.
"""

import re

import numpy as np
import pytest

import matnn
from matnn.cli import main

from test_cli import run_main

preprocessing = pytest.importorskip("sklearn.preprocessing")


def measurements(n=30, seed=0):
    """A target between two features of very different sizes, and a constant column."""
    rng = np.random.default_rng(seed)
    grams = rng.normal(3000, 800, n)
    metres = rng.normal(0.002, 0.0005, n)
    y = ((grams - 3000) / 800 + (metres - 0.002) / 0.0005 > 0).astype(float)
    return np.column_stack([grams, y, metres, np.full(n, 7.0)])


def write_csv(path, table, header=None):
    rows = [",".join(header)] if header else []
    rows += [",".join(repr(float(v)) for v in row) for row in table]
    path.write_text("\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli-data")
    table = measurements()
    write_csv(d / "data.csv", table, ["grams", "heavy", "metres", "seven"])
    write_csv(d / "new.csv", measurements(seed=1), ["grams", "heavy", "metres", "seven"])
    write_csv(d / "features.csv", measurements(seed=1)[:, [0, 2, 3]])
    write_csv(d / "digits-header.csv", table, ["1", "0", "2", "3"])
    write_csv(d / "same-names.csv", table, ["a", "a", "b", "c"])
    (d / "blobs.csv").write_text("x1,x2,label\n-2,0,0\n2,0,1\n0,2.5,2\n-2.1,0.2,0\n"
                                 "1.9,-0.1,1\n0.1,2.4,2\n")
    (d / "class-five.csv").write_text("label,x1,x2\n0,1,2\n5,3,4\n")
    matnn.Network.from_sizes([3, 2, 1], seed=0).save(d / "plain.npz")
    matnn.Network.from_sizes([2, 3, 3], ["tanh", "softmax"], seed=0,
                             loss="cross_entropy").save(d / "classes.npz")
    matnn.Network.from_sizes([2, 3, 2], seed=0).save(d / "two-outputs.npz")
    return d


TRAIN = ["train", "data.csv", "--target", "heavy", "--standardize", "--sizes", "3,4,1",
         "--epochs", "50", "--seed", "3", "--save", "scaled.npz"]


@pytest.fixture(scope="module")
def results(workdir):
    done = {"train": run_main(TRAIN, workdir)}
    done["predict"] = run_main(["predict", "scaled.npz", "new.csv", "--target", "1"], workdir)
    done["predict features"] = run_main(["predict", "scaled.npz", "features.csv"], workdir)
    done["evaluate"] = run_main(["evaluate", "scaled.npz", "new.csv", "--target", "heavy"],
                                workdir)
    return done


def by_hand(workdir):
    """The training and new features, standardized by scikit-learn, and the new targets."""
    table, new = measurements(), measurements(seed=1)
    scaler = preprocessing.StandardScaler().fit(table[:, [0, 2, 3]])
    return scaler.transform(table[:, [0, 2, 3]]), scaler.transform(new[:, [0, 2, 3]]), new[:, 1]


def test_train_standardizes_the_features_as_scikit_learn_does(workdir, results):
    lines = results["train"].stdout.splitlines()
    assert results["train"].returncode == 0, results["train"].stderr
    assert lines[1] == "features: grams, metres, seven; target: heavy; loss: MSE"
    assert lines[2] == ("standardized: every feature to mean 0 and standard deviation 1 over "
                        "the 30 training rows, as the saved model will")
    Z, _, _ = by_hand(workdir)
    rng = np.random.default_rng(3)
    twin = matnn.Network.from_sizes([3, 4, 1], seed=rng)
    twin.fit(Z, measurements()[:, 1], epochs=50, learning_rate=0.1, batch_size=1, seed=rng)
    net = matnn.load(workdir / "scaled.npz")
    np.testing.assert_allclose(net.params, twin.params, rtol=1e-9, atol=1e-12)


def test_predict_and_evaluate_apply_the_saved_scaler(workdir, results):
    _, Z_new, y_new = by_hand(workdir)
    net = matnn.load(workdir / "scaled.npz")
    expected = net.predict(Z_new)[:, 0]
    for name in ("predict", "predict features"):
        done = results[name]
        assert done.returncode == 0, done.stderr
        assert done.stderr.endswith("; features standardized as in training\n")
        header, *rows = done.stdout.splitlines()
        assert header == "y_pred"
        np.testing.assert_allclose([float(r) for r in rows], expected, rtol=1e-12)
    lines = results["evaluate"].stdout.splitlines()
    assert lines[:2] == ["Evaluating the model in scaled.npz on 30 rows of new.csv (header row "
                         "detected)", "features: grams, metres, seven; target: heavy; loss: MSE"]
    loss = float(re.fullmatch(r"Loss \(MSE over 30 rows\): (\S+)", lines[-1]).group(1))
    assert loss == pytest.approx(np.mean((expected - y_new) ** 2), rel=1e-5)


def test_a_model_without_a_scaler_sees_the_raw_features(workdir, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    assert main(["train", "data.csv", "--target", "heavy", "--epochs", "5", "--save",
                 "raw.npz"]) == 0
    assert "standardized" not in capsys.readouterr().out
    net, scaler = matnn.load(workdir / "raw.npz", with_scaler=True)
    assert scaler is None
    new = measurements(seed=1)
    assert main(["evaluate", "raw.npz", "new.csv", "--target", "heavy"]) == 0
    out = capsys.readouterr().out
    assert "standardized" not in out
    mse = np.mean((net.predict(new[:, [0, 2, 3]])[:, 0] - new[:, 1]) ** 2)
    assert out.splitlines()[-1] == f"Loss (MSE over 30 rows): {mse:.6g}"


def test_the_scaler_learns_from_the_training_rows_alone(workdir, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    assert main(["train", "data.csv", "--target", "heavy", "--standardize", "--epochs", "1",
                 "--validation-split", "0.3", "--seed", "8", "--save", "split.npz"]) == 0
    assert "over the 21 training rows" in capsys.readouterr().out
    # The validation rows are the ones the seed draws after the starting weights.
    rng = np.random.default_rng(8)
    matnn.Network.from_sizes([3, 2, 1], seed=rng)
    held = rng.permutation(30)[:9]
    training = np.delete(measurements(), held, axis=0)[:, [0, 2, 3]]
    scaler = matnn.load(workdir / "split.npz", with_scaler=True)[1]
    expected = preprocessing.StandardScaler().fit(training)
    np.testing.assert_allclose(scaler.mean, expected.mean_, rtol=1e-14)
    np.testing.assert_allclose(scaler.scale, expected.scale_, rtol=1e-14)


@pytest.mark.parametrize("target", ["heavy", "1", "-3"])
def test_target_by_name_index_or_index_from_the_end(workdir, monkeypatch, capsys, target):
    monkeypatch.chdir(workdir)
    assert main(["train", "data.csv", "--target", target, "--epochs", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == (
        "features: grams, metres, seven; target: heavy; loss: MSE")


def test_a_header_name_wins_over_an_index(workdir, monkeypatch, capsys):
    # The header names the columns "1", "0", "2", "3": --target 0 is the column named 0.
    monkeypatch.chdir(workdir)
    assert main(["train", "digits-header.csv", "--header", "--target", "0", "--epochs", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "features: 1, 2, 3; target: 0; loss: MSE"


def test_evaluate_a_classifier_prints_its_accuracy(workdir, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    assert main(["train", "blobs.csv", "--target", "label", "--loss", "cross_entropy",
                 "--sizes", "2,4,3", "--epochs", "20", "--save", "blobs.npz"]) == 0
    capsys.readouterr()
    assert main(["evaluate", "blobs.npz", "blobs.csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    net = matnn.load(workdir / "blobs.npz")
    table = np.loadtxt(workdir / "blobs.csv", delimiter=",", skiprows=1)
    P, labels = net.predict(table[:, :2]), table[:, 2].astype(int)
    cross_entropy = -np.mean(np.log(P[np.arange(len(P)), labels]))
    assert lines[1] == "features: x1, x2; class label: label; loss: cross-entropy"
    assert lines[2] == f"Loss (cross-entropy over 6 rows): {cross_entropy:.6g}"
    assert lines[3] == f"Accuracy: {np.mean(P.argmax(axis=1) == labels):.3f}"


ERRORS = {
    "unknown name": (["train", "data.csv", "--target", "weight"],
                     "--target 'weight': data.csv has no column of that name; its columns "
                     "are grams, heavy, metres, seven"),
    "out of range": (["evaluate", "plain.npz", "data.csv", "--target", "4"],
                     "--target 4: data.csv has 4 columns, indices 0 to 3 (or -4 to -1 from "
                     "the end)"),
    "out of range from the end": (["train", "data.csv", "--target", "-5"],
                                  "--target -5: data.csv has 4 columns"),
    "a name without a header": (["predict", "plain.npz", "features.csv", "--target", "heavy"],
                                "--target 'heavy': features.csv has no header row, so its "
                                "columns have no names; give a 0-based column index"),
    "an unlabelled file": (["predict", "plain.npz", "features.csv", "--target", "0"],
                           "--target 0: features.csv has 3 columns, the 3 features the model "
                           "in plain.npz takes and no target column"),
    "evaluate an unlabelled file": (["evaluate", "plain.npz", "features.csv"],
                                    "features.csv has 3 columns, but the model in plain.npz "
                                    "needs 3 feature + 1 target columns"),
    "two columns of that name": (["train", "same-names.csv", "--target", "a"],
                                 "--target 'a': same-names.csv has 2 columns of that name"),
    "sizes against the target": (["train", "data.csv", "--target", "heavy", "--sizes", "2,2,2"],
                                 "data.csv has 4 columns, 3 features and the --target column, "
                                 "but sizes 2,2,2 need 2 feature + 2 target columns"),
    "labels in the target": (["train", "data.csv", "--target", "grams", "--loss",
                              "cross_entropy"],
                             "data.csv: with --loss cross_entropy the --target column (grams) "
                             "holds class labels 0, 1, 2, ..., but data row 1 has"),
    "a label beyond the model's classes": (["evaluate", "classes.npz", "class-five.csv",
                                            "--target", "label"],
                                           "class-five.csv: label holds class 5 in data row 2, "
                                           "but the model in classes.npz has 3 classes, 0 to 2"),
    "columns against the model": (["evaluate", "classes.npz", "data.csv", "--target", "seven"],
                                  "data.csv has 4 columns, but the model in classes.npz takes "
                                  "2 features + the --target column = 3 columns"),
    "one target for many outputs": (["evaluate", "two-outputs.npz", "data.csv", "--target", "0"],
                                    "--target names one column, but the model in "
                                    "two-outputs.npz has 2 outputs"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_bad_targets_are_one_line_errors(workdir, monkeypatch, capsys, case):
    args, message = ERRORS[case]
    monkeypatch.chdir(workdir)
    assert main(args) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"matnn {args[0]}: error: ")
    assert message in lines[0]
