"""``python -m matnn``: the same as the ``matnn`` command."""

import sys

from .cli import main

sys.exit(main())
