"""The README and the documentation: what they show is what the code does.

Every ``python`` block of the README and of the user guide runs as pasted,
in a fresh interpreter in an empty folder, with warnings as errors; where
the page then says it "prints" a ``text`` block, that is the block's output
exactly. The API reference lists every public name, and the README stays
short. (The site itself is built with warnings as errors by ``.ci/run``.)
"""

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: The pages whose examples run here: the README and the user guide. (docs/dask.md's
#: examples connect to clusters elsewhere: SLURM, Kubernetes, a scheduler's address.)
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("guide/*.md"))]

#: A python block, then optionally "prints" (and words up to a colon) and the text block it prints.
BLOCK = re.compile(r"```python\n(?P<code>.*?)```\n(?:\nprints[^\n`]*\n\n```text\n(?P<shown>.*?)```)?",
                   re.DOTALL)

#: Imports that need an optional extra; a block that uses one skips without it.
EXTRAS = {"sklearn": "sklearn", "matplotlib": "matplotlib", "torch": "torch",
          "dask": "dask", "distributed": "distributed"}

#: The modules whose __all__ is public API besides matnn's own (see docs/api/index.md).
PUBLIC_MODULES = ["matnn.draw", "matnn.data", "matnn.scalar", "matnn.explain", "matnn.seeds", "matnn.lesson",
                  "matnn.digits", "matnn.sklearn", "matnn.training", "matnn.memory", "matnn.cluster"]


def _blocks():
    return list(_each_block())


def _each_block():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            line = text[:match.start()].count("\n") + 1
            yield pytest.param(match["code"], match["shown"],
                               id=f"{page.relative_to(ROOT)}:{line}")


def test_the_pages_have_python_blocks():
    # A change to the fence syntax would otherwise silently test nothing.
    assert len(list(_blocks())) >= 10


@pytest.mark.parametrize("code, shown", _blocks())
def test_every_python_block_runs_as_pasted_and_prints_what_the_page_shows(code, shown, tmp_path):
    for module in set(re.findall(r"^\s*(?:from|import) (\w+)", code, re.MULTILINE)) & set(EXTRAS):
        pytest.importorskip(EXTRAS[module])
    done = subprocess.run([sys.executable, "-W", "error", "-c", code], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    if shown is not None:
        assert done.stdout == shown


def test_the_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250


def test_every_public_name_is_in_the_api_reference():
    api = (DOCS / "api" / "index.md").read_text(encoding="utf-8")
    names, objects = set(), set()  # what the reference documents: by name, and callables by identity
    for block in re.findall(r"```\{eval-rst\}\n(.*?)```", api, re.DOTALL):
        module = re.search(r"\.\. currentmodule:: ([\w.]+)", block)
        if module is None:
            continue
        entries = block.split(":toctree: generated\n", 1)[1].split()
        namespace = importlib.import_module(module[1])
        for name in entries:
            names.add(f"{module[1]}.{name}")
            if callable(getattr(namespace, name)):
                objects.add(id(getattr(namespace, name)))
    missing = []
    for module_name in ["matnn", *PUBLIC_MODULES]:
        module = importlib.import_module(module_name)
        # A re-exported class or function counts once, wherever it is listed.
        missing += [f"{module_name}.{name}" for name in module.__all__
                    if f"{module_name}.{name}" not in names
                    and not (callable(getattr(module, name)) and id(getattr(module, name)) in objects)]
    assert missing == []



def test_the_readme_shows_the_committed_run_of_the_drop_in_s_speed(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks.markdown import sklearn_table

    doc = json.loads((DOCS / "benchmarks" / "results.json").read_text(encoding="utf-8"))
    table = sklearn_table(doc)
    rows = [r for r in doc["results"] if r["case"] == "sklearn"]
    assert len(table) == 2 + len(rows) == 6  # header, rule, each solver in each dtype
    for r in rows:
        assert any(line.startswith(f"| {r['size'].split(',')[0]} | {r['dtype']} |")
                   and line.endswith(f" | {r['ratio']:.2f}x |") for line in table)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "\n".join(table) in readme


def test_the_digits_guide_shows_the_committed_run_of_the_three_libraries(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks.markdown import digits_table

    doc = json.loads((DOCS / "benchmarks" / "results.json").read_text(encoding="utf-8"))
    table = digits_table(doc)
    rows = [r for r in doc["results"] if r["case"] == "digits"]
    assert len(table) == 2 + len(rows) // 2 == 6  # each optimizer in each dtype, two peers
    for r in rows:
        epoch = 1e3 * r["metrics"]["matnn_s_per_epoch"]
        assert any(f"| {r['dtype']} | {epoch:.2f} |" in line and f"{r['ratio']:.1f}x" in line
                   for line in table)
    guide = (DOCS / "guide" / "digits.md").read_text(encoding="utf-8")
    assert "\n".join(table) in guide


def test_the_benchmarks_page_shows_the_committed_run_row_by_row(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    from benchmarks.markdown import render

    doc = json.loads((DOCS / "benchmarks" / "results.json").read_text(encoding="utf-8"))
    page = render(doc)
    kind = "full" if not doc["quick"] else "quick (smoke)"
    assert f"a {kind} run on {doc['machine']['date']}" in page
    assert doc["machine"]["summary"] in page
    targeted = [r for r in doc["results"] if r["target"] is not None]
    assert f"{sum(r['met'] is True for r in targeted)} of {len(targeted)} targets met" in page
    rows = [line for line in page.splitlines() if line.startswith("| ") and " | float" in line]
    # Each result once in its case's table, and each targeted one again among the targets.
    assert len(rows) == len(doc["results"]) + len(targeted)
    for r in targeted:
        verdict = "met" if r["met"] else "MISSED"
        assert f"| {r['case']} | {r['size']} | {r['dtype']} |" in page
        assert any(f"| {r['size']} | {r['dtype']} |" in row and f"{r['target'][1]:g} {verdict}" in row
                   for row in rows)
