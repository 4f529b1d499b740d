"""Checks at the API boundary, so bad input fails early and says why.

Everything here turns user input into a contiguous float array of the
network's dtype, or raises ``TypeError`` (wrong kind of thing) or
``ValueError`` (right kind, wrong shape or value) with a message that names
the argument. Past this boundary the numerical code assumes clean arrays.
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Iterable, Literal, Mapping, Sequence, TypeVar, overload

import numpy as np

from ._typing import ArrayLike, DTypeLike, FloatArray, SeedLike

T = TypeVar("T")
C = TypeVar("C", bound="Callable[..., Any] | None")

__all__ = [
    "FLOAT_DTYPES",
    "as_float_dtype",
    "as_array",
    "check_features",
    "check_targets",
    "check_batch",
    "check_samples",
    "check_real",
    "check_positive",
    "check_sizes",
    "check_finite_layers",
    "check_gradients",
    "check_callback",
    "check_int",
    "check_seed",
]

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_float_dtype(dtype: DTypeLike) -> np.dtype[Any]:
    """Return ``dtype`` as float32 or float64, or raise naming the choices."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def as_array(value: ArrayLike, name: str, dtype: DTypeLike | None = None) -> FloatArray:
    """Convert ``value`` to a numeric, finite ndarray.

    Integers and booleans are accepted (the document feeds integer arrays)
    and converted to ``dtype``, or to float64 when ``dtype`` is None; float
    arrays keep their dtype when ``dtype`` is None.

    Raises
    ------
    TypeError
        If ``value`` is a masked array (its mask would be silently lost) or
        does not hold numbers.
    ValueError
        If it cannot be read as an array, holds NaN or inf, or holds a
        finite number too large for ``dtype`` (e.g. 1e39 for float32).
    """
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a masked array; matnn would ignore its mask. Drop the "
            f"masked rows, or fill them (e.g. {name}.filled(value)), and pass a "
            "plain array"
        )
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as exc:
        # Ragged nested lists land here.
        raise ValueError(f"{name} could not be read as an array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold numbers, got an array of dtype {arr.dtype}"
        )
    if dtype is None:
        dtype = arr.dtype if arr.dtype in FLOAT_DTYPES else np.dtype(np.float64)
    # A finite number beyond the target's range becomes inf in the cast; it
    # is reported below as an overflow, not as numpy's warning.
    with np.errstate(over="ignore"):
        converted = np.ascontiguousarray(arr, dtype=dtype)
    bad = ~np.isfinite(converted)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        if np.isfinite(arr[where]):
            dtype = np.dtype(dtype)
            raise ValueError(
                f"{name} overflows {dtype.name} (first at index {where}: {arr[where]}; "
                f"the largest {dtype.name} is {np.finfo(dtype).max!s})"
            )
        raise ValueError(
            f"{name} contains NaN or inf (first at index {where}: {arr[where]})"
        )
    return converted


def check_features(X: ArrayLike, n_in: int, dtype: DTypeLike, name: str = "X") -> FloatArray:
    """Validate a feature matrix.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_in)
    n_in : int
        The width the network expects.
    dtype : numpy dtype
        The network's dtype; X is converted to it.

    Returns
    -------
    ndarray of shape (n_samples, n_in), C-contiguous, of ``dtype``
    """
    X = as_array(X, name, dtype)
    if X.ndim != 2:
        hint = " (for one sample use X.reshape(1, -1))" if X.ndim == 1 else ""
        raise ValueError(
            f"{name} must be 2-D with shape (n_samples, {n_in}), "
            f"got shape {X.shape}{hint}"
        )
    if X.shape[1] != n_in:
        raise ValueError(
            f"{name} has {X.shape[1]} columns (shape {X.shape}) but the network "
            f"takes {n_in} inputs"
        )
    return X


def check_targets(
    y: ArrayLike, n_samples: int, n_out: int, dtype: DTypeLike, name: str = "y"
) -> FloatArray:
    """Validate targets against ``n_samples`` rows and ``n_out`` outputs.

    A 1-D ``y`` of length ``n_samples`` is accepted only when ``n_out == 1``
    and becomes a column; it is never broadcast against a matrix.

    Returns
    -------
    ndarray of shape (n_samples, n_out), C-contiguous, of ``dtype``
    """
    y = as_array(y, name, dtype)
    if y.ndim == 1:
        if n_out != 1:
            raise ValueError(
                f"{name} is 1-D with shape {y.shape} but the network has {n_out} "
                f"outputs; pass y with shape (n_samples, {n_out})"
            )
        y = y.reshape(-1, 1)
    elif y.ndim != 2:
        raise ValueError(
            f"{name} must have shape (n_samples, {n_out}) or (n_samples,), "
            f"got shape {y.shape}"
        )
    if y.shape[0] != n_samples:
        raise ValueError(
            f"X has {n_samples} samples but {name} has {y.shape[0]} "
            f"({name} shape {y.shape}); they must have the same length"
        )
    if y.shape[1] != n_out:
        raise ValueError(
            f"{name} has {y.shape[1]} columns (shape {y.shape}) but the network "
            f"has {n_out} outputs"
        )
    return y


def check_batch(
    X: ArrayLike, y: ArrayLike, n_in: int, n_out: int, dtype: DTypeLike, name: str = "X"
) -> tuple[FloatArray, FloatArray]:
    """Validate a training batch: features, then targets of the same length.

    Returns
    -------
    X : ndarray of shape (n_samples, n_in)
    Y : ndarray of shape (n_samples, n_out)
        Both C-contiguous, of ``dtype``, with ``n_samples >= 1``.
    """
    X = check_samples(check_features(X, n_in, dtype, name=name), name)
    return X, check_targets(y, X.shape[0], n_out, dtype)


def check_samples(X: FloatArray, name: str = "X") -> FloatArray:
    """Return ``X`` if it has at least one row: the loss of an empty batch is undefined."""
    if X.shape[0] == 0:
        raise ValueError(
            f"{name} has no samples (shape {X.shape}); the loss of an empty batch is undefined"
        )
    return X


# -- numbers ------------------------------------------------------------------
#
# One family: check_int for counts, check_real for everything measured
# (check_positive is its commonest case). Their messages name the argument,
# say what it must be and show what it got: "batch_size must be >= 1, got 0",
# "learning_rate must be a finite number > 0, got 0.0".


def check_int(value: object, name: str, minimum: int) -> int:
    """Return ``value`` as an int >= ``minimum``; bools are refused.

    Raises
    ------
    TypeError
        ``value`` is not an integer (``2.0`` and ``True`` are not).
    ValueError
        ``value < minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


@overload
def check_real(
    value: Any,
    name: str,
    minimum: float,
    *,
    above: bool = ...,
    below: float | None = ...,
    per_member: Literal[False] = ...,
) -> float: ...
@overload
def check_real(
    value: Any,
    name: str,
    minimum: float,
    *,
    above: bool = ...,
    below: float | None = ...,
    per_member: bool,
) -> float | FloatArray: ...
def check_real(
    value: Any,
    name: str,
    minimum: float,
    *,
    above: bool = False,
    below: float | None = None,
    per_member: bool = False,
) -> float | FloatArray:
    """Return ``value`` as a finite float ``>= minimum``, checked.

    Parameters
    ----------
    value : real number, or with ``per_member`` array-like of shape (n_members,)
    name : str
        The argument's name, as the messages show it.
    minimum : int or float
        The lower bound, shown in messages as given (``0`` or ``0.0``).
    above : bool
        The bound is strict: ``value > minimum``.
    below : int or float, optional
        A strict upper bound: ``value < below``.
    per_member : bool
        Also accept one value per member of an ensemble.

    Returns
    -------
    float, or with ``per_member`` and a sequence, a read-only float64 ndarray of shape (n_members,)

    Raises
    ------
    TypeError
        Not a real number (bools are refused), or an array where one number
        is expected.
    ValueError
        NaN, inf or out of bounds (naming the first bad entry,
        ``learning_rate[1]``), or an array that is not 1-D and non-empty.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if np.ndim(value) and not per_member:
        raise TypeError(f"{name} must be one number, got an array of shape {np.shape(value)}")
    if np.ndim(value) == 0:
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be a real number, got {value!r}")
        values, scalar = np.array([float(value)]), True
    else:
        if np.asarray(value).dtype == bool:
            raise TypeError(f"{name} must hold real numbers, got booleans")
        values, scalar = as_array(value, name, np.float64), False
        if values.ndim != 1 or values.size == 0:
            raise ValueError(
                f"{name} must be one number or one per member, shape (n_members,); "
                f"got shape {values.shape}"
            )
    ok = np.isfinite(values) & ((values > minimum) if above else (values >= minimum))
    if below is not None:
        ok &= values < below
    if not ok.all():
        k = int(np.flatnonzero(~ok)[0])
        where = name if scalar else f"{name}[{k}]"
        bound = f"{'>' if above else '>='} {minimum}" + (f" and < {below}" if below is not None else "")
        raise ValueError(f"{where} must be a finite number {bound}, got {values[k]}")
    if scalar:
        return float(values[0])
    values.flags.writeable = False
    return values


def check_positive(value: object, name: str) -> float:
    """Return ``value`` as a finite float > 0 (:func:`check_real` with bound ``> 0``)."""
    return check_real(value, name, 0, above=True)


def check_sizes(sizes: Iterable[int]) -> tuple[int, ...]:
    """Return layer widths ``(n_in, n_hidden..., n_out)`` as a tuple of ints >= 1."""
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise TypeError(f"sizes must be a sequence of layer widths, got {sizes!r}") from None
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output width, got {sizes}")
    return tuple(check_int(s, f"sizes[{i}]", 1) for i, s in enumerate(sizes))


def check_finite_layers(
    layers: Iterable[tuple[FloatArray, FloatArray]], problem: Callable[[str], str]
) -> None:
    """Refuse a NaN or inf parameter, naming its layer and entry.

    Parameters
    ----------
    layers : sequence of (W, b)
        Each layer's weights, shape (n_out, n_in), and biases, shape (n_out,).
    problem : callable ``where -> str``
        The message for the first bad entry; ``where`` reads like
        ``"layers[0].W[1, 0] is nan"``.

    Raises
    ------
    ValueError
    """
    for l, (W, b) in enumerate(layers):
        for kind, arr in (("W", W), ("b", b)):
            bad = np.argwhere(~np.isfinite(arr))
            if bad.size:
                index = ", ".join(str(int(i)) for i in bad[0])
                raise ValueError(problem(f"layers[{l}].{kind}[{index}] is {arr[tuple(bad[0])]}"))


def check_gradients(
    grads: Iterable[tuple[ArrayLike, ArrayLike]],
    layers: Sequence[Any],
    name: str = "net.gradients()",
) -> list[tuple[FloatArray, ...]]:
    """What a ``gradients`` method returned, as one ``(dW, db)`` pair of arrays per layer.

    A subclass's own ``gradients`` trains a network and feeds
    :func:`matnn.gradcheck`; both check it here first, so that a ``dW``
    transposed or a ``db`` summed to one number is refused by name
    instead of broadcast into the gradient.

    Parameters
    ----------
    grads : iterable of (array-like, array-like)
        What the method returned.
    layers : sequence of Dense
        The network's layers, whose ``W`` and ``b`` give the shapes.
    name : str
        How the messages name the method's result.

    Returns
    -------
    list of (ndarray, ndarray)
        ``(dW, db)`` per layer, shaped like ``(W, b)``, of a real floating
        dtype (not converted).

    Raises
    ------
    TypeError
        An entry is not a pair, or an array is not of a real floating dtype.
    ValueError
        The number of pairs is not the number of layers, or an array's
        shape is not its parameter's.
    """
    grads = list(grads)
    if len(grads) != len(layers):
        raise ValueError(
            f"{name} returned {len(grads)} items but the network has {len(layers)} layers; "
            "expected one (dW, db) pair per layer"
        )
    checked = []
    for l, (pair, layer) in enumerate(zip(grads, layers)):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"{name}[{l}] must be a pair (dW, db), got {type(pair).__name__}")
        arrays = []
        for kind, grad, param in zip("Wb", pair, (layer.W, layer.b)):
            grad = np.asarray(grad)
            if grad.dtype.kind != "f":
                raise TypeError(
                    f"{name}[{l}] gives d{kind} of dtype {grad.dtype}; a gradient must be an "
                    "array of real floating-point numbers"
                )
            if grad.shape != param.shape:
                raise ValueError(
                    f"{name}[{l}] gives d{kind} of shape {grad.shape} but layers[{l}].{kind} "
                    f"has shape {param.shape}"
                )
            arrays.append(grad)
        checked.append(tuple(arrays))
    return checked


def check_callback(callback: C) -> C:
    """Return ``callback`` if it is None or callable, else raise TypeError."""
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {callback!r}")
    return callback


def check_seed(seed: SeedLike, name: str = "seed") -> SeedLike:
    """Return ``seed`` if ``numpy.random.default_rng`` takes it, else raise naming ``name``.

    None, an int >= 0, a ``SeedSequence``, a ``BitGenerator`` or a
    ``Generator`` (used as it is) are accepted.
    """
    if seed is None or isinstance(seed, (np.random.Generator, np.random.SeedSequence,
                                         np.random.BitGenerator)):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"{name} must be None, an int >= 0 or a numpy.random.Generator, got {seed!r}"
        )
    if seed < 0:
        raise ValueError(f"{name} must be >= 0, got {seed}")
    return int(seed)


def object_or_builtin(
    value: object,
    cls: type[T],
    builtins: Mapping[str, T],
    name: str,
    other: tuple[type, Mapping[str, object]] | None = None,
) -> T:
    """``value`` if it is a ``cls``, else the built-in of that name in ``builtins``.

    Anything else is a clear error that lists the built-ins' names and says
    how to build one's own ``matnn.<cls>``. ``other``, the ``(class,
    built-ins)`` of another kind (Activation for a Loss), lets it say when
    ``value`` is one of those, or one's name.
    """
    if isinstance(value, cls):
        return value
    a_kind = _a(cls.__name__)
    choices = f"choose one of {sorted(builtins)} or build a matnn.{cls.__name__}"
    other_cls, other_builtins = other or (None, {})
    if not isinstance(value, str):
        got = type(value).__name__
        if other_cls is not None and isinstance(value, other_cls):
            got = f"{value!r}, {_a(other_cls.__name__)} where {a_kind} is expected"
        raise TypeError(f"{name} must be {a_kind} or the name of one, got {got}; {choices}")
    try:
        return builtins[value]
    except KeyError:
        if other_cls is not None and value in other_builtins:
            raise ValueError(f"{name} {value!r} is the name of a built-in "
                             f"{other_cls.__name__}, where {a_kind} is expected; "
                             f"{choices}") from None
        raise ValueError(f"unknown {name} {value!r}; {choices}") from None


def _a(noun: str) -> str:
    return f"{'an' if noun[0] in 'AEIOU' else 'a'} {noun}"
