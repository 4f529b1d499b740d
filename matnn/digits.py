"""The 8x8 handwritten digits, split for training, validation and testing.

scikit-learn ships the data set in its wheel (1,797 grey-level images of
the digits 0 to 9, each pixel 0 to 16), so nothing is downloaded. Each
image is a row of 64 features, read row by row (``X[i].reshape(8, 8)`` is
the picture), divided by 16 so every feature lies in [0, 1].

The split is 60/20/20, stratified: every part holds each digit in about
the proportion of the whole set, so the test accuracy is not skewed by a
part that happens to be short of some digit.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._typing import DTypeLike
from .validation import as_float_dtype, check_int

__all__ = ["DigitsSplit", "load", "N_SAMPLES", "N_FEATURES", "N_CLASSES"]

N_SAMPLES, N_FEATURES, N_CLASSES = 1797, 64, 10

#: Fractions of the whole set held out for testing, and for validation.
TEST_FRACTION = VALIDATION_FRACTION = 0.2

_INSTALL_HINT = "pip install 'matnn[examples]'"


class DigitsSplit(NamedTuple):
    """The digits, split three ways; labels are the digits 0 to 9.

    Attributes
    ----------
    X_train : ndarray of shape (1077, 64)
    y_train : ndarray of int64, shape (1077,)
    X_val : ndarray of shape (360, 64)
    y_val : ndarray of int64, shape (360,)
    X_test : ndarray of shape (360, 64)
    y_test : ndarray of int64, shape (360,)
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def load(seed: int = 0, *, dtype: DTypeLike = np.float64) -> DigitsSplit:
    """Load the digits, scaled to [0, 1], with a seeded stratified split.

    The same ``seed`` always gives the same split. The test part is drawn
    first (20% of the whole), then the validation part (20% of the whole,
    a quarter of what remains); both draws are stratified by digit.

    Parameters
    ----------
    seed : int >= 0
        Seeds the split (scikit-learn's ``random_state``).
    dtype : float32 or float64
        The features' dtype.

    Returns
    -------
    DigitsSplit
        ``(X_train, y_train, X_val, y_val, X_test, y_test)`` with 1077, 360
        and 360 samples; see :class:`DigitsSplit` for the shapes.

    Raises
    ------
    ImportError
        When scikit-learn is not installed; the message says how to get it.
    """
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        raise ImportError(
            f"the digits data set comes with scikit-learn: {_INSTALL_HINT}"
        ) from None
    seed = check_int(seed, "seed", 0)
    dtype = as_float_dtype(dtype)
    digits = load_digits()
    # Pixels are integers 0..16, so dividing by 16 is exact in either dtype.
    X = (digits.data / 16.0).astype(dtype)
    y = digits.target.astype(np.int64)
    X_rest, X_test, y_rest, y_test = train_test_split(
        X, y, test_size=TEST_FRACTION, stratify=y, random_state=seed)
    X_train, X_val, y_train, y_val = train_test_split(
        X_rest, y_rest, test_size=VALIDATION_FRACTION / (1 - TEST_FRACTION),
        stratify=y_rest, random_state=seed)
    return DigitsSplit(*(np.ascontiguousarray(a)
                         for a in (X_train, y_train, X_val, y_val, X_test, y_test)))
