"""Activation functions as objects: each carries its function and its derivative.

An :class:`Activation` is what the lesson writes as ``f`` and ``f'``. Users
build their own from two plain elementwise callables and pass the object
wherever a built-in name goes (:class:`~matnn.Dense`,
:meth:`~matnn.Network.from_sizes`); :func:`matnn.gradcheck` then checks the
derivative they wrote.

The derivative may be written from the input ``Z`` or from the output
``A = f(Z)``: the lesson's ``f'(z) = f(z) (1 - f(z))`` is written from the
output, so the backward pass needs nothing the forward pass did not already
keep. The passes keep ``Z`` only for activations that need it.

:data:`softmax` is the one activation that is not elementwise: each row's
outputs depend on the whole row, and its backward pass is the
Jacobian-vector product ``dL/dZ = A * (dL/dA - sum(dL/dA * A))`` per row.

The built-ins also carry in-place versions (``(V, out) -> out``) that the
training loop calls on its preallocated buffers; every formula keeps the
dtype of its input, so a float32 network stays in float32, and none depends
on the size of the array, so a row's output does not change with the batch
it travels in.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable, Sequence, TypeAlias

import numpy as np
from scipy.special import expit, ndtr

from ._typing import ArrayFunction, ArrayLike, FloatArray, InPlaceFunction
from .validation import object_or_builtin

__all__ = [
    "Activation",
    "ACTIVATIONS",
    "get_activation",
    "sigmoid",
    "tanh",
    "relu",
    "identity",
    "leaky_relu",
    "softplus",
    "gelu",
    "silu",
    "softmax",
]

DERIVATIVE_FROM = ("input", "output")


class Activation:
    """An activation ``f`` with its derivative ``f'``.

    Parameters
    ----------
    name : str
        Saved with a model; :func:`matnn.load` finds a user-defined
        activation by this name in its ``custom`` argument.
    function : callable ``Z -> A``
        ``f`` applied elementwise: an ndarray in, a new ndarray of the same
        shape out.
    derivative : callable ``V -> f'(Z)``
        ``f'`` elementwise, from ``V = Z`` when ``derivative_from="input"``
        or from ``V = A = f(Z)`` when ``derivative_from="output"`` (the
        lesson's sigmoid: ``lambda A: A * (1 - A)``).
    derivative_from : {"input", "output"}
    kinks : sequence of float
        Inputs where ``f'`` jumps (relu: ``(0.0,)``). A finite difference
        that steps across one is unreliable, and :func:`matnn.gradcheck`
        marks it so instead of reporting a mismatch.

    Examples
    --------
    >>> import numpy as np, matnn
    >>> cube = matnn.Activation("cube", lambda Z: Z ** 3, lambda Z: 3 * Z ** 2)
    >>> net = matnn.Network.from_sizes([2, 3, 1], activation=[cube, "sigmoid"], seed=0)
    >>> matnn.gradcheck(net, [[0.5, -1.0]], [1.0]).ok
    True
    """

    #: Elementwise activations are differentiated as ``dL/dZ = dL/dA * f'``.
    elementwise = True

    def __init__(
        self,
        name: str,
        function: ArrayFunction,
        derivative: ArrayFunction,
        *,
        derivative_from: str = "input",
        kinks: Iterable[float] = (),
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty str, got {name!r}")
        for arg, value in (("function", function), ("derivative", derivative)):
            if not callable(value):
                raise TypeError(f"{arg} of activation {name!r} must be callable, got {value!r}")
        if derivative_from not in DERIVATIVE_FROM:
            raise ValueError(
                f"derivative_from of activation {name!r} must be 'input' or 'output', "
                f"got {derivative_from!r}"
            )
        try:
            kinks = tuple(kinks)
        except TypeError:
            raise TypeError(
                f"kinks of activation {name!r} must be a sequence of numbers, e.g. (0.0,), "
                f"got {kinks!r}"
            ) from None
        for k in kinks:
            if isinstance(k, bool) or not isinstance(k, numbers.Real) or not math.isfinite(k):
                raise ValueError(f"kinks of activation {name!r} must be finite numbers, got {k!r}")
        self.name = name
        self.function = function
        self.derivative = derivative
        self.derivative_from = derivative_from
        self.kinks = tuple(float(k) for k in kinks)

    @property
    def needs_input(self) -> bool:
        """Whether the backward pass needs ``Z`` (not only ``A``)."""
        return self.derivative_from == "input"

    # -- what the passes call: (V, out) -> out, on preallocated buffers --------

    def forward_into(self, Z: FloatArray, out: FloatArray) -> FloatArray:
        """Write ``f(Z)`` into ``out`` (which may be ``Z``)."""
        return _into(self.function(Z), out, self.name, "function")

    def derivative_into(self, V: FloatArray, out: FloatArray) -> FloatArray:
        """Write ``f'`` from ``V`` (``Z`` or ``A``, see ``derivative_from``) into ``out``."""
        return _into(self.derivative(V), out, self.name, "derivative")

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"

    # Activations are immutable, so copies of a network share them; a built-in
    # pickles as its name, so a pickled network holds no function objects.
    def __copy__(self) -> Activation:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Activation:
        return self

    def __reduce__(self) -> str | tuple[Any, ...]:
        if ACTIVATIONS.get(self.name) is self:
            return (get_activation, (self.name,))
        return super().__reduce__()


def _into(result: ArrayLike, out: FloatArray, name: str, what: str) -> FloatArray:
    result = np.asarray(result)
    if result.dtype.kind not in "biuf":
        raise TypeError(
            f"the {what} of activation {name!r} returned an array of dtype {result.dtype}; "
            "it must return real numbers"
        )
    if result.shape != out.shape:
        raise ValueError(
            f"the {what} of activation {name!r} returned shape {result.shape} for an input "
            f"of shape {out.shape}; it must be elementwise (same shape out)"
        )
    np.copyto(out, result, casting="same_kind")
    return out


class _BuiltIn(Activation):
    """A built-in: public callables plus fast in-place versions."""

    def __init__(
        self,
        name: str,
        forward_into: InPlaceFunction,
        derivative_into: InPlaceFunction,
        *,
        derivative_from: str,
        kinks: Iterable[float] = (),
    ) -> None:
        super().__init__(
            name,
            lambda Z: forward_into(np.asarray(Z), np.empty_like(np.asarray(Z), dtype=_float(Z))),
            lambda V: derivative_into(np.asarray(V), np.empty_like(np.asarray(V), dtype=_float(V))),
            derivative_from=derivative_from,
            kinks=kinks,
        )
        # The kernels themselves replace the checking wrappers on the instance.
        self.forward_into = forward_into  # type: ignore[method-assign, assignment]
        self.derivative_into = derivative_into  # type: ignore[method-assign, assignment]


def _float(V: ArrayLike) -> np.dtype[Any] | type[np.float64]:
    dtype = np.asarray(V).dtype
    return dtype if dtype.kind == "f" else np.float64


# A 0-d array of the operand's dtype: numpy would convert a Python float
# operand on every call, a cost the tiny arrays of batch-1 training feel.
_ONE = {"d": np.array(1.0), "f": np.array(1.0, np.float32)}

def _sigmoid(Z: FloatArray, out: FloatArray) -> FloatArray:
    """The logistic function: ``scipy.special.expit``, in either dtype, at every size.

    It is accurate over the whole range (within 2.5 float32 ulps; subnormal
    tails included), never overflows, and is one ufunc call where a formula
    on numpy's float32 ``exp`` takes five, which batch-1 training would pay
    for; a formula chosen by size would make a row's output depend on its batch.
    """
    # ``out`` is positional: keyword parsing adds to every ufunc call, which
    # the tiny arrays of batch-1 training feel.
    return expit(Z, out)


def _sigmoid_derivative(A: FloatArray, out: FloatArray) -> FloatArray:
    np.subtract(_ONE.get(A.dtype.char, 1.0), A, out)
    return np.multiply(out, A, out)


def _tanh(Z: FloatArray, out: FloatArray) -> FloatArray:
    return np.tanh(Z, out)


def _tanh_derivative(A: FloatArray, out: FloatArray) -> FloatArray:
    np.multiply(A, A, out)
    return np.subtract(_ONE.get(A.dtype.char, 1.0), out, out)


def _relu(Z: FloatArray, out: FloatArray) -> FloatArray:
    return np.maximum(Z, 0, out=out)


def _relu_derivative(A: FloatArray, out: FloatArray) -> FloatArray:
    # A = max(Z, 0) >= 0, so sign(A) is the step 1[Z > 0]; at the kink the
    # derivative is taken to be 0, as torch does.
    return np.sign(A, out)


def _identity(Z: FloatArray, out: FloatArray) -> FloatArray:
    if out is not Z:
        np.copyto(out, Z)
    return out


def _identity_derivative(A: FloatArray, out: FloatArray) -> FloatArray:
    out.fill(1)
    return out


LEAKY_SLOPE = 0.01


def _leaky_relu(Z: FloatArray, out: FloatArray) -> FloatArray:
    # max(Z, 0.01 Z) is Z for Z >= 0 and 0.01 Z below, in two ufunc calls.
    return np.maximum(Z, np.multiply(Z, LEAKY_SLOPE), out=out)


def _leaky_relu_derivative(Z: FloatArray, out: FloatArray) -> FloatArray:
    # 1 above the kink, 0.01 at and below it, as torch does.
    out.fill(LEAKY_SLOPE)
    np.copyto(out, 1, where=Z > 0)
    return out


def _softplus(Z: FloatArray, out: FloatArray) -> FloatArray:
    # log(1 + exp(Z)) without overflow for large Z.
    return np.logaddexp(0, Z, out)


def _softplus_derivative(Z: FloatArray, out: FloatArray) -> FloatArray:
    return _sigmoid(Z, out)


_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
# exp(-40**2 / 2) is 0 in float64, and clipping keeps Z * Z from overflowing.
_GAUSS_CLIP = 40.0


def _gelu(Z: FloatArray, out: FloatArray) -> FloatArray:
    # The exact GELU, Z * Phi(Z), with Phi the standard normal CDF.
    phi = ndtr(Z)
    return np.multiply(Z, phi, out)


def _gelu_derivative(Z: FloatArray, out: FloatArray) -> FloatArray:
    # d/dZ [Z Phi(Z)] = Phi(Z) + Z * pdf(Z)
    c = np.clip(Z, -_GAUSS_CLIP, _GAUSS_CLIP)
    pdf = np.exp(np.multiply(np.multiply(c, c), -0.5)) * np.asarray(_INV_SQRT_2PI, Z.dtype)
    np.multiply(Z, pdf, out)
    return np.add(out, ndtr(Z), out)


def _silu(Z: FloatArray, out: FloatArray) -> FloatArray:
    s = _sigmoid(Z, np.empty_like(Z))
    return np.multiply(Z, s, out)


def _silu_derivative(Z: FloatArray, out: FloatArray) -> FloatArray:
    # s + Z s (1 - s) = s (1 + Z (1 - s)), with s = sigmoid(Z)
    s = _sigmoid(Z, np.empty_like(Z))
    np.subtract(_ONE.get(Z.dtype.char, 1.0), s, out)
    np.multiply(out, Z, out)
    np.add(out, 1, out)
    return np.multiply(out, s, out)


class _Softmax(Activation):
    """Row-wise softmax over the units (axis 1), for an output layer.

    ``A[i] = exp(Z[i] - max Z[i]) / sum exp(Z[i] - max Z[i])``. Its
    ``derivative`` returns each row's Jacobian ``diag(a) - a a^T`` as an
    array of shape (n, k, k); the passes never build it, and use the
    Jacobian-vector product in :meth:`backward_into` instead.
    """

    elementwise = False

    def __init__(self) -> None:
        super().__init__(
            "softmax",
            lambda Z: _softmax(np.asarray(Z), np.empty_like(np.asarray(Z), dtype=_float(Z))),
            _softmax_jacobian,
            derivative_from="output",
        )

    def forward_into(self, Z: FloatArray, out: FloatArray) -> FloatArray:
        return _softmax(Z, out)

    def derivative_into(self, V: FloatArray, out: FloatArray) -> FloatArray:
        raise TypeError("softmax is not elementwise; the passes call its backward_into")

    def backward_into(self, A: FloatArray, G: FloatArray, scratch: FloatArray) -> FloatArray:
        """``G <- A * (G - sum(G * A, axis=1))``: dL/dZ from dL/dA, in place."""
        np.multiply(G, A, scratch)
        total = _row_sum(scratch, axis=1, keepdims=True)
        np.subtract(G, total, G)
        return np.multiply(G, A, G)


# The ufuncs' own reductions: np.max and np.sum add a Python wrapper to
# every call, which a batch of a few rows feels.
_row_max, _row_sum = np.maximum.reduce, np.add.reduce

#: From this many rows on, a network's row maximum is read at the row's
#: argmax: the same number, since a maximum is exact, and faster on many
#: short rows, where ``maximum.reduce`` pays per row (an ensemble's rows,
#: with the member axis last, keep the reduction);
#: benchmarks/case_forward.py measures it.
ARGMAX_ROWS = 256


def _shifted_exp(Z: FloatArray, out: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``out = exp(Z - max Z)`` per row; returns the row maxima and the sums of ``out``.

    Units are axis 1, both for a network's (rows, k) and an ensemble's
    (rows, k, members); subtracting the row maximum keeps exp finite. Both
    results keep axis 1 (length 1).
    """
    if Z.ndim == 2 and Z.shape[0] >= ARGMAX_ROWS:
        # argmax points at a row's first NaN, where the maximum would be NaN.
        top = np.take_along_axis(Z, np.argmax(Z, axis=1, keepdims=True), axis=1)
    else:
        top = _row_max(Z, axis=1, keepdims=True)
    np.subtract(Z, top, out)
    np.exp(out, out)
    return top, _row_sum(out, axis=1, keepdims=True)


def _softmax(Z: FloatArray, out: FloatArray) -> FloatArray:
    _, total = _shifted_exp(Z, out)
    return np.divide(out, total, out)


def _softmax_jacobian(A: ArrayLike) -> FloatArray:
    A = np.asarray(A)
    if A.ndim != 2:
        raise ValueError(f"softmax's Jacobian takes A of shape (n, k), got shape {A.shape}")
    return A[:, :, None] * np.eye(A.shape[1], dtype=_float(A)) - A[:, :, None] * A[:, None, :]


sigmoid = _BuiltIn("sigmoid", _sigmoid, _sigmoid_derivative, derivative_from="output")
tanh = _BuiltIn("tanh", _tanh, _tanh_derivative, derivative_from="output")
relu = _BuiltIn("relu", _relu, _relu_derivative, derivative_from="output", kinks=(0.0,))
identity = _BuiltIn("identity", _identity, _identity_derivative, derivative_from="output")
leaky_relu = _BuiltIn("leaky_relu", _leaky_relu, _leaky_relu_derivative,
                      derivative_from="input", kinks=(0.0,))
softplus = _BuiltIn("softplus", _softplus, _softplus_derivative, derivative_from="input")
gelu = _BuiltIn("gelu", _gelu, _gelu_derivative, derivative_from="input")
silu = _BuiltIn("silu", _silu, _silu_derivative, derivative_from="input")
softmax = _Softmax()

#: An activation argument: a built-in's name or an :class:`Activation`, or one per layer.
ActivationArg: TypeAlias = "str | Activation | Sequence[str | Activation]"

#: The built-in activations by name.
ACTIVATIONS: dict[str, Activation] = {
    a.name: a for a in (sigmoid, tanh, relu, identity, leaky_relu, softplus, gelu, silu, softmax)
}


def get_activation(activation: str | Activation, name: str = "activation") -> Activation:
    """An :class:`Activation`: the object itself, or the built-in of that name."""
    return object_or_builtin(activation, Activation, ACTIVATIONS, name)
