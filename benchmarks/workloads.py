"""The networks and data the cases share.

Everything is built from an explicit seed, so every run times the same work.
"""

from __future__ import annotations

import numpy as np

from matnn import Dense, Network
from matnn.data import SHIFT
from matnn.scalar import PARAM_NAMES, OurNeuralNetwork, to_network

__all__ = [
    "FLAT_ORDER",
    "as_dtype",
    "document_pair",
    "people",
    "shim_mean_gradient",
    "shim_minibatch_sgd",
    "shim_params",
]


def document_pair(seed=0):
    """The document's 2-2-1 network twice, with the same nine parameters.

    Parameters are drawn from ``N(0, 1)`` like the document's, but from a
    seeded Generator rather than numpy's global state.

    Returns
    -------
    shim : matnn.scalar.OurNeuralNetwork
    net : matnn.Network (float64)
    """
    rng = np.random.default_rng(seed)
    shim = OurNeuralNetwork(**dict(zip(PARAM_NAMES, rng.normal(size=len(PARAM_NAMES)))))
    return shim, to_network(shim)


def as_dtype(net, dtype):
    """A new network with ``net``'s parameters converted to ``dtype``."""
    return Network([Dense(l.W, l.b, l.activation, dtype=dtype) for l in net.layers])


def people(n, seed=0, dtype=np.float64):
    """``n`` synthetic people like the document's: shifted (weight, height), F = 1.

    Women weigh about 125 lb and stand 63 in, men 165 lb and 70 in, with
    overlap, so the problem is learnable but not trivially separable.

    Returns
    -------
    X : ndarray of shape (n, 2)
    y : ndarray of shape (n,)
    """
    rng = np.random.default_rng(seed)
    female = rng.random(n) < 0.5
    weight = np.where(female, rng.normal(125, 12, n), rng.normal(165, 15, n))
    height = np.where(female, rng.normal(63, 3, n), rng.normal(70, 3, n))
    X = np.column_stack([weight + SHIFT[0], height + SHIFT[1]]).astype(dtype)
    return X, female.astype(dtype)


#: The shim's parameter names in the order of ``Network.params``:
#: W1 row-major, b1, W2, b2.
FLAT_ORDER = ("w1", "w2", "w3", "w4", "b1", "b2", "w5", "w6", "b3")


def shim_params(shim):
    """The shim's nine parameters as an array in ``Network.params`` order."""
    return np.array([getattr(shim, name) for name in FLAT_ORDER])


def shim_mean_gradient(shim, X, y):
    """The full-batch gradient the scalar way: the mean of per-sample partials.

    Returns
    -------
    ndarray of shape (9,), in ``Network.params`` order
    """
    total = dict.fromkeys(FLAT_ORDER, 0.0)
    for x, y_true in zip(X, y):
        for name, g in shim.gradients(x, y_true).items():
            total[name] += g
    return np.array([total[name] for name in FLAT_ORDER]) / len(X)


def shim_minibatch_sgd(shim, X, y, *, epochs, learning_rate, batch_size):
    """Mini-batch SGD written with the shim: average its per-sample partials per batch.

    Batches are consecutive slices in dataset order, as ``fit(shuffle=False)``
    takes them.
    """
    for _ in range(epochs):
        for start in range(0, len(X), batch_size):
            step = shim_mean_gradient(shim, X[start:start + batch_size],
                                      y[start:start + batch_size])
            for name, g in zip(FLAT_ORDER, step):
                setattr(shim, name, getattr(shim, name) - learning_rate * g)
