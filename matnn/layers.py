"""The dense layer: one weight matrix, one bias vector, one activation.

Row ``i`` of ``W`` is neuron ``i``'s weight vector, exactly the ``weights``
of the document's ``Neuron``, and ``b[i]`` is its bias. For a batch whose
samples are rows the layer computes ``A = f(X @ W.T + b)``, the document's
``f(w . x + b)`` for every neuron and every sample at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._typing import ArrayLike, DTypeLike, FloatArray
from .activations import Activation, get_activation, softmax
from .validation import as_array, as_float_dtype

__all__ = ["Dense"]


class Dense:
    """A fully connected layer ``A = f(X @ W.T + b)``.

    Parameters
    ----------
    W : array-like of shape (n_out, n_in)
        Weights; row ``i`` belongs to output neuron ``i``. In the document's
        hidden layer ``W = [[w1, w2], [w3, w4]]``.
    b : array-like of shape (n_out,)
        Biases; ``b[i]`` belongs to output neuron ``i``.
    activation : str or Activation
        A built-in name (``sorted(matnn.ACTIVATIONS)``) or an
        :class:`~matnn.Activation` object. Softmax needs at least two
        outputs (over one it is the constant 1).
    dtype : float32 or float64, optional
        Defaults to the dtype of ``W`` when it is a float array, else float64.

    Notes
    -----
    ``W`` and ``b`` are arrays you may edit in place (``layer.W[0, 0] = 1``),
    but not rebind: a ``Network`` keeps all parameters in one flat buffer and
    its layers' ``W`` and ``b`` are views into it.
    """

    __slots__ = ("_W", "_b", "_activation")

    def __init__(
        self,
        W: ArrayLike,
        b: ArrayLike,
        activation: str | Activation = "sigmoid",
        *,
        dtype: DTypeLike | None = None,
    ) -> None:
        self._activation = get_activation(activation)
        if dtype is not None:
            dtype = as_float_dtype(dtype)
        W = as_array(W, "W", dtype)
        if W.ndim != 2:
            raise ValueError(f"W must be 2-D with shape (n_out, n_in), got shape {W.shape}")
        b = as_array(b, "b", W.dtype)
        if b.shape != (W.shape[0],):
            raise ValueError(
                f"b has shape {b.shape} but W has shape {W.shape}; "
                f"b must have shape ({W.shape[0]},), one bias per row of W"
            )
        if 0 in W.shape:
            raise ValueError(f"W must have at least one row and column, got shape {W.shape}")
        if self._activation is softmax and W.shape[0] == 1:
            raise ValueError(
                f"activation softmax over a layer of 1 output (W shape {W.shape}) is always 1, "
                "so its gradient is 0 and training cannot move it; use 'sigmoid' for one "
                "output, or give the layer one output per class"
            )
        self._W = W
        self._b = b

    @property
    def W(self) -> FloatArray:
        """ndarray of shape (n_out, n_in): the weights."""
        return self._W

    @property
    def b(self) -> FloatArray:
        """ndarray of shape (n_out,): the biases."""
        return self._b

    @property
    def activation(self) -> Activation:
        """The :class:`~matnn.Activation` (its ``.name`` is what a saved model records)."""
        return self._activation

    @property
    def n_in(self) -> int:
        return self._W.shape[1]

    @property
    def n_out(self) -> int:
        return self._W.shape[0]

    @property
    def dtype(self) -> np.dtype[Any]:
        return self._W.dtype

    def __repr__(self) -> str:
        return (
            f"Dense(n_in={self.n_in}, n_out={self.n_out}, "
            f"activation={self.activation.name!r}, dtype={self.dtype})"
        )
