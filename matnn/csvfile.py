"""Numeric CSV files for the command line: read a table, write predictions.

A table is comma-separated numbers, one sample per row, every row the same
width. The first row may be a header. Unless the caller says whether there
is one, it is taken as a header only when none of its fields is a number; a
first row mixing numbers and text is an error (most likely a typo in the
data), never silently dropped. Blank lines are skipped. Any other
irregularity raises ``ValueError`` naming the file, the line and the column,
so the command line can report it in one line.

Like a model file, a table is read from a regular file only (a FIFO, a
device or a directory is refused before any read, so reading cannot block
or run on forever) and only up to :data:`MAX_BYTES`: a larger file is
refused with its size, before it is read.
"""

from __future__ import annotations

import csv
import io
import math
import os
import stat
from array import array
from typing import Any, Sequence, TextIO

import numpy as np

from ._typing import NDArray, StrPath
from .model_file import _FILE_KINDS
from .validation import check_int

__all__ = ["MAX_BYTES", "read_table", "write_table"]

#: The largest file :func:`read_table` reads by default, in bytes (256 MiB).
#: Its numbers take up to four times as much memory as their text.
MAX_BYTES = 256 * 2**20


def read_table(
    path: StrPath, header: bool | None = None, max_bytes: int = MAX_BYTES
) -> tuple[NDArray[np.float64], tuple[str, ...] | None]:
    """Read a numeric CSV file.

    Parameters
    ----------
    path : str or os.PathLike
        A regular file.
    header : bool or None
        True: the first row is a header. False: there is none, and every row
        must be numbers. None (default): the first row is a header when none
        of its fields is a number, and data when all are.
    max_bytes : int >= 1
        The largest file read; :data:`MAX_BYTES` by default.

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
        If it is not a regular file (a directory, FIFO, device or socket),
        is larger than ``max_bytes``, empty, not text, ragged, holds a field
        that is not a finite number, or (with ``header=None``) its first row
        mixes numbers and text; the message names the file, and the line and
        column where there is one.
    """
    if header not in (None, True, False):
        raise TypeError(f"header must be True, False or None, got {header!r}")
    max_bytes = check_int(max_bytes, "max_bytes", 1)
    values, n_rows, names, width = array("d"), 0, None, None
    text = io.TextIOWrapper(io.BytesIO(_read_bounded(path, max_bytes)), encoding="utf-8-sig",
                            newline="")
    reader = csv.reader(text)
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
            values.extend(_numbers(fields, path, reader.line_num))
            n_rows += 1
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text CSV file (it is not UTF-8)") from None
    except csv.Error as exc:
        raise ValueError(f"{path}: line {reader.line_num}: malformed CSV ({exc})") from None
    if not n_rows:
        raise ValueError(f"{path}: no rows of numbers" + (" after the header" if names else ""))
    # Eight bytes a number: a list of Python floats would take four times that.
    # width is set by the first row read.
    table = np.frombuffer(values, dtype=np.float64).reshape(n_rows, width)  # type: ignore[arg-type]
    return table, names


def _read_bounded(path: StrPath, max_bytes: int) -> bytes:
    """The bytes of the regular file at ``path``; more than ``max_bytes`` is an error."""
    # As for model files: stat names a special file before open() could
    # block on it, and O_NONBLOCK with fstat covers one swapped in between.
    _check_regular(os.stat(path), path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    with open(os.open(path, flags), "rb") as f:
        info = os.fstat(f.fileno())
        _check_regular(info, path)
        if info.st_size > max_bytes:
            raise ValueError(f"{path}: the file is {_size(info.st_size)}, more than the "
                             f"{_size(max_bytes)} a table may hold (read_table's max_bytes)")
        # Bounded even if the file grows, or its size reads 0 (/proc files).
        raw = f.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise ValueError(f"{path}: the file holds more than the {_size(max_bytes)} a table may "
                         f"hold (read_table's max_bytes), though its size read "
                         f"{_size(info.st_size)}")
    return raw


def _check_regular(info: os.stat_result, path: StrPath) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _FILE_KINDS if test(info.st_mode)), "a special file")
        raise ValueError(f"{path}: not a regular file but {kind}; a table is a CSV file")


def _size(n: int) -> str:
    return f"{n} bytes" if n < 2**20 else f"{n / 2**20:.4g} MiB ({n} bytes)"


def _is_header(fields: list[str], path: StrPath, line: int) -> bool:
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


def _is_number(field: str) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _numbers(fields: list[str], path: StrPath, line: int) -> list[float]:
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


def write_table(f: TextIO, values: NDArray[Any], header: Sequence[str]) -> None:
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
