"""The model file: the archive a network is saved in, written atomically and read back safely.

:func:`matnn.save` and :func:`matnn.load` (:mod:`matnn.saving`) are the
public entry points; this module knows the format, and nothing of
:class:`~matnn.Network` beyond its layers, sizes, dtype and loss.

A model file is an ordinary ``.npz`` archive (uncompressed, as ``np.savez``
writes it) holding nothing but plain arrays:

- ``format_version``: int, shape (); :data:`FORMAT_VERSION`.
- ``sizes``: int, shape (L + 1,); ``(n_in, n_hidden..., n_out)``.
- ``activations``: str, shape (L,); one activation name per layer.
- ``loss``: str, shape (); the loss's name (version 2; a version 1 file,
  written by matnn 0.1.0, has none and loads with the lesson's ``"mse"``).
- ``dtype``: str, shape (); ``"float32"`` or ``"float64"``.
- ``W1`` ... ``WL``: float, ``W<l>`` of shape (sizes[l], sizes[l - 1]); the
  weights of layer ``l``.
- ``b1`` ... ``bL``: float, ``b<l>`` of shape (sizes[l],); its biases.
- ``scaler_mean``, ``scaler_scale``: float64, shape (sizes[0],); optional,
  both or neither (version 3): the :class:`~matnn.Standardizer` the inputs
  go through before the network, saved with ``save(net, path, scaler=...)``.

For the document's network ``W1`` holds ``w1..w4``, ``b1`` holds
``b1, b2``, ``W2`` holds ``w5, w6`` and ``b2`` holds ``b3``.

Saving is atomic: the archive goes to a new file next to the target and only
``os.replace`` puts it in place, so an interrupted save leaves any earlier
file untouched. The file is written to the path exactly as given; no
``.npz`` suffix is appended (``np.savez`` would add one to a bare file name,
so the archive is written to an open file instead). Saving through a
symbolic link replaces the file the link points to and keeps the link;
saving over an existing file keeps its permission bits. A network with a
NaN or inf parameter is refused before anything is written.

Activations and losses are saved by name. A user-defined one is rebuilt at
load time from ``load(path, custom={name: Activation or Loss})``, as Keras's
``custom_objects`` does; its functions are never stored in the file.

Loading never unpickles and never executes anything from the file. It reads
regular files only (a FIFO, a device or a directory is refused before any
read, so loading cannot block) and never more bytes than the file's size.
Each array's header is parsed by a strict reader of exactly what ``np.save``
writes and checked against the member's stored size before the data are
used, so a corrupted header cannot make the loader allocate more memory than
the file holds. Anything that is not a well-formed model file raises
``ValueError`` naming the file and the problem. Loading touches no global
state, the warning filters included, so threads may load at the same time.
"""

from __future__ import annotations

import io
import math
import os
import re
import stat
import struct
import zipfile
import zlib
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

from ._typing import FloatArray, NDArray, StrPath
from .activations import ACTIVATIONS, Activation
from .atomic import write_atomically
from .losses import LOSSES, Loss
from .layers import Dense
from .scaling import Standardizer
from .validation import check_finite_layers, check_sizes

if TYPE_CHECKING:
    from .model import Model

__all__ = ["FORMAT_VERSION", "READABLE_VERSIONS", "write", "read"]

#: The version written by :func:`save`; :func:`load` reads all of :data:`READABLE_VERSIONS`.
FORMAT_VERSION = 3

#: The versions :func:`load` reads.
READABLE_VERSIONS = (1, 2, 3)

_SCALER = ("scaler_mean", "scaler_scale")

_METADATA = ("format_version", "sizes", "activations", "dtype")

# What the standard library's zip reader and numpy's dtype parser raise on
# damaged bytes: BadZipFile for broken structure or a bad CRC, zlib.error,
# EOFError and OSError for truncated or garbled data, struct.error for short
# records, ValueError (including UnicodeDecodeError) for malformed headers and
# names, NotImplementedError and RuntimeError for unsupported compression or
# encryption flags, KeyError for a central directory that lists a missing
# member, OverflowError and TypeError for absurd values.
_DAMAGED = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    struct.error,
    ValueError,
    NotImplementedError,
    RuntimeError,
    KeyError,
    OverflowError,
    TypeError,
)

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")

_NPY_MAGIC = b"\x93NUMPY"

# The .npy header np.save has always written: the repr of a dict with sorted
# keys, padded with spaces, ending in a newline. numpy's own reader runs
# ast.literal_eval on it and warns about headers it has to repair; this
# strict match needs neither, and its dtype codes are ones numpy parses
# without a deprecation warning.
_NPY_HEADER = re.compile(
    r"\{'descr': '(?P<descr>[<>|=]?(?:[biufU]\d{1,5}|O))', "
    r"'fortran_order': (?P<fortran>True|False), "
    r"'shape': \((?P<shape>|\d{1,20},|\d{1,20}(?:, \d{1,20})+)\), \} *\n"
)

# numpy's own bound on the length of a header (its _MAX_HEADER_SIZE).
_MAX_HEADER = 10000

# How a file that is not a regular file is named in an error.
_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class _BadModel(Exception):
    """A problem found inside the file; :func:`load` adds the file name."""


def write(net: Model, path: StrPath, *, scaler: Standardizer | None = None) -> None:
    """Write ``net``'s archive (and ``scaler``'s arrays) to ``path`` atomically.

    ``net`` is anything with a network's ``layers``, ``sizes``, ``dtype``,
    ``activations`` and ``loss_fn``; :func:`matnn.save` documents the
    behaviour and the errors.
    """
    check_finite_layers(
        [(layer.W, layer.b) for layer in net.layers],
        lambda where: f"cannot save a network with a non-finite parameter: {where}; a model "
                      "file holds finite numbers only")
    _check_scaler(scaler, net)
    _check_names(net)
    arrays: dict[str, Any] = {
        "format_version": np.array(FORMAT_VERSION, dtype=np.int64),
        "sizes": np.array(net.sizes, dtype=np.int64),
        "activations": np.array(net.activations, dtype=str),
        "dtype": np.array(net.dtype.name),
        "loss": np.array(net.loss_fn.name),
    }
    for l, layer in enumerate(net.layers, start=1):
        arrays[f"W{l}"] = layer.W
        arrays[f"b{l}"] = layer.b
    if scaler is not None:
        arrays.update(zip(_SCALER, (scaler.mean, scaler.scale)))
    write_atomically(path, lambda f: np.savez(f, **arrays))


def _check_scaler(scaler: object, net: Model) -> None:
    if scaler is None:
        return
    if not isinstance(scaler, Standardizer):
        raise TypeError(f"scaler must be a matnn.Standardizer or None, got "
                        f"{type(scaler).__name__}")
    if scaler.n_features != net.n_in:
        raise ValueError(f"scaler standardizes {scaler.n_features} features, but the network "
                         f"takes {net.n_in} inputs")


def read(
    path: StrPath, custom: dict[str, Activation | Loss] | None = None
) -> tuple[list[Dense], Loss, Standardizer | None]:
    """The layers, the loss and the standardizer (or None) saved at ``path``.

    :func:`matnn.load` documents the behaviour and the errors; a file that
    is not a model file raises ``ValueError`` naming ``path``.
    """
    path = os.fspath(path)
    custom = _check_custom(custom)
    try:
        return _decode(_read_regular_file(path), custom)
    except _BadModel as exc:
        raise ValueError(f"{path}: {exc}") from None


def _read_regular_file(path: StrPath) -> bytes:
    """The bytes of the regular file at ``path``, no more than its size."""
    # stat names a special file before open() could block on it (a FIFO with
    # no writer) or fail obscurely (a socket); O_NONBLOCK and fstat cover a
    # special file swapped in between the two calls.
    _check_regular(os.stat(path))
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    with open(os.open(path, flags), "rb") as f:
        info = os.fstat(f.fileno())
        _check_regular(info)
        return f.read(info.st_size)


def _check_regular(info: os.stat_result) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _FILE_KINDS if test(info.st_mode)), "a special file")
        raise _BadModel(f"not a regular file but {kind}; a matnn model is a file written by save()")


def _decode(
    raw: bytes, custom: dict[str, Activation | Loss]
) -> tuple[list[Dense], Loss, Standardizer | None]:
    if not raw:
        raise _BadModel("the file is empty, not a matnn model")
    if raw.startswith(_NPY_MAGIC):
        raise _BadModel("a single .npy array, not a matnn model archive (.npz)")
    if not raw.startswith(_ZIP_MAGIC):
        raise _BadModel("not a matnn model file (not an .npz archive)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except _DAMAGED as exc:
        raise _BadModel(f"corrupted or truncated archive ({_reason(exc)})") from None
    with archive:
        reader = _Reader(archive, len(raw))
        # Member names as np.load lists them: without the .npy suffix.
        present = {name[:-4] if name.endswith(".npy") else name for name in archive.namelist()}
        if not present & set(_METADATA):
            listing = _names(sorted(present)[:8]) or "nothing"
            raise _BadModel(f"an .npz archive but not a matnn model (it holds {listing})")
        missing = [key for key in _METADATA if key not in present]
        if missing:
            raise _BadModel(f"missing {', '.join(missing)}; not a complete matnn model")

        version = reader.scalar("format_version", "iu")
        if version not in READABLE_VERSIONS:
            raise _BadModel(
                f"format version {version} is not supported; this matnn reads "
                f"versions {', '.join(map(str, READABLE_VERSIONS))}"
            )
        metadata = set(_METADATA) | ({"loss"} if version >= 2 else set())
        if version >= 3:
            metadata |= set(_SCALER)
        if version >= 2 and "loss" not in present:
            raise _BadModel("missing loss; not a complete matnn model")
        try:
            sizes = check_sizes(reader.vector("sizes", "iu"))
        except (TypeError, ValueError) as exc:
            raise _BadModel(str(exc)) from None
        names = reader.vector("activations", "U")
        if len(names) != len(sizes) - 1:
            raise _BadModel(f"{len(names)} activations for {len(sizes) - 1} layers")
        loss_name = reader.scalar("loss", "U") if version >= 2 else "mse"
        activations, loss = _resolve(names, loss_name, custom)
        dtype = _check_dtype(reader.scalar("dtype", "U"))

        expected = [key for l in range(1, len(sizes)) for key in (f"W{l}", f"b{l}")]
        missing = [key for key in expected if key not in present]
        if missing:
            raise _BadModel(f"missing arrays {', '.join(missing)} for sizes {sizes}")
        unexpected = sorted(present - set(expected) - metadata)
        if unexpected:
            raise _BadModel(f"unexpected arrays {_names(unexpected)} for sizes {sizes}")
        layers = []
        for l, activation in enumerate(activations, start=1):
            n_in, n_out = sizes[l - 1], sizes[l]
            W = reader.parameter(f"W{l}", (n_out, n_in), dtype)
            b = reader.parameter(f"b{l}", (n_out,), dtype)
            layers.append(Dense(W, b, activation, dtype=dtype))
        scaler = _read_scaler(reader, present, sizes[0])
    return layers, loss, scaler


def _read_scaler(reader: _Reader, present: set[str], n_in: int) -> Standardizer | None:
    found = [key for key in _SCALER if key in present]
    if not found:
        return None
    if len(found) == 1:
        missing = next(key for key in _SCALER if key not in present)
        raise _BadModel(f"{found[0]} without {missing}; a scaler needs both")
    mean, scale = (reader.parameter(key, (n_in,), np.dtype(np.float64)) for key in _SCALER)
    try:
        return Standardizer(mean, scale)
    except ValueError as exc:
        raise _BadModel(f"scaler: {exc}") from None


class _Reader:
    """Reads arrays from an open zip archive, checking each header first."""

    def __init__(self, archive: zipfile.ZipFile, file_size: int) -> None:
        self.archive = archive
        self.file_size = file_size

    def read(self, key: str) -> tuple[tuple[int, ...], np.dtype[Any], NDArray[Any]]:
        """``(shape, dtype, array)`` of a member; the array is made after the checks."""
        try:
            info = self.archive.getinfo(f"{key}.npy")
            if info.compress_type != zipfile.ZIP_STORED:
                raise _BadModel(
                    f"array {key} is compressed; matnn model files store arrays uncompressed"
                )
            # A stored member's data can be no larger than the file holding it.
            if info.file_size != info.compress_size or info.compress_size > self.file_size:
                raise _BadModel(f"array {key} has inconsistent sizes in the archive")
            # Reading the whole member also checks its CRC.
            member = self.archive.read(info)
            shape, fortran_order, dtype, header_size = _parse_npy_header(member)
        except _DAMAGED as exc:
            raise _BadModel(f"array {key} is corrupted ({_reason(exc)})") from None
        if dtype.hasobject:
            raise _BadModel(
                f"array {key} holds pickled Python objects (dtype {dtype}); "
                "refusing to load it"
            )
        count = math.prod(shape)
        if count * dtype.itemsize != len(member) - header_size:
            raise _BadModel(
                f"array {key} is truncated or corrupted: its header declares shape "
                f"{shape} of {dtype}, which does not match its stored size"
            )
        array = np.frombuffer(member, dtype, count, offset=header_size)
        if fortran_order:
            return shape, dtype, array.reshape(shape[::-1]).transpose()
        return shape, dtype, array.reshape(shape)

    def scalar(self, key: str, kinds: str) -> Any:
        shape, dtype, array = self.read(key)
        if shape != () or dtype.kind not in kinds:
            raise _BadModel(f"{key} must be a single {_KIND_NAMES[kinds]}, got shape {shape} of {dtype}")
        return array.item()

    def vector(self, key: str, kinds: str) -> list[Any]:
        shape, dtype, array = self.read(key)
        if len(shape) != 1 or dtype.kind not in kinds:
            raise _BadModel(
                f"{key} must be a 1-D array of {_KIND_NAMES[kinds]}s, got shape {shape} of {dtype}"
            )
        return array.tolist()

    def parameter(self, key: str, shape: tuple[int, ...], dtype: np.dtype[Any]) -> FloatArray:
        found_shape, found_dtype, array = self.read(key)
        # Byte order may differ between machines; kind and width must not.
        if found_dtype.kind != "f" or found_dtype.itemsize != dtype.itemsize:
            raise _BadModel(f"array {key} has dtype {found_dtype}, but the model declares {dtype}")
        if found_shape != shape:
            raise _BadModel(
                f"array {key} has shape {found_shape}, but the declared sizes need {shape}"
            )
        arr = array.astype(dtype)
        if not np.isfinite(arr).all():
            where = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
            raise _BadModel(f"array {key} contains NaN or inf (first at index {where})")
        return arr


_KIND_NAMES = {"iu": "integer", "U": "string"}


def _parse_npy_header(member: bytes) -> tuple[tuple[int, ...], bool, np.dtype[Any], int]:
    """``(shape, fortran_order, dtype, header_size)`` of the .npy bytes ``member``."""
    if member[:6] != _NPY_MAGIC:
        raise ValueError("not a .npy array")
    version = tuple(member[6:8])
    if version == (1, 0):
        start, (length,) = 10, struct.unpack("<H", member[8:10])
    elif version == (2, 0):
        start, (length,) = 12, struct.unpack("<I", member[8:12])
    else:
        raise ValueError(f"unsupported .npy version {version}")
    if length > _MAX_HEADER or start + length > len(member):
        raise ValueError(f"a header length of {length} bytes does not fit the array")
    header = member[start:start + length].decode("latin1")
    match = _NPY_HEADER.fullmatch(header)
    if match is None:
        raise ValueError(f"malformed header {header[:60]!r}")
    shape = tuple(int(n) for n in match["shape"].replace(",", " ").split())
    return shape, match["fortran"] == "True", np.dtype(match["descr"]), start + length


def _check_names(net: Model) -> None:
    """Refuse a network whose file would not load back as the same network.

    The file records names only, and :func:`load` rebuilds each one from the
    built-ins or from ``custom``, which holds one object per name and no
    built-in's name. So a user-defined activation or loss must have a name
    of its own: not a built-in's (it would load as the built-in), not
    another object's in the same network (both would load as one), and one
    that numpy stores unchanged (it drops trailing NUL characters).
    """
    parts: list[tuple[str, str, str, Activation | Loss]] = [
        (f"layers[{l}] has", f"layers[{l}]'s activation", "activation", act)
        for l, act in enumerate(net._engine.activations)]
    parts.append(("the network's loss is", "the network's loss", "loss", net.loss_fn))
    seen: dict[str, tuple[str, Activation | Loss]] = {}
    for subject, owner, kind, obj in parts:
        name = obj.name
        stored = str(np.array(name))
        if stored != name:
            raise ValueError(
                f"{subject} a user-defined {kind} named {name!r}, which a model file cannot "
                f"hold: numpy drops trailing NUL characters, so it would load as {stored!r}; "
                "give it a name without them"
            )
        if obj is ACTIVATIONS.get(name) or obj is LOSSES.get(name):
            continue
        if name in ACTIVATIONS or name in LOSSES:
            builtin = "activation" if name in ACTIVATIONS else "loss"
            raise ValueError(
                f"{subject} a user-defined {kind} named {name!r}, the name of a built-in "
                f"{builtin}; give it a name of its own so that load can tell them apart"
            )
        first_owner, first = seen.setdefault(name, (owner, obj))
        if first is not obj:
            raise ValueError(
                f"{first_owner} and {owner} are two different objects, both named {name!r}; "
                f"load would rebuild both from the one custom[{name!r}], so give each a name "
                "of its own (or use one object for both)"
            )


def _check_custom(custom: object) -> dict[str, Activation | Loss]:
    if custom is None:
        return {}
    if not isinstance(custom, dict):
        raise TypeError(
            f"custom must be a dict of {{name: Activation or Loss}}, got {type(custom).__name__}"
        )
    for name, obj in custom.items():
        if not isinstance(obj, (Activation, Loss)):
            raise TypeError(
                f"custom[{name!r}] must be a matnn.Activation or matnn.Loss, got {type(obj).__name__}"
            )
        if name in ACTIVATIONS or name in LOSSES:
            raise ValueError(
                f"custom[{name!r}]: {name!r} is a built-in's name; a saved model with that "
                "name always means the built-in"
            )
    return custom


def _resolve(
    names: Sequence[str], loss_name: str, custom: dict[str, Activation | Loss]
) -> tuple[list[Activation], Loss]:
    """The Activation of every layer and the Loss, or one error naming every unknown."""
    activations, unknown = [], []
    for l, name in enumerate(names):
        act = ACTIVATIONS.get(name) or custom.get(name)
        if not isinstance(act, Activation):
            unknown.append(f"activation {name!r} (layer {l}){_wrong_kind(name, act)}")
        activations.append(act)
    loss = LOSSES.get(loss_name) or custom.get(loss_name)
    if not isinstance(loss, Loss):
        unknown.append(f"loss {loss_name!r}{_wrong_kind(loss_name, loss)}")
    if unknown:
        raise _BadModel(
            f"unknown {', '.join(unknown)}; built in are activations {sorted(ACTIVATIONS)} "
            f"and losses {sorted(LOSSES)}. For your own, pass them by name: "
            "matnn.load(path, custom={name: matnn.Activation(...) or matnn.Loss(...)})"
        )
    # Every name that is not an Activation (or a Loss) was refused above.
    return activations, loss  # type: ignore[return-value]


def _wrong_kind(name: str, found: object) -> str:
    """A note on a custom entry of the wrong kind: a Loss where the file names an activation."""
    if found is None:
        return ""
    expected = "a Loss" if isinstance(found, Activation) else "an Activation"
    return f" (custom[{name!r}] is {found!r}, not {expected})"


def _check_dtype(name: str) -> np.dtype[Any]:
    if name not in ("float32", "float64"):
        raise _BadModel(f"dtype must be 'float32' or 'float64', got {name!r}")
    return np.dtype(name)


def _names(keys: Iterable[str]) -> str:
    # repr keeps names read from a damaged file printable and on one line.
    return ", ".join(repr(key) for key in keys)


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
