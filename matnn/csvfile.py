"""Numeric CSV files for the command line: read a table, write predictions.

A table is comma-separated numbers, one sample per row, every row the same
width. The first row may be a header. Unless the caller says whether there
is one, it is taken as a header only when none of its fields is a number; a
first row mixing numbers and text is an error (most likely a typo in the
data), never silently dropped. Blank lines are skipped. Any other
irregularity raises ``ValueError`` naming the file, the line and the column,
so the command line can report it in one line.
"""

from __future__ import annotations

import csv
import math

import numpy as np

__all__ = ["read_table", "write_table"]


def read_table(path, header=None):
    """Read a numeric CSV file.

    Parameters
    ----------
    path : str or os.PathLike
    header : bool or None
        True: the first row is a header. False: there is none, and every row
        must be numbers. None (default): the first row is a header when none
        of its fields is a number, and data when all are.

    Returns
    -------
    values : ndarray of shape (n_rows, n_columns), float64
    names : tuple of str, or None
        The column names when the first row is a header.

    Raises
    ------
    FileNotFoundError, OSError
        If the file cannot be opened.
    ValueError
        If it is empty, not text, ragged, holds a field that is not a finite
        number, or (with ``header=None``) its first row mixes numbers and
        text; the message names the line and the column.
    """
    if header not in (None, True, False):
        raise TypeError(f"header must be True, False or None, got {header!r}")
    rows, names, width = [], None, None
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        try:
            for fields in reader:
                if not fields or all(not field.strip() for field in fields):
                    continue
                if width is None:
                    width = len(fields)
                    if header or (header is None and _is_header(fields, path, reader.line_num)):
                        names = tuple(field.strip() for field in fields)
                        continue
                elif len(fields) != width:
                    raise ValueError(
                        f"{path}: line {reader.line_num} has {len(fields)} columns, "
                        f"but the first row has {width}"
                    )
                rows.append(_numbers(fields, path, reader.line_num))
        except UnicodeDecodeError:
            raise ValueError(f"{path}: not a text CSV file (it is not UTF-8)") from None
        except csv.Error as exc:
            raise ValueError(f"{path}: line {reader.line_num}: malformed CSV ({exc})") from None
    if not rows:
        raise ValueError(f"{path}: no rows of numbers" + (" after the header" if names else ""))
    return np.array(rows, dtype=np.float64), names


def _is_header(fields, path, line):
    """Whether the first row ``fields`` is a header: text only, no numbers."""
    numeric = [_is_number(field) for field in fields]
    if all(numeric):
        return False
    if not any(numeric):
        return True
    column = numeric.index(False) + 1
    raise ValueError(
        f"{path}: line {line}, column {column}: {fields[column - 1].strip()!r} is not a "
        "number, but other fields of this first row are; a header row holds no "
        "numbers (say which it is with --header or --no-header)"
    )


def _is_number(field):
    try:
        float(field)
    except ValueError:
        return False
    return True


def _numbers(fields, path, line):
    values = []
    for column, field in enumerate(fields, start=1):
        try:
            value = float(field)
        except ValueError:
            raise ValueError(
                f"{path}: line {line}, column {column}: {field.strip()!r} is not a number"
            ) from None
        if not math.isfinite(value):
            raise ValueError(
                f"{path}: line {line}, column {column}: {field.strip()!r} is not a finite number"
            )
        values.append(value)
    return values


def write_table(f, values, header):
    """Write ``values`` as CSV, one row per sample, after a header row.

    Parameters
    ----------
    f : text file
    values : ndarray of shape (n_rows, n_columns)
        Each number is written in the shortest form that reads back to the
        same value of its dtype.
    header : sequence of str, one per column
    """
    writer = csv.writer(f, lineterminator="\n")
    writer.writerow(header)
    for row in values:
        writer.writerow([str(v) for v in row])
