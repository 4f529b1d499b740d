"""Activation functions and their derivatives, as one small table.

Every derivative is written from the activation's *output* ``A = f(Z)``
rather than from ``Z``. The backward pass then needs only the activations the
forward pass already produced, and nothing is evaluated twice. For the
sigmoid this is the document's identity ``f'(z) = f(z) * (1 - f(z))``.

Each function takes an ``out`` array (which may be its input) so the training
loop can reuse preallocated buffers; all arithmetic keeps the dtype of its
input, so a float32 network stays in float32.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np
from scipy.special import expit

__all__ = ["Activation", "ACTIVATIONS", "SIGMOID_EXP_MIN_SIZE", "get_activation"]


class Activation(NamedTuple):
    """A named activation ``f`` and its derivative written from ``A = f(Z)``.

    Attributes
    ----------
    name : str
    function : callable ``(Z, out) -> out``
        Writes ``f(Z)`` into ``out``; ``Z`` and ``out`` may be the same array.
    derivative : callable ``(A, out) -> out``
        Writes ``f'(Z)`` into ``out``, computed from the output ``A = f(Z)``.
    """

    name: str
    function: Callable[[np.ndarray, np.ndarray], np.ndarray]
    derivative: Callable[[np.ndarray, np.ndarray], np.ndarray]


#: From this many float32 elements on, the sigmoid is computed with numpy's
#: SIMD ``exp`` instead of ``expit``; below it, one ufunc call beats five.
SIGMOID_EXP_MIN_SIZE = 1024

# ``exp(88)`` is finite in float32 (the largest is about ``exp(88.7)``).
_EXP_ARG_MAX_F32 = 88.0


def _sigmoid(Z, out):
    """The logistic function; the fastest correct formula for each dtype.

    float64 uses ``scipy.special.expit`` always, matnn's reference sigmoid:
    accurate over the whole range, subnormal tails included, and it never
    overflows. A clipped ``exp``-based float64 formula measured about
    2.1 ns per element against expit's 5.5, but it would get the tail
    below ``Z = -709`` wrong and still leave the 64-128-10 benchmark at
    about 1.35x its lower bound, so float64 keeps expit.

    float32 ``expit`` is not vectorised (about 4 ns per element here),
    while numpy's float32 ``exp`` is SIMD (about 1 ns), so
    large float32 arrays take ``1 / (1 + exp(-Z))`` in five ufunc calls,
    about 1.3 ns per element: 3x faster, and within 3.2 float32 ulps of the
    exact sigmoid (``expit`` itself is within 2.5). ``-Z`` is clipped at 88
    first so ``exp`` never overflows; for very large ``Z`` it underflows to
    0 quietly, giving exactly 1. ``0.5 * tanh(Z / 2) + 0.5`` is as fast but
    loses all relative accuracy for negative ``Z`` (``1 + tanh`` cancels),
    so it is not used.
    """
    if Z.size >= SIGMOID_EXP_MIN_SIZE and Z.dtype.char == "f":
        np.maximum(Z, -_EXP_ARG_MAX_F32, out=out)
        np.negative(out, out=out)
        np.exp(out, out=out)
        np.add(out, 1.0, out=out)
        return np.reciprocal(out, out=out)
    # expit never overflows: it switches formula on the sign of Z internally.
    # (``out`` is passed positionally: keyword parsing is a measurable part
    # of a ufunc call on the tiny arrays of batch-1 training.)
    return expit(Z, out)


# A 0-d array of the operand's dtype: numpy converts a Python float operand
# on every call, which costs as much as the subtraction itself on tiny arrays.
_ONE = {"d": np.array(1.0), "f": np.array(1.0, np.float32)}


def _sigmoid_derivative(A, out):
    np.subtract(_ONE.get(A.dtype.char, 1.0), A, out)
    return np.multiply(out, A, out)


def _tanh(Z, out):
    return np.tanh(Z, out=out)


def _tanh_derivative(A, out):
    np.multiply(A, A, out=out)
    return np.subtract(1, out, out=out)


def _relu(Z, out):
    return np.maximum(Z, 0, out=out)


def _relu_derivative(A, out):
    # A = max(Z, 0) >= 0, so sign(A) is the step function 1[Z > 0];
    # at the kink Z = 0 we take the derivative to be 0, as torch does.
    return np.sign(A, out=out)


def _identity(Z, out):
    if out is not Z:
        np.copyto(out, Z)
    return out


def _identity_derivative(A, out):
    out.fill(1)
    return out


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation("sigmoid", _sigmoid, _sigmoid_derivative),
        Activation("tanh", _tanh, _tanh_derivative),
        Activation("relu", _relu, _relu_derivative),
        Activation("identity", _identity, _identity_derivative),
    )
}


def get_activation(name) -> Activation:
    """Look up an activation by name, with an error that lists the choices."""
    if not isinstance(name, str):
        raise TypeError(
            f"activation must be a name (str), got {type(name).__name__}; "
            f"choose one of {sorted(ACTIVATIONS)}"
        )
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {sorted(ACTIVATIONS)}"
        ) from None
