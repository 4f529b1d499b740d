"""Writing a file atomically: all of the new content or none of it.

The content goes to a new temporary file next to the target, is flushed and
fsynced, and only ``os.replace`` puts it in place, so a reader (or a crash)
sees either the old file or the new one, never a part. :func:`matnn.saving.save`
writes model files this way, and :meth:`matnn.Drawing.save` drawings.
"""

from __future__ import annotations

import os
import secrets
import stat
from typing import BinaryIO, Callable

__all__ = ["write_atomically"]


def write_atomically(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(f)`` on a new binary file, then move it over ``path``.

    The file is ``.matnn-<8 hex digits>.tmp`` in ``path``'s directory,
    flushed and fsynced before ``os.replace`` puts it in place, so ``path``
    holds either its old content or the new one, never a part. If anything
    fails (or the process is interrupted) before that, ``path`` is left as
    it was and the temporary file is removed. A symbolic link ``path`` keeps
    pointing where it did, at the new file; an existing file's permission
    bits are kept.

    Parameters
    ----------
    path : str or os.PathLike
    write : callable
        Takes the open binary file and writes the whole content to it.

    Raises
    ------
    OSError
        If the file cannot be written. When ``os.replace`` fails, its error
        is the one raised, even if removing the temporary file fails too.
    """
    # Resolving a link keeps it a link, and puts the temporary file on the
    # target's filesystem, where os.replace is atomic.
    path = os.path.realpath(os.fspath(path))
    mode = _existing_mode(path)
    directory = os.path.dirname(path)
    tmp, fd = _create_temporary(directory)
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.chmod(f.fileno() if os.chmod in os.supports_fd else tmp, mode)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        except OSError as cleanup:
            # The first failure is the one to act on; the leftover is a note.
            if hasattr(exc, "add_note"):
                exc.add_note(f"the temporary file {tmp} could not be removed: {cleanup}")
        raise
    _fsync_directory(directory)


def _existing_mode(path: str) -> int | None:
    """The permission bits of the regular file at ``path``, or None."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return stat.S_IMODE(info.st_mode) if stat.S_ISREG(info.st_mode) else None


def _create_temporary(directory: str) -> tuple[str, int]:
    """``(name, fd)`` of a new, empty file in ``directory``, open for writing."""
    # Mode 0o666 lets the umask decide the permissions, as for any new file;
    # O_EXCL guarantees the name is ours alone. The name is short so that it
    # fits wherever the target's name fits.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(directory, f".matnn-{secrets.token_hex(4)}.tmp")
        try:
            return tmp, os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary file name in {directory}")


def _fsync_directory(directory: str) -> None:
    # Makes the rename itself durable on POSIX. The data are already safe in
    # the file, so a filesystem that cannot sync a directory is not an error.
    if os.name != "posix":
        return
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
