"""The networks and data the cases share.

Everything is built from an explicit seed, so every run times the same work.
"""

from __future__ import annotations

import numpy as np

from matnn import Dense, Network
from matnn.data import SHIFT
from matnn.scalar import PARAM_NAMES, OurNeuralNetwork, to_network

__all__ = ["as_dtype", "document_pair", "people"]


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
    """``net`` itself for its own dtype, else a copy converted to ``dtype``."""
    if net.dtype == dtype:
        return net
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
