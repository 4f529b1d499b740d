"""Sphinx configuration for matnn's documentation site.

Build it with ``python -m sphinx -W -b html docs docs/_build/html`` after
``pip install -e '.[docs]'``. The build needs no network: there is no
intersphinx, and the lesson notebook runs on this machine.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The benchmarks package is not installed: it lives next to matnn in the checkout.
sys.path.insert(0, str(ROOT))

import matnn  # noqa: E402
from benchmarks.markdown import write_page  # noqa: E402

project = "matnn"
author = "the matnn maintainers"
copyright = "2026, the matnn maintainers"
release = version = matnn.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
    "sphinxarg.ext",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build", "jupyter_execute", "**.ipynb_checkpoints"]

# -- API reference: one page per public name, from its numpydoc docstring.
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

# -- Markdown and notebooks.
myst_enable_extensions = ["colon_fence", "dollarmath", "deflist"]
myst_heading_anchors = 3
# The lesson notebook runs at every build, in a few seconds, so that the page
# always shows what this version of matnn computes.
nb_execution_mode = "force"
nb_execution_timeout = 300
nb_execution_raise_on_error = True
nb_execution_show_tb = True

html_theme = "pydata_sphinx_theme"
html_title = f"matnn {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path = []
templates_path = ["_templates"]


def _benchmarks_page(app):
    """Render the committed benchmark run to Markdown before the build reads it."""
    source = Path(app.srcdir)
    write_page(source / "benchmarks" / "results.json", source / "benchmarks" / "index.md")


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Leave out what a class inherits from another library (scikit-learn's
    ``score`` and metadata-routing methods): their docstrings are theirs."""
    module = getattr(obj, "__module__", None) or ""
    if callable(obj) and module and not module.startswith("matnn"):
        return True
    return None


def setup(app):
    app.connect("builder-inited", _benchmarks_page)
    app.connect("autodoc-skip-member", _skip_foreign_members)
