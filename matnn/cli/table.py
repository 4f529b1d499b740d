"""A CSV file of data as the commands read it: the header row, and which it was."""

from __future__ import annotations

import functools

from ..csvfile import read_table
from .errors import read

__all__ = ["read_csv", "header_note"]


def read_csv(path, header):
    """``(values, names)`` of the CSV at ``path``, or a one-line CommandError.

    ``header`` is ``--header`` (True), ``--no-header`` (False) or neither (None).
    """
    return read(functools.partial(read_table, header=header), path)


def header_note(names, header):
    """Which the first row of a CSV file was, and who decided."""
    found = "header row" if names is not None else "no header row"
    if header is None:
        return f"{found} detected"
    return f"{found}, as --{'' if header else 'no-'}header says"
