"""Shared test set-up.

numpy warnings are errors for the whole suite (see ``filterwarnings`` in
pyproject.toml). Under ``CI=true`` hypothesis uses its built-in ``ci``
profile: derandomized, no deadline, no example database.
"""

import os

from hypothesis import settings

settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
