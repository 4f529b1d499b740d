"""mypy passes on matnn/, as configured in pyproject.toml ([tool.mypy]).

The annotations are part of the public API (matnn ships ``py.typed``), so a
wrong one is a bug like any other. Skipped when mypy is not installed
(``pip install -e '.[test]'`` brings it), except under ``CI=true``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_mypy_passes_on_matnn():
    if importlib.util.find_spec("mypy") is None:
        if os.environ.get("CI"):
            pytest.fail("CI=true but mypy is not installed; the test extra brings it")
        pytest.skip("mypy is not installed: pip install -e '.[test]'")
    # The files and settings come from pyproject.toml; the cache makes reruns quick.
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

