"""Mini-batch stochastic gradient descent, the document's training loop in matrix form.

The document updates every parameter after each single sample
(``w1 -= learn_rate * dL/dw1``). Here one step takes a batch of rows, computes
the gradient of the batch's MSE (the mean of its per-sample gradients) and
updates all parameters at once with ``params -= learning_rate * grad``. With
``batch_size=1`` and ``shuffle=False`` this is the document's loop exactly.

The loop validates nothing and allocates nothing: the data are checked once
per call, and every pass (and each epoch's shuffle) writes into buffers made
before the first epoch.
"""

from __future__ import annotations

import numpy as np

from .backprop import BLOCK_ROWS, Workspace, backward, flat_buffers, forward
from .validation import check_callback, check_int, check_positive

__all__ = ["fit", "TrainingDiverged"]


class TrainingDiverged(FloatingPointError):
    """Raised by :func:`fit` when the loss or a parameter stops being finite.

    Attributes
    ----------
    epoch : int
        The epoch (0-based) in which it happened.
    batch : int or None
        The batch (0-based, within the epoch) whose update produced a NaN or
        inf parameter, or None when the parameters stayed finite and only the
        end-of-epoch loss overflowed.
    history : ndarray of shape (epoch,)
        The losses of the epochs that completed.
    """

    def __init__(self, message, epoch, batch, history):
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch
        self.history = history


def fit(net, X, y, *, epochs, learning_rate, batch_size, shuffle=True, seed=None,
        log_every=None, callback=None):
    """Train ``net`` in place with mini-batch SGD on the MSE.

    Parameters
    ----------
    net : Network
    X : array-like of shape (n_samples, n_in)
    y : array-like of shape (n_samples, n_out), or (n_samples,) if n_out == 1
    epochs : int >= 0
        Passes over the data.
    learning_rate : float > 0
        The document's ``learn_rate`` (eta).
    batch_size : int >= 1
        Samples per update. Batches are consecutive slices of the (possibly
        shuffled) data; the last one holds the remainder, so no sample is
        dropped. ``batch_size=1`` is the document's per-sample SGD.
    shuffle : bool
        Draw a new sample order every epoch. The document keeps dataset order
        (``shuffle=False``).
    seed : None, int or numpy.random.Generator
        Seeds the shuffling.
    log_every : int >= 1, optional
        Print ``Epoch %d loss: %.3f`` for every epoch divisible by it, as the
        document does with 10.
    callback : callable ``(epoch, loss) -> bool``, optional
        Called after every epoch; returning True stops training early.

    Returns
    -------
    ndarray of shape (epochs_run,)
        The MSE over all of ``X`` after each epoch (the value the document
        prints).

    Raises
    ------
    TrainingDiverged
        A ``FloatingPointError`` raised when a parameter or the loss becomes
        NaN or inf. It names the epoch and batch, and the network is left at
        the last finite parameters it had.
    """
    X, Y = net._check_batch(X, y)
    epochs = check_int(epochs, "epochs", 0)
    learning_rate = check_positive(learning_rate, "learning_rate")
    batch_size = check_int(batch_size, "batch_size", 1)
    if log_every is not None:
        log_every = check_int(log_every, "log_every", 1)
    callback = check_callback(callback)

    n = X.shape[0]
    batch_size = min(batch_size, n)
    rng = np.random.default_rng(seed) if shuffle else None
    engine, params = net._engine, net.params
    grad, grads = flat_buffers(net.sizes, net.dtype)
    ws = Workspace(net.sizes, batch_size, net.dtype)
    eval_ws = Workspace(net.sizes, min(n, BLOCK_ROWS), net.dtype)
    if shuffle:
        # Each epoch gathers the data in its new order into these buffers, so
        # the batches (views into them) are made once.
        Xs, Ys = np.empty_like(X), np.empty_like(Y)
        batches = _split(Xs, Ys, batch_size, ws)
    else:
        batches = _split(X, Y, batch_size, ws)
    before = np.empty_like(params)

    # A 0-d array in the network's dtype equals what numpy would convert the
    # float to on every call, without paying for the conversion each step.
    rate = np.array(learning_rate, net.dtype)
    multiply, subtract = np.multiply, np.subtract

    def step(Xb, Yb, w):
        forward(engine, Xb, w)
        backward(engine, Xb, Yb, Yb.size, w, grads)
        multiply(grad, rate, grad)
        subtract(params, grad, params)

    history = np.empty(epochs)
    # Overflow is detected below and reported with its epoch and batch;
    # numpy's own warnings would only say which ufunc saw it.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for epoch in range(epochs):
            if shuffle:
                order = rng.permutation(n)
                np.take(X, order, axis=0, out=Xs)
                np.take(Y, order, axis=0, out=Ys)
            np.copyto(before, params)
            for Xb, Yb, w in batches:
                step(Xb, Yb, w)
            loss = net._loss(X, Y, eval_ws)
            if not (np.isfinite(loss) and np.isfinite(params).all()):
                _diverged(params, before, batches, step, epoch, learning_rate, history)
            history[epoch] = loss
            if log_every is not None and epoch % log_every == 0:
                print("Epoch %d loss: %.3f" % (epoch, loss))
            if callback is not None and callback(epoch, loss):
                return history[:epoch + 1]
    return history


def _split(X, Y, batch_size, ws):
    """``(X_batch, Y_batch, workspace)`` for every batch of one epoch."""
    n = X.shape[0]
    return [
        (X[s:s + batch_size], Y[s:s + batch_size], ws.head(min(batch_size, n - s)))
        for s in range(0, n, batch_size)
    ]


def _diverged(params, before, batches, step, epoch, learning_rate, history):
    """Find the batch that broke, restore the last finite parameters, raise.

    Finiteness is checked once per epoch to keep the hot loop lean; on failure
    the epoch is replayed from its start, which is deterministic, checking
    after every batch.
    """
    params[...] = before
    for i, (Xb, Yb, w) in enumerate(batches):
        step(Xb, Yb, w)
        if not np.isfinite(params).all():
            params[...] = before
            where = f"epoch {epoch}, batch {i}"
            break
        before[...] = params
    else:
        i = None
        where = f"epoch {epoch}, when evaluating the loss after the last batch"
    raise TrainingDiverged(
        f"training diverged at {where}: the "
        f"{'parameters' if i is not None else 'loss'} became NaN or inf with "
        f"learning_rate={learning_rate}. The network keeps its last finite "
        "parameters; try a smaller learning_rate (or scale the inputs).",
        epoch, i, history[:epoch].copy(),
    )
