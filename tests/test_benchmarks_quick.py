"""The benchmark suite's smoke run works end to end (no timing is asserted)."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_benchmarks_run_and_every_comparison_agrees(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["quick"] is True
    results = doc["results"]
    assert results
    disagreed = [(r["case"], r["size"], r["dtype"], r["agreement"])
                 for r in results if not r["agreed"]]
    assert disagreed == []
    # Every case ran both dtypes.
    for case in {r["case"] for r in results}:
        assert {r["dtype"] for r in results if r["case"] == case} == {"float64", "float32"}
