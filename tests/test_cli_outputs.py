"""What the command line writes and prints (issue 20, part B): every file atomically,
every file name and CSV header escaped, and data it cannot handle refused in one line.

``main()`` runs in-process (see tests/test_cli.py); what it prints must encode
as strict UTF-8, as a terminal's stdout does.
"""

import errno
import os

import pytest

import matnn

from test_cli import PEOPLE_CSV, run_main


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "people.csv").write_text(PEOPLE_CSV)
    matnn.Network.from_sizes([2, 2, 1], seed=0).save(tmp_path / "model.npz")
    return tmp_path


def one_line_error(done, command, *parts):
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith(f"matnn {command}: error: ") and done.stderr.count("\n") == 1
    for part in parts:
        assert part in done.stderr
    done.stderr.encode("utf-8")


# -- file names and headers are printed escaped ------------------------------------------------

def test_a_data_file_whose_name_is_not_utf8_gets_its_page_and_an_escaped_name(workdir):
    name = os.fsdecode(b"d\xff.csv")  # as Python hands such a name over in argv
    (workdir / name).write_text(PEOPLE_CSV)
    (workdir / "old.html").write_text("the old page")
    done = run_main(["report", "--model", "model.npz", "--data", name, "--out", "old.html"],
                    workdir)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Wrote the page for model.npz to old.html\n"
    page = (workdir / "old.html").read_text(encoding="utf-8")
    assert "rows of d\\xff.csv." in page


def test_escape_sequences_in_a_header_are_printed_escaped(workdir):
    header = "wei\x1b]0;owned\x07ght,\x1b[2Jheight,fe\u202emale"
    rows = PEOPLE_CSV.split("\n", 1)[1]
    (workdir / "odd.csv").write_text(header + "\n" + rows)
    done = run_main(["train", "odd.csv", "--epochs", "2"], workdir)
    assert done.returncode == 0, done.stderr
    assert "features: wei\\x1b]0;owned\\x07ght, \\x1b[2Jheight; target: fe\\u202emale" \
        in done.stdout
    assert "\x1b" not in done.stdout + done.stderr and "\u202e" not in done.stdout
    # The same in an error that quotes the header.
    done = run_main(["train", "odd.csv", "--target", "nope\x1b[2J"], workdir)
    one_line_error(done, "train", "--target 'nope\\x1b[2J'", "wei\\x1b]0;owned\\x07ght")
    assert "\x1b" not in done.stderr


# -- every file is written atomically ------------------------------------------------------------

@pytest.mark.parametrize("args, out", [
    (["report", "--runs", "1", "--out", "old.file"], "old.file"),
    (["predict", "model.npz", "people.csv", "--target", "female", "--out", "old.file"],
     "old.file"),
    (["demo", "--plot", "old.png"], "old.png"),
])
def test_a_write_that_fails_leaves_the_old_file(workdir, monkeypatch, args, out):
    if "--plot" in args:
        pytest.importorskip("matplotlib")
    (workdir / out).write_text("the old content")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    done = run_main(args, workdir)
    assert done.returncode == 2 and done.stderr.endswith(
        f"error: cannot write {out}: No space left on device\n")
    assert (workdir / out).read_text() == "the old content"
    assert sorted(p.name for p in workdir.iterdir()) == sorted(
        ["people.csv", "model.npz", out])


# -- plots: the file name is checked before training -------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["demo", "--plot", "x.bogus"], "--plot x.bogus: the file name ends in .bogus, which is no "
                                    "format matplotlib writes; end it in .png"),
    (["digits", "--misclassified", "/tmp"], "--misclassified /tmp: the file name has no "
                                            "extension"),
    (["seeds", "--runs", "2", "--plot", "final"], "--plot final: the file name has no extension"),
])
def test_a_plot_name_matplotlib_cannot_write_is_refused_before_training(workdir, args, message):
    pytest.importorskip("matplotlib")
    done = run_main(args, workdir)
    one_line_error(done, args[0], message)


def test_a_plot_is_written_in_the_format_of_its_name_and_under_that_name(workdir):
    pytest.importorskip("matplotlib")
    done = run_main(["demo", "--plot", "curves.svg"], workdir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("Wrote the loss curve to curves.svg\n")
    assert (workdir / "curves.svg").read_text().lstrip().startswith("<?xml")
    assert not (workdir / "curves.svg.png").exists()


# -- data the commands cannot use is one line ---------------------------------------------------

def test_report_estimates_the_memory_of_its_runs_first(workdir):
    done = run_main(["report", "--runs", "100000000", "--out", "lesson.html"], workdir)
    one_line_error(done, "report", "the lesson page's 100000000 seed runs of 1000 epochs needs "
                                   "about")
    assert not (workdir / "lesson.html").exists()


@pytest.mark.parametrize("command", [["train", "labels.csv", "--loss", "cross_entropy"],
                                     ["evaluate", "classes.npz", "labels.csv"]])
def test_a_class_label_of_1e300_is_one_line(workdir, command):
    (workdir / "labels.csv").write_text("x1,x2,label\n1,2,0\n-1,0,1e300\n0,0,1\n")
    matnn.Network.from_sizes([2, 3, 2], ["tanh", "softmax"], seed=0,
                             loss="cross_entropy").save(workdir / "classes.npz")
    done = run_main(command, workdir)
    one_line_error(done, command[0], "data row 2 has 1e+300")


def test_cross_entropy_after_a_sigmoid_output_is_one_line(workdir):
    (workdir / "labels.csv").write_text("x1,x2,label\n1,2,0\n-1,0,2\n0,0,1\n")
    done = run_main(["train", "labels.csv", "--loss", "cross_entropy", "--activation",
                     "sigmoid"], workdir)
    one_line_error(done, "train", "cross_entropy", "'sigmoid'", "softmax")


@pytest.mark.parametrize("rows, message", [
    ("1e308,-1e308,1\n-1e308,1e308,0\n", "spans from -1e+308 to 1e+308, wider than float64"),
    ("1e200,0,1\n-1e200,0,0\n", "overflow to NaN or inf"),
])
def test_report_data_near_the_float64_limit_is_one_line(workdir, rows, message):
    matnn.Network.from_sizes([2, 3, 1], ["relu", "identity"], seed=0).save(workdir / "r.npz")
    (workdir / "huge.csv").write_text("a,b,t\n" + rows)
    done = run_main(["report", "--model", "r.npz", "--data", "huge.csv", "--out", "p.html"],
                    workdir)
    one_line_error(done, "report", "huge.csv: ", message)
    assert not (workdir / "p.html").exists()


def test_report_draws_data_at_the_float64_limit(workdir):
    (workdir / "edge.csv").write_text("a,b,t\n1.79e308,-1e307,1\n1e308,1e307,0\n0,0,1\n")
    done = run_main(["report", "--model", "model.npz", "--data", "edge.csv", "--out",
                     "p.html"], workdir)
    assert done.returncode == 0, done.stderr
    assert "nan" not in (workdir / "p.html").read_text().lower()
