"""The version is written once (matnn.__version__) and shows up everywhere it should."""

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import matnn

ROOT = Path(__file__).resolve().parents[1]


def test_the_installed_metadata_carries_matnn_version():
    # pyproject.toml reads it from matnn.__version__ when the package is built.
    assert importlib.metadata.version("matnn") == matnn.__version__


def test_matnn_version_prints_it():
    done = subprocess.run([sys.executable, "-m", "matnn", "--version"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"matnn {matnn.__version__}\n"


def test_the_changelog_has_an_entry_for_this_version():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"\n## [{matnn.__version__}] - " in changelog
