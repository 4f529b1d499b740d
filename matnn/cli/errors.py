"""How a command fails: one line on stderr and exit status 2, never a traceback.

:func:`matnn.cli.main` prints a :class:`CommandError` as
``matnn COMMAND: error: MESSAGE``. The helpers here turn the failures a
command expects (a file that cannot be read or written, a size beyond the
machine's memory) into one.
"""

from __future__ import annotations

from typing import Callable, TypeVar

from ..memory import check_memory as _check_memory

T = TypeVar("T")

__all__ = ["CommandError", "read", "cannot_write", "check_memory"]


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 2."""


def read(reader: Callable[[str], T], path: str) -> T:
    """``reader(path)``, with any problem of the file as a one-line CommandError."""
    try:
        return reader(path)
    except FileNotFoundError:
        raise CommandError(f"no such file: {path}") from None
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def cannot_write(path: str, exc: OSError) -> CommandError:
    """The CommandError for an ``OSError`` raised while writing ``path``."""
    return CommandError(f"cannot write {path}: {exc.strerror or exc}")


def check_memory(what: str, needed: int) -> None:
    """Refuse ``what`` at once when its ``needed`` bytes exceed the available memory."""
    try:
        _check_memory(needed, what)
    except MemoryError as exc:
        raise CommandError(f"{exc}; use smaller values") from None
