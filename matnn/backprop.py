"""The forward and backward passes, over preallocated buffers.

This is the document's backpropagation with every scalar chain turned into a
matrix product. For layer ``l`` (1-based, ``A0 = X``):

    forward    Z_l = A_{l-1} @ W_l.T + b_l          A_l = f(Z_l)
    output     delta_L = dL/dA_L * f'(A_L)           dL/dA_L = 2 (A_L - Y) / (n n_out)
    hidden     delta_l = (delta_{l+1} @ W_{l+1}) * f'(A_l)
    gradients  dW_l = delta_l.T @ A_{l-1}           db_l = delta_l summed over rows

``delta_l = dL/dZ_l`` holds, for every sample at once, what the document
writes as ``d_L_d_ypred * deriv_sigmoid(sum_o1)`` (output layer) or
``d_L_d_ypred * d_ypred_d_h1 / x1``-style chains (hidden layers). Summing the
rows in ``dW_l`` adds up the per-sample gradients; the ``1 / n`` inside
``dL/dA_L`` turns that sum into the batch mean.

Nothing is stored on layers: the caller owns a :class:`Workspace`, so two
threads with two workspaces never share state.
"""

from __future__ import annotations

import numpy as np

from .losses import mse_gradient, squared_error_sum

# Looked up once: these run a few times per layer per step, and at batch
# size 1 the time of a step is mostly call overhead.
add, dot, multiply = np.add, np.dot, np.multiply

__all__ = [
    "BLOCK_ROWS",
    "Workspace",
    "forward",
    "backward",
    "flat_buffers",
    "split_params",
    "squared_error_total",
]

#: Large batches are processed this many rows at a time, so the buffers of a
#: small network stay in cache and memory does not grow with the batch.
#: Measured on the document's network (full-batch gradient, 2^20 rows, one
#: core, float64 / float32 ns per sample): 1024 rows 51 / 33, 2048 43 / 25,
#: 4096 38 / 20, 8192 40 / 18, 16384 35 / 18. Beyond 4096 the gain is small
#: while a wide network's buffers grow with the block (784-256-128-10 needs
#: 37 MiB in float64 at 4096 rows), so 4096 it is.
BLOCK_ROWS = 4096


class Workspace:
    """Buffers for one forward and backward pass over up to ``rows`` samples.

    Attributes
    ----------
    A : list of ndarray, A[l] of shape (rows, sizes[l + 1])
        Activations of layer ``l + 1``; the pre-activation ``Z`` is computed
        in place and overwritten, since every derivative is taken from ``A``.
    D : list of ndarray, same shapes as ``A``
        Deltas ``dL/dZ`` of each layer.
    T : list of ndarray, same shapes as ``A``
        Scratch for ``f'(A)``.
    ones : ndarray of shape (rows,)
        All ones: ``db = ones @ delta`` sums the rows with one BLAS call,
        several times faster than ``delta.sum(axis=0)`` on narrow layers.
    """

    def __init__(self, sizes, rows, dtype, *, _parent=None):
        self.rows = rows
        if _parent is None:
            shapes = [(rows, n) for n in sizes[1:]]
            self.A = [np.empty(s, dtype) for s in shapes]
            self.D = [np.empty(s, dtype) for s in shapes]
            self.T = [np.empty(s, dtype) for s in shapes]
            self.ones = np.ones(rows, dtype)
        else:
            # Leading-row slices of C-contiguous buffers stay contiguous.
            self.A = [a[:rows] for a in _parent.A]
            self.D = [d[:rows] for d in _parent.D]
            self.T = [t[:rows] for t in _parent.T]
            self.ones = _parent.ones[:rows]
        self._heads = {}

    def head(self, rows):
        """A workspace for ``rows <= self.rows`` samples sharing this memory."""
        if rows == self.rows:
            return self
        ws = self._heads.get(rows)
        if ws is None:
            ws = self._heads[rows] = Workspace(None, rows, None, _parent=self)
        return ws


def forward(layers, X, ws):
    """Run the forward pass of ``X`` into ``ws.A``.

    Parameters
    ----------
    layers : sequence of (W, b, Activation)
        ``W`` of shape (n_out, n_in), ``b`` of shape (n_out,).
    X : ndarray of shape (ws.rows, sizes[0])
    ws : Workspace

    Returns
    -------
    ndarray of shape (ws.rows, sizes[-1])
        The output activations (``ws.A[-1]``, not a copy).
    """
    # np.dot with a positional ``out`` costs about half of np.matmul's call
    # overhead on tiny arrays, and calls the same BLAS on large ones.
    prev = X
    for (W, b, act), A in zip(layers, ws.A):
        dot(prev, W.T, A)
        add(A, b, A)
        act.function(A, A)
        prev = A
    return prev


def backward(layers, X, Y, n_elements, ws, grads):
    """Backpropagate the MSE from ``ws.A`` (filled by :func:`forward`).

    Parameters
    ----------
    layers : sequence of (W, b, Activation)
    X : ndarray of shape (ws.rows, sizes[0])
    Y : ndarray of shape (ws.rows, sizes[-1])
    n_elements : int
        Number of entries the loss averages over (``n_samples * n_out`` of the
        whole batch; larger than ``Y.size`` when the batch is done in blocks).
    ws : Workspace
    grads : sequence of (dW, db)
        Overwritten with this block's contribution to the gradient.
    """
    last = len(layers) - 1
    ones = ws.ones
    mse_gradient(Y, ws.A[last], n_elements, ws.D[last])
    for l in range(last, -1, -1):
        W, _, act = layers[l]
        D, T = ws.D[l], ws.T[l]
        multiply(D, act.derivative(ws.A[l], T), D)
        dW, db = grads[l]
        dot(D.T, ws.A[l - 1] if l else X, dW)
        dot(ones, D, db)
        if l:
            dot(D, W, ws.D[l - 1])


def flat_buffers(sizes, dtype):
    """A flat buffer and its per-layer ``(W, b)`` views.

    Used both for a network's parameters and for gradients, which then share
    one layout: an SGD step is a single update of one flat array.

    Returns
    -------
    flat : ndarray of shape (n_params,)
    views : list of (ndarray of shape (n_out, n_in), ndarray of shape (n_out,))
    """
    flat = np.empty(sum(o * i + o for i, o in zip(sizes[:-1], sizes[1:])), dtype)
    return flat, split_params(flat, sizes)


def split_params(flat, sizes):
    """Views ``[(W_1, b_1), ...]`` into a flat parameter vector.

    Each layer occupies ``W`` (row-major, ``n_out * n_in`` entries) then ``b``.
    """
    views, start = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        stop = start + n_out * n_in
        W = flat[start:stop].reshape(n_out, n_in)
        b = flat[stop:stop + n_out]
        views.append((W, b))
        start = stop + n_out
    return views


def squared_error_total(layers, X, Y, ws):
    """Sum of squared errors of the network over ``X``, in blocks of ``ws.rows``.

    Returns
    -------
    float
    """
    total = 0.0
    for start in range(0, X.shape[0], ws.rows):
        Xb = X[start:start + ws.rows]
        w = ws.head(Xb.shape[0])
        out = forward(layers, Xb, w)
        total += float(squared_error_sum(Y[start:start + ws.rows], out, w.D[-1]))
    return total
