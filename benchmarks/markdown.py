"""A benchmark run's ``results.json`` as a Markdown page (the docs' benchmarks page).

The documentation shows a committed run, rendered at build time, so the page
holds exactly what the benchmark measured: ``python -m benchmarks --out DIR``
writes the JSON, and ``write_page(json_path, md_path)`` turns it into tables.
"""

from __future__ import annotations

import json
from pathlib import Path

from .harness import Result, Timing
from .report import _fmt_ratio, _metrics_text, _target_text, fmt_time

__all__ = ["digits_table", "load_results", "render", "sklearn_table", "write_page"]


def load_results(doc):
    """The :class:`Result` rows of a loaded ``results.json``."""
    rows = []
    for d in doc["results"]:
        d = {k: v for k, v in d.items() if k not in ("ratio", "met")}
        for side in ("a", "b"):
            if d[side] is not None:
                d[side] = Timing(**d[side])
        if d["target"] is not None:
            d["target"] = tuple(d["target"])
        rows.append(Result(**d))
    return rows


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _table(header, rows, right=()):
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |",
             "| " + " | ".join("---:" if i in right else "---" for i in range(len(header))) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _case_table(rows):
    a_label = " / ".join(dict.fromkeys(r.a.label for r in rows if r.a)) or "a"
    b_label = " / ".join(dict.fromkeys(r.b.label for r in rows if r.b)) or "b"
    header = ["size", "dtype", a_label, b_label, "b per sample", "a/b", "target", "agree", "notes"]
    body = []
    for r in rows:
        per_sample = r.b.median / r.n_samples if (r.b and r.n_samples) else None
        body.append([r.size, r.dtype, fmt_time(r.a.median if r.a else None),
                     fmt_time(r.b.median if r.b else None), fmt_time(per_sample),
                     _fmt_ratio(r.ratio), _target_text(r), "yes" if r.agreed else "NO",
                     _metrics_text(r)])
    return _table(header, body, right=(2, 3, 4, 5))


def render(doc):
    """Markdown for a loaded ``results.json``: which run it is, each case's
    table, and every target met or missed."""
    info = doc["machine"]
    rows = load_results(doc)
    kind = "quick (smoke)" if doc["quick"] else "full"
    date = info.get("date", "an unrecorded date")
    lines = [
        "# Benchmarks",
        "",
        "This page is generated from `docs/benchmarks/results.json`, the output of one",
        "run of `python -m benchmarks` (see [How to read it](#how-to-read-it)); nothing",
        "on it is typed by hand: every number comes from that file.",
        "",
        f"**The run shown:** a {kind} run on {date}, {doc['elapsed_s']:.0f} s in all, on "
        f"{info['summary']} (Python {info['python']}); the 1-minute load average was "
        f"{info['load_average_1min']:.2f} when it started.",
        "",
    ]
    if doc["quick"]:
        lines += ["In a quick run the sizes are tiny, so the ratios are not the ones the "
                  "targets are about.", ""]
    targeted = [r for r in rows if r.target is not None]
    met = sum(1 for r in targeted if r.met)
    disagreed = [r for r in rows if not r.agreed]
    lines += [
        "## Targets",
        "",
        f"{met} of {len(targeted)} targets met; "
        + (f"{len(disagreed)} comparisons DISAGREED, so their timings mean nothing."
           if disagreed else f"all {len(rows)} comparisons agreed before timing."),
        "",
    ]
    target_rows = []
    for r in targeted:
        value = r.ratio if r.ratio is not None else r.metrics.get("value")
        target_rows.append([r.case, r.size, r.dtype, f"{value:.4g}" if value is not None else "-",
                            _target_text(r)])
    lines += _table(["case", "size", "dtype", "value", "target"], target_rows, right=(3,)) + [""]
    titles = doc.get("titles", {})
    for case in dict.fromkeys(r.case for r in rows):
        title = titles.get(case)
        lines += [f"## {case}" + (f": {title}" if title else ""), ""]
        lines += _case_table([r for r in rows if r.case == case]) + [""]
    lines += [
        "## How to read it",
        "",
        "Each row times a reference side `a` (usually the scalar shim) and a measured",
        "side `b` with `timeit`: a calibrated number of calls per run, several runs",
        "alternating between the two sides so that both see the same machine, and the",
        "median of each. `a/b` is how many times faster `b` is; where the notes say the",
        "ratio is a cost, lower is better. `b per sample` divides `b` by the samples it",
        "processed. Before anything is timed, both sides' results are compared",
        "(`agree`). Every timed run, the BLAS and thread settings of each row, and the",
        "libraries loaded are in the JSON file in full.",
        "",
        "To measure your machine: `python -m benchmarks` (about two minutes on two",
        "cores), `python -m benchmarks --quick` (a few seconds), or",
        "`python -m benchmarks --case NAME` for one case; each case is a module",
        "`benchmarks/case_NAME.py`.",
        "",
    ]
    return "\n".join(lines)


def sklearn_table(doc):
    """The README's table of the drop-in's speed: the ``sklearn`` case's rows of a
    loaded ``results.json``, one per solver and dtype, as Markdown lines."""
    body = []
    for r in load_results(doc):
        if r.case == "sklearn" and r.a and r.b:
            solver = r.size.split(",")[0]
            body.append([solver, r.dtype, fmt_time(r.a.median), fmt_time(r.b.median),
                         f"{r.ratio:.2f}x"])
    return _table(["solver", "dtype", "scikit-learn", "matnn.sklearn", "speed-up"], body,
                  right=(2, 3, 4))


def digits_table(doc):
    """The digits guide's table: the ``digits`` case's epochs of matnn, scikit-learn
    and PyTorch side by side, per optimizer and dtype, as Markdown lines."""
    pairs = {}
    for r in load_results(doc):
        if r.case == "digits" and r.a and r.b:
            solver, _, _, peer = r.size.replace(",", "").split()[:4]
            pairs.setdefault((solver, r.dtype), {})[peer] = r
    names = {"sgd": "SGD momentum", "adam": "Adam"}
    body = []
    for (solver, dtype), peers in pairs.items():
        sk, torch = peers["sklearn"], peers["torch"]
        ms = [1e3 * sk.metrics["matnn_s_per_epoch"], 1e3 * sk.metrics["sklearn_s_per_epoch"],
              1e3 * torch.metrics["torch_s_per_epoch"]]
        accuracy = [sk.metrics["matnn_accuracy"], sk.metrics["sklearn_accuracy"],
                    torch.metrics["torch_accuracy"]]
        body.append([names.get(solver, solver), dtype, *(f"{m:.2f}" for m in ms),
                     f"{sk.ratio:.1f}x / {torch.ratio:.1f}x",
                     " / ".join(f"{a:.3f}" for a in accuracy)])
    return _table(["optimizer", "dtype", "matnn ms/epoch", "scikit-learn ms/epoch",
                   "PyTorch ms/epoch", "matnn faster than scikit-learn / PyTorch",
                   "test accuracy matnn / scikit-learn / PyTorch"], body, right=(2, 3, 4))


def write_page(json_path, md_path):
    """Render ``json_path`` into ``md_path``, rewriting it only when it changes
    (so that Sphinx does not rebuild an unchanged page); return ``md_path``."""
    text = render(json.loads(Path(json_path).read_text(encoding="utf-8")))
    md_path = Path(md_path)
    if not md_path.exists() or md_path.read_text(encoding="utf-8") != text:
        md_path.write_text(text, encoding="utf-8")
    return md_path
