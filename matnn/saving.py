"""Saving a trained network to a file, and loading it back safely.

A model file is an ordinary ``.npz`` archive (uncompressed, as ``np.savez``
writes it) holding nothing but plain arrays:

- ``format_version``: int, shape (); :data:`FORMAT_VERSION`.
- ``sizes``: int, shape (L + 1,); ``(n_in, n_hidden..., n_out)``.
- ``activations``: str, shape (L,); one activation name per layer.
- ``dtype``: str, shape (); ``"float32"`` or ``"float64"``.
- ``W1`` ... ``WL``: float, ``W<l>`` of shape (sizes[l], sizes[l - 1]); the
  weights of layer ``l``.
- ``b1`` ... ``bL``: float, ``b<l>`` of shape (sizes[l],); its biases.

For the document's network ``W1`` holds ``w1..w4``, ``b1`` holds
``b1, b2``, ``W2`` holds ``w5, w6`` and ``b2`` holds ``b3``.

Saving is atomic: the archive goes to a new file next to the target and only
``os.replace`` puts it in place, so an interrupted save leaves any earlier
file untouched. The file is written to the path exactly as given; no
``.npz`` suffix is appended (``np.savez`` would add one to a bare file name,
so the archive is written to an open file instead).

Loading never unpickles and never executes anything from the file. Each
array's header is checked before its data is read, so a corrupted header
cannot make the loader allocate more memory than the file holds. Anything
that is not a well-formed model file raises ``ValueError`` naming the file
and the problem.
"""

from __future__ import annotations

import io
import math
import os
import struct
import tokenize
import uuid
import warnings
import zipfile
import zlib

import numpy as np

from .activations import ACTIVATIONS
from .layers import Dense
from .network import Network

__all__ = ["FORMAT_VERSION", "save", "load"]

#: The version written by :func:`save`; :func:`load` reads only this one.
FORMAT_VERSION = 1

_METADATA = ("format_version", "sizes", "activations", "dtype")

# What the standard library's zip reader and numpy's .npy header parser raise
# on damaged bytes: BadZipFile for broken structure or a bad CRC, zlib.error,
# EOFError and OSError for truncated or garbled data, struct.error for short
# records, ValueError (including UnicodeDecodeError) for malformed headers and
# names, SyntaxError and TokenError from the header's literal parser,
# NotImplementedError and RuntimeError for unsupported compression or
# encryption flags, KeyError for a central directory that lists a missing
# member, OverflowError and TypeError for absurd header values, and any
# warning, which load() turns into an error (numpy warns about headers it has
# to repair, which no file written by save() needs).
_DAMAGED = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    struct.error,
    ValueError,
    SyntaxError,
    tokenize.TokenError,
    NotImplementedError,
    RuntimeError,
    KeyError,
    OverflowError,
    TypeError,
    Warning,
)

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


class _BadModel(Exception):
    """A problem found inside the file; :func:`load` adds the file name."""


def save(net, path):
    """Write ``net`` to ``path`` atomically.

    The archive is written to a temporary file in the same directory,
    flushed and fsynced, then moved over ``path`` with ``os.replace``. If
    anything fails (or the process is interrupted) before that, ``path`` is
    left as it was and the temporary file is removed.

    Parameters
    ----------
    net : Network
    path : str or os.PathLike
        Written exactly as given; no ``.npz`` suffix is added.
    """
    if not isinstance(net, Network):
        raise TypeError(f"net must be a matnn.Network, got {type(net).__name__}")
    path = os.fspath(path)
    arrays = {
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "sizes": np.array(net.sizes, dtype=np.int64),
        "activations": np.array(net.activations, dtype=str),
        "dtype": np.array(net.dtype.name),
    }
    for l, layer in enumerate(net.layers, start=1):
        arrays[f"W{l}"] = layer.W
        arrays[f"b{l}"] = layer.b

    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    # os.open with mode 0o666 lets the umask decide the permissions, as for
    # any new file; O_EXCL guarantees the temporary name is ours alone.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(tmp, flags, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory):
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


def load(path):
    """Read a network written by :func:`save`.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    Network
        With the saved sizes, activations, dtype and bit-identical
        parameters.

    Raises
    ------
    FileNotFoundError, OSError
        If the file cannot be read at all.
    ValueError
        If it is not a matnn model file of a supported version: truncated,
        corrupted, a foreign archive, one holding pickled objects, or arrays
        whose shape, dtype or values (NaN, inf) do not fit the declared
        architecture. The message names the file.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return _decode(raw)
    except _BadModel as exc:
        raise ValueError(f"{path}: {exc}") from None


def _decode(raw):
    if not raw:
        raise _BadModel("the file is empty, not a matnn model")
    if raw.startswith(b"\x93NUMPY"):
        raise _BadModel("a single .npy array, not a matnn model archive (.npz)")
    if not raw.startswith(_ZIP_MAGIC):
        raise _BadModel("not a matnn model file (not an .npz archive)")
    try:
        archive = np.load(io.BytesIO(raw), allow_pickle=False)
    except _DAMAGED as exc:
        raise _BadModel(f"corrupted or truncated archive ({_reason(exc)})") from None
    with archive:
        reader = _Reader(archive, len(raw))
        present = set(archive.files)
        if not present & set(_METADATA):
            listing = _names(sorted(present)[:8]) or "nothing"
            raise _BadModel(f"an .npz archive but not a matnn model (it holds {listing})")
        missing = [key for key in _METADATA if key not in present]
        if missing:
            raise _BadModel(f"missing {', '.join(missing)}; not a complete matnn model")

        version = reader.scalar("format_version", "iu")
        if version != FORMAT_VERSION:
            raise _BadModel(
                f"format version {version} is not supported; this matnn reads "
                f"version {FORMAT_VERSION}"
            )
        sizes = _check_sizes(reader.vector("sizes", "iu"))
        activations = _check_activations(reader.vector("activations", "U"), len(sizes) - 1)
        dtype = _check_dtype(reader.scalar("dtype", "U"))

        expected = [key for l in range(1, len(sizes)) for key in (f"W{l}", f"b{l}")]
        missing = [key for key in expected if key not in present]
        if missing:
            raise _BadModel(f"missing arrays {', '.join(missing)} for sizes {sizes}")
        unexpected = sorted(present - set(expected) - set(_METADATA))
        if unexpected:
            raise _BadModel(f"unexpected arrays {_names(unexpected)} for sizes {sizes}")
        layers = []
        for l, activation in enumerate(activations, start=1):
            n_in, n_out = sizes[l - 1], sizes[l]
            W = reader.parameter(f"W{l}", (n_out, n_in), dtype)
            b = reader.parameter(f"b{l}", (n_out,), dtype)
            layers.append(Dense(W, b, activation, dtype=dtype))
    return Network(layers)


class _Reader:
    """Reads arrays from an open archive, checking each header first."""

    def __init__(self, archive, file_size):
        self.archive = archive
        self.file_size = file_size

    def header(self, key):
        """``(shape, dtype)`` of a member, read without touching its data."""
        try:
            info = self.archive.zip.getinfo(f"{key}.npy")
            if info.compress_type != zipfile.ZIP_STORED:
                raise _BadModel(
                    f"array {key} is compressed; matnn model files store arrays uncompressed"
                )
            # A stored member's data can be no larger than the file holding it.
            if info.file_size != info.compress_size or info.compress_size > self.file_size:
                raise _BadModel(f"array {key} has inconsistent sizes in the archive")
            with self.archive.zip.open(info) as member:
                version = np.lib.format.read_magic(member)
                if version == (1, 0):
                    shape, _, dtype = np.lib.format.read_array_header_1_0(member)
                elif version == (2, 0):
                    shape, _, dtype = np.lib.format.read_array_header_2_0(member)
                else:
                    raise _BadModel(f"array {key} has an unsupported .npy version {version}")
                header_size = member.tell()
        except _DAMAGED as exc:
            raise _BadModel(f"array {key} is corrupted ({_reason(exc)})") from None
        if dtype.hasobject:
            raise _BadModel(
                f"array {key} holds pickled Python objects (dtype {dtype}); "
                "refusing to load it"
            )
        count = math.prod(shape)
        if count * dtype.itemsize != info.file_size - header_size:
            raise _BadModel(
                f"array {key} is truncated or corrupted: its header declares shape "
                f"{shape} of {dtype}, which does not match its stored size"
            )
        return shape, dtype

    def read(self, key):
        try:
            return self.archive[key]
        except _DAMAGED as exc:
            raise _BadModel(f"array {key} is corrupted ({_reason(exc)})") from None

    def scalar(self, key, kinds):
        shape, dtype = self.header(key)
        if shape != () or dtype.kind not in kinds:
            raise _BadModel(f"{key} must be a single {_KIND_NAMES[kinds]}, got shape {shape} of {dtype}")
        return self.read(key).item()

    def vector(self, key, kinds):
        shape, dtype = self.header(key)
        if len(shape) != 1 or dtype.kind not in kinds:
            raise _BadModel(
                f"{key} must be a 1-D array of {_KIND_NAMES[kinds]}s, got shape {shape} of {dtype}"
            )
        return self.read(key).tolist()

    def parameter(self, key, shape, dtype):
        found_shape, found_dtype = self.header(key)
        # Byte order may differ between machines; kind and width must not.
        if found_dtype.kind != "f" or found_dtype.itemsize != dtype.itemsize:
            raise _BadModel(f"array {key} has dtype {found_dtype}, but the model declares {dtype}")
        if found_shape != shape:
            raise _BadModel(
                f"array {key} has shape {found_shape}, but the declared sizes need {shape}"
            )
        arr = self.read(key).astype(dtype)
        if not np.isfinite(arr).all():
            where = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
            raise _BadModel(f"array {key} contains NaN or inf (first at index {where})")
        return arr


_KIND_NAMES = {"iu": "integer", "U": "string"}


def _check_sizes(sizes):
    if len(sizes) < 2 or any(s < 1 for s in sizes):
        raise _BadModel(f"sizes must list at least two widths, each >= 1; got {sizes}")
    return tuple(int(s) for s in sizes)


def _check_activations(names, n_layers):
    if len(names) != n_layers:
        raise _BadModel(f"{len(names)} activations for {n_layers} layers")
    for name in names:
        if name not in ACTIVATIONS:
            raise _BadModel(
                f"unknown activation {name!r}; this matnn knows {sorted(ACTIVATIONS)}"
            )
    return names


def _check_dtype(name):
    if name not in ("float32", "float64"):
        raise _BadModel(f"dtype must be 'float32' or 'float64', got {name!r}")
    return np.dtype(name)


def _names(keys):
    # repr keeps names read from a damaged file printable and on one line.
    return ", ".join(repr(key) for key in keys)


def _reason(exc):
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
