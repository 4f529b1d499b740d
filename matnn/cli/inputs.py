"""What the commands read: CSV data (its header row, its target column) and model files."""

from __future__ import annotations

import argparse
import functools
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .._typing import FloatArray, NDArray
from ..csvfile import read_table
from ..saving import load
from .errors import CommandError, read

if TYPE_CHECKING:
    from ..network import Network
    from ..scaling import Standardizer

__all__ = ["read_csv", "header_note", "add_target_option", "target_index", "class_labels",
           "check_probabilities", "load_model", "standardized"]


def read_csv(path: str, header: bool | None) -> tuple[NDArray[Any], tuple[str, ...] | None]:
    """``(values, names)`` of the CSV at ``path``, or a one-line CommandError.

    ``header`` is ``--header`` (True), ``--no-header`` (False) or neither (None).
    """
    return read(functools.partial(read_table, header=header), path)


def header_note(names: Sequence[str] | None, header: bool | None) -> str:
    """Which the first row of a CSV file was, and who decided."""
    found = "header row" if names is not None else "no header row"
    if header is None:
        return f"{found} detected"
    return f"{found}, as --{'' if header else 'no-'}header says"


def load_model(path: str) -> tuple[Network, Standardizer | None]:
    """``(network, standardizer or None)`` from a model file, or a one-line CommandError."""
    return read(lambda p: load(p, with_scaler=True), path)


def standardized(scaler: Standardizer, X: FloatArray, path: str) -> NDArray[np.float64]:
    """``scaler.transform(X)`` for the features of the CSV at ``path``, or a one-line error."""
    try:
        return scaler.transform(X)
    except ValueError as exc:
        raise CommandError(f"{path}: {exc}") from None


def add_target_option(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument(
        "--target", metavar="COLUMN",
        help="the target column: its name in the header row, or its 0-based index "
             "(negative counts from the end, -1 is the last column); a name is looked "
             f"up first. Every other column is a feature ({default})")


def target_index(given: str, names: Sequence[str] | None, n_columns: int, path: str) -> int:
    """The 0-based column ``--target`` names, from a header name or an index.

    A name in the header row wins over reading ``given`` as a number, so a
    header whose names are digits still works; an index may be negative,
    counted from the end as Python does (``-1`` is the last column).
    """
    if names is not None and given in names:
        if names.count(given) > 1:
            raise CommandError(f"--target {given!r}: {path} has {names.count(given)} columns "
                               "of that name; give the 0-based index of the one you mean")
        return names.index(given)
    try:
        index = int(given)
    except ValueError:
        if names is None:
            raise CommandError(f"--target {given!r}: {path} has no header row, so its "
                               "columns have no names; give a 0-based column index") from None
        raise CommandError(f"--target {given!r}: {path} has no column of that name; its "
                           f"columns are {', '.join(names)}") from None
    if not -n_columns <= index < n_columns:
        raise CommandError(f"--target {index}: {path} has {n_columns} columns, indices 0 to "
                           f"{n_columns - 1} (or -{n_columns} to -1 from the end)")
    return index % n_columns


def class_labels(
    column: NDArray[np.float64], name: str, path: str, why: str
) -> NDArray[np.int64]:
    """A CSV column of class labels 0, 1, 2, ... as int64, or a one-line error.

    ``why`` says why the column must hold labels, e.g. ``"with --loss
    cross_entropy the last column"``.
    """
    bad = np.flatnonzero((column != np.round(column)) | (column < 0))
    if bad.size:
        i = int(bad[0])
        raise CommandError(
            f"{path}: {why} ({name}) holds class labels 0, 1, 2, ..., but data row {i + 1} "
            f"has {column[i]:g}"
        )
    # Beyond 2**53 a float64 holds no integer exactly (and past 2**63 the
    # cast to int64 would overflow): no class number is that large.
    huge = np.flatnonzero(column >= 2.0**53)
    if huge.size:
        i = int(huge[0])
        raise CommandError(
            f"{path}: {why} ({name}) holds class labels 0, 1, 2, ..., but data row {i + 1} "
            f"has {column[i]:g}, beyond any number of classes (labels must be below 2**53)"
        )
    return column.astype(np.int64)


def check_probabilities(
    Y: NDArray[np.float64], names: Sequence[str], path: str, why: str
) -> None:
    """Refuse binary cross-entropy targets outside [0, 1], naming the first.

    ``why`` says who needs them, e.g. ``"--loss binary_cross_entropy"``.
    """
    bad = np.argwhere((Y < 0) | (Y > 1))
    if bad.size:
        i, j = (int(v) for v in bad[0])
        raise CommandError(
            f"{path}: {why} needs targets from 0 to 1, but {names[j]} is {Y[i, j]:g} in "
            f"data row {i + 1}"
        )
