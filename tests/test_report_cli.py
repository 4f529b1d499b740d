"""``matnn report``: the lesson page, a model's page, and one-line errors."""

import xml.etree.ElementTree as ET

import numpy as np
import pytest

import matnn
from matnn import data
from matnn.cli import main

PEOPLE_CSV = "weight,height,female\n" + "".join(
    f"{x1},{x2},{y}\n" for (x1, x2), y in zip(data.X.tolist(), data.y.tolist())
)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "people.csv").write_text(PEOPLE_CSV)
    (tmp_path / "three.csv").write_text("1,2,3,4\n5,6,7,8\n")
    matnn.Network.from_sizes([2, 2, 1], seed=0).save(tmp_path / "model.npz")
    return tmp_path


def body_text(path):
    root = ET.fromstring(path.read_text(encoding="utf-8").split("\n", 1)[1])
    return " ".join(" ".join(root.itertext()).split())


def test_lesson_page(workdir, capsys):
    assert main(["report", "--out", "lesson.html", "--runs", "8"]) == 0
    assert capsys.readouterr().out == "Wrote the lesson page to lesson.html\n"
    text = body_text(workdir / "lesson.html")
    assert "8 of 8 runs" in text and "0.0474" in text


def test_model_page(workdir, capsys):
    assert main(["report", "--model", "model.npz", "--data", "people.csv",
                 "--out", "page.html"]) == 0
    assert "Wrote the page for model.npz to page.html" in capsys.readouterr().out
    net = matnn.load(workdir / "model.npz")
    mse = np.mean((data.y - net.predict(data.X)[:, 0]) ** 2)
    text = body_text(workdir / "page.html")
    assert f"{mse:.6g}" in text and "people.csv" in text
    assert "decision boundary" in text


@pytest.mark.parametrize("args, message", [
    (["--model", "model.npz"], "--model and --data go together"),
    (["--data", "people.csv"], "--model and --data go together"),
    (["--model", "missing.npz", "--data", "people.csv"], "no such file: missing.npz"),
    (["--model", "model.npz", "--data", "three.csv"],
     "three.csv has 4 columns, but the model in model.npz needs 2 feature + 1 target = 3"),
    (["--model", "people.csv", "--data", "people.csv"], "people.csv: not a matnn model file"),
])
def test_errors_are_one_line_with_status_2(workdir, capsys, args, message):
    assert main(["report", "--out", "x.html", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("matnn report: error: ") and message in err
    assert err.count("\n") == 1
    assert not (workdir / "x.html").exists()


def test_unwritable_out(workdir, capsys):
    assert main(["report", "--out", "no-dir/lesson.html", "--runs", "1"]) == 2
    assert "matnn report: error: cannot write no-dir/lesson.html" in capsys.readouterr().err


def test_a_model_page_shows_the_features_its_scaler_standardizes(workdir, capsys):
    net = matnn.Network.from_sizes([2, 2, 1], seed=1)
    scaler = matnn.Standardizer.fit(data.X)
    matnn.save(net, workdir / "scaled.npz", scaler=scaler)
    assert main(["report", "--model", "scaled.npz", "--data", "people.csv",
                 "--out", "page.html"]) == 0
    Z = (data.X - data.X.mean(axis=0)) / data.X.std(axis=0)
    mse = np.mean((data.y - net.predict(Z)[:, 0]) ** 2)
    text = body_text(workdir / "page.html")
    assert f"{mse:.6g}" in text
    assert "people.csv, its features standardized as in training" in text
