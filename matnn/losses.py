"""The document's loss: mean squared error over every element, with no 1/2.

``L = mean((y_true - y_pred) ** 2)``. For a batch of ``n`` samples with
``n_out`` outputs the mean runs over all ``n * n_out`` entries, so for the
document's single-output network it is exactly its ``mse_loss``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["mse", "mse_gradient", "squared_error_sum"]


def mse(y_true, y_pred):
    """Mean squared error over every element.

    Parameters
    ----------
    y_true, y_pred : ndarray of the same shape, e.g. (n_samples, n_out)

    Returns
    -------
    float
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}; "
            "they must match exactly (no broadcasting)"
        )
    return float(np.mean(np.square(y_true - y_pred)))


def squared_error_sum(y_true, y_pred, out):
    """Sum of ``(y_pred - y_true) ** 2``, using ``out`` (same shape) as scratch.

    Lets a caller add up the loss over blocks of rows and divide once.
    """
    np.subtract(y_pred, y_true, out=out)
    return np.vdot(out, out)


def mse_gradient(y_true, y_pred, n_elements, out):
    """Write ``dL/dy_pred`` of the MSE into ``out``.

    ``dL/dy_pred = 2 * (y_pred - y_true) / n_elements``, the document's
    ``d_L_d_ypred = -2 * (y_true - y_pred)`` divided by the number of
    averaged entries. ``n_elements`` is the size of the whole batch, which
    may be larger than the block of rows passed in.

    Parameters
    ----------
    y_true, y_pred, out : ndarray of shape (n_rows, n_out)
    n_elements : int
        ``n_samples * n_out`` of the full batch the mean runs over.
    """
    np.subtract(y_pred, y_true, out)
    return np.multiply(out, 2 / n_elements, out)
