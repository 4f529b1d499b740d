"""Type aliases for matnn's annotations (arrays are numpy's ``NDArray``)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Callable, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

if TYPE_CHECKING:
    import scipy.sparse

__all__ = ["ArrayLike", "DTypeLike", "NDArray", "FloatArray", "ArrayFunction", "EpochCallback",
           "InPlaceFunction", "LossGradient", "LossValue", "MatrixLike", "SeedLike", "StrPath",
           "Total"]

#: A float32 or float64 ndarray: what matnn's parameters, activations and gradients are.
FloatArray: TypeAlias = NDArray[np.floating[Any]]

#: An elementwise function ``V -> f(V)``: an array in, an array-like of the same shape out.
ArrayFunction: TypeAlias = Callable[[FloatArray], ArrayLike]

#: An in-place function ``(V, out) -> out`` on preallocated buffers.
InPlaceFunction: TypeAlias = Callable[[FloatArray, FloatArray], FloatArray]

#: A loss's value ``(Y, P) -> float``: the mean over rows of a per-row loss.
LossValue: TypeAlias = Callable[[FloatArray, FloatArray], float]

#: A loss's gradient ``(Y, P) -> dL/dP``, of ``P``'s shape.
LossGradient: TypeAlias = Callable[[FloatArray, FloatArray], ArrayLike]

#: A loss's sum over rows: a float, or one per member (an ndarray) for an ensemble.
Total: TypeAlias = "float | FloatArray"

#: ``fit``'s per-epoch callback: gets the :class:`~matnn.EpochRecord`; False stops training.
# (Any, not EpochRecord: training imports the modules that use this alias.)
EpochCallback: TypeAlias = Callable[[Any], "bool | None"]

#: What scikit-learn's estimators take as X: an array-like or a scipy sparse matrix.
MatrixLike: TypeAlias = "ArrayLike | scipy.sparse.spmatrix | scipy.sparse.sparray"

#: A file name: a str or an ``os.PathLike``.
StrPath: TypeAlias = "str | os.PathLike[str]"

#: A seed: everything ``numpy.random.default_rng`` takes (see ``validation.check_seed``).
SeedLike: TypeAlias = (
    "int | np.integer[Any] | np.random.SeedSequence | np.random.BitGenerator"
    " | np.random.Generator | None"
)
