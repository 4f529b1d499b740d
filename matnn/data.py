"""The document's data set, in one place.

Four people with weight (lb), height (in) and gender. The network sees the
features shifted by (-135 lb, -66 in) so they sit near zero, and the label
F = 1, M = 0. Emily and Frank are the two people it is asked about after
training.

The arrays are integer, as in the document, and read-only so that no caller
can change the shared data by accident.
"""

from __future__ import annotations

import numpy as np

from ._typing import ArrayLike, NDArray

__all__ = [
    "PEOPLE",
    "SHIFT",
    "LABELS",
    "NAMES",
    "X",
    "y",
    "EMILY",
    "FRANK",
    "QUERIES",
    "shift",
    "sample",
]

#: (name, weight in lb, height in in, gender) for the training set.
PEOPLE = (
    ("Alice", 133, 65, "F"),
    ("Bob", 160, 72, "M"),
    ("Charlie", 152, 70, "M"),
    ("Diana", 120, 60, "F"),
)

#: Added to (weight, height) before they reach the network.
SHIFT = (-135, -66)

#: The network's target for each gender.
LABELS = {"F": 1, "M": 0}


def _frozen(values: ArrayLike) -> NDArray[np.int_]:
    arr = np.array(values)
    arr.setflags(write=False)
    return arr


def shift(weight_lb: int, height_in: int) -> NDArray[np.int_]:
    """The network input for a raw (weight, height) pair, as an int array of shape (2,)."""
    return _frozen([weight_lb + SHIFT[0], height_in + SHIFT[1]])


NAMES = tuple(name for name, *_ in PEOPLE)

#: Features, ndarray of shape (4, 2): [[-2, -1], [25, 6], [17, 4], [-15, -6]].
X = _frozen([shift(w, h) for _, w, h, _ in PEOPLE])

#: Labels, ndarray of shape (4,): [1, 0, 0, 1].
y = _frozen([LABELS[g] for *_, g in PEOPLE])

#: Emily, 128 lb and 63 in: [-7, -3]. The document expects F.
EMILY = shift(128, 63)

#: Frank, 155 lb and 68 in: [20, 2]. The document expects M.
FRANK = shift(155, 68)

#: The people the trained network is asked about, with the gender the
#: document expects.
QUERIES = (("Emily", EMILY, "F"), ("Frank", FRANK, "M"))


def sample(name: str) -> tuple[NDArray[np.int_], int]:
    """``(x, y_true)`` for a person of the training set, by name (case-insensitive).

    Returns
    -------
    x : ndarray of shape (2,)
    y_true : int
    """
    for i, known in enumerate(NAMES):
        if known.lower() == str(name).lower():
            return X[i], int(y[i])
    raise ValueError(f"unknown person {name!r}; choose one of {list(NAMES)}")
