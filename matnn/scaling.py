"""Standardizing features: every column to mean 0 and standard deviation 1.

A network trains best on inputs of comparable size: a feature in thousands
next to one in fractions makes the first layer's gradients lopsided, and
saturates a sigmoid or tanh from the first step. :class:`Standardizer`
learns each training column's mean and standard deviation and maps every
later input, training, validation and prediction alike, with those same
numbers, so the network always sees data as it saw it in training. A model
file can keep it next to the network (``matnn.save(net, path,
scaler=...)``).
"""

from __future__ import annotations

import numpy as np

from ._typing import ArrayLike, FloatArray, NDArray
from .validation import as_array

__all__ = ["Standardizer"]


class Standardizer:
    """Per-feature standardization, ``(X - mean) / scale``.

    Parameters
    ----------
    mean : array-like of shape (n_features,)
        Finite.
    scale : array-like of shape (n_features,)
        Finite and > 0.

    Attributes
    ----------
    mean, scale : ndarray of shape (n_features,), float64
        Read-only copies of the parameters.
    n_features : int

    See Also
    --------
    Standardizer.fit : learn ``mean`` and ``scale`` from training inputs.
    """

    def __init__(self, mean: ArrayLike, scale: ArrayLike) -> None:
        mean = as_array(mean, "mean", np.float64)
        scale = as_array(scale, "scale", np.float64)
        if mean.ndim != 1 or mean.shape != scale.shape or mean.size == 0:
            raise ValueError(
                f"mean and scale must be 1-D of one length >= 1, got shapes {mean.shape} "
                f"and {scale.shape}"
            )
        if not (scale > 0).all():
            j = int(np.argmin(scale > 0))
            raise ValueError(f"scale must be > 0, got {scale[j]} for feature {j}")
        self.mean, self.scale = mean.copy(), scale.copy()
        self.mean.flags.writeable = self.scale.flags.writeable = False

    @classmethod
    def fit(cls, X: ArrayLike) -> Standardizer:
        """The standardizer of ``X``'s columns: their mean and standard deviation.

        The standard deviation is the population one (divided by
        ``n_samples``, as ``np.std`` and scikit-learn's ``StandardScaler``
        compute it). A constant column, every value equal, has none to
        divide by: its scale is 1, so it becomes a column of zeros rather
        than a division by zero.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The training inputs, ``n_samples >= 1``.

        Returns
        -------
        Standardizer

        Raises
        ------
        ValueError
            If ``X`` is not 2-D with at least one row, or a column's values
            are too large for their mean or standard deviation to be a
            finite float64.
        """
        X = _matrix(X, "X")
        if X.shape[0] == 0:
            raise ValueError(f"X has no samples (shape {X.shape}); there is nothing to fit")
        with np.errstate(over="ignore", invalid="ignore"):
            mean = X.mean(axis=0)
            std = X.std(axis=0)
        bad = ~(np.isfinite(mean) & np.isfinite(std))
        if bad.any():
            j = int(np.argmax(bad))
            raise ValueError(
                f"X[:, {j}] holds values too large to standardize: their mean or standard "
                "deviation overflows float64"
            )
        constant = X.max(axis=0) == X.min(axis=0)
        return cls(mean, np.where(constant, 1.0, std))

    @property
    def n_features(self) -> int:
        return self.mean.size

    def transform(self, X: ArrayLike) -> NDArray[np.float64]:
        """``(X - mean) / scale``, column by column.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_features), float64

        Raises
        ------
        ValueError
            If ``X`` has another number of columns, or a standardized value
            overflows float64 (the message names its row and column).
        """
        X = _matrix(X, "X")
        if X.shape[1] != self.n_features:
            raise ValueError(
                f"X has {X.shape[1]} columns (shape {X.shape}) but the standardizer was fit "
                f"on {self.n_features}"
            )
        with np.errstate(over="ignore"):
            Z = (X - self.mean) / self.scale
        bad = ~np.isfinite(Z)
        if bad.any():
            i, j = (int(v) for v in np.argwhere(bad)[0])
            raise ValueError(
                f"X[{i}, {j}] = {float(X[i, j])!r} overflows float64 when standardized "
                f"(mean {float(self.mean[j])!r}, scale {float(self.scale[j])!r})"
            )
        return Z

    def __repr__(self) -> str:
        return f"Standardizer(mean={self.mean.tolist()!r}, scale={self.scale.tolist()!r})"


def _matrix(X: ArrayLike, name: str) -> FloatArray:
    X = as_array(X, name, np.float64)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D with shape (n_samples, n_features), got shape "
                         f"{X.shape}")
    return X
