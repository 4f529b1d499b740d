"""What the commands write: files, atomically, and text from the user, escaped.

Every file a command writes (a page, a plot, predictions) goes through
:func:`write_file`, the atomic write of model files
(:func:`matnn.atomic.write_atomically`): a failure part way, or Ctrl-C,
leaves the file as it was. Text that comes from the user rather than from
matnn (file names, a CSV's header names) is printed through :func:`shown`,
so a name holding bytes that are not UTF-8, or a terminal escape sequence,
is printed as a Python escape instead of failing or acting on the terminal.
"""

from __future__ import annotations

from typing import BinaryIO, Callable

from ..atomic import write_atomically
from .errors import cannot_write

__all__ = ["shown", "write_file", "write_text"]


def shown(text: object) -> str:
    """``text`` safe to print: undecodable bytes and unprintable characters as escapes.

    A byte that was not UTF-8 (kept by Python as a lone surrogate in file
    names and ``argv``) becomes ``\\xff``; a control or format character
    (an escape sequence's ESC, a carriage return, a right-to-left mark)
    becomes ``\\x1b``, ``\\r``, ``\\u202e``. Everything else, spaces
    included, is kept.
    """
    text = str(text).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape").decode()
                   for c in text)


def write_file(path: str, write: Callable[[BinaryIO], object]) -> None:
    """``write(f)`` into a new binary file that then replaces ``path``, or a one-line error.

    Raises
    ------
    CommandError
        The file cannot be written; ``path`` is left as it was.
    """
    try:
        write_atomically(path, write)
    except OSError as exc:
        raise cannot_write(path, exc) from None


def write_text(path: str, text: str) -> None:
    """:func:`write_file` of ``text``, as UTF-8."""
    data = text.encode("utf-8")
    write_file(path, lambda f: f.write(data))
