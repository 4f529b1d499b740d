"""The matrix-form network: a chain of dense layers trained on the MSE.

For the document's 2-2-1 network the two layers hold

    W1 = [[w1, w2],      b1 = [b1, b2]      (hidden neurons h1, h2)
          [w3, w4]]
    W2 = [[w5, w6]]      b2 = [b3]          (output neuron o1)

and ``predict`` of a batch ``X`` of shape (n, 2) returns every sample's
``o1`` as a column of shape (n, 1). Any depth and width work the same way.
"""

from __future__ import annotations

import numpy as np

from .activations import get_activation
from .backprop import (
    BLOCK_ROWS,
    Workspace,
    backward,
    forward,
    flat_buffers,
    squared_error_total,
)
from .layers import Dense
from .validation import as_float_dtype, check_batch, check_features, check_int, check_targets

__all__ = ["Network"]


class Network:
    """A multilayer perceptron whose parameters live in one flat array.

    Parameters
    ----------
    layers : sequence of Dense
        ``layers[i].n_out`` must equal ``layers[i + 1].n_in``. The network
        copies their parameters (into float64 unless every layer is float32),
        so later edits to the ``Dense`` objects you passed do not affect it.

    Attributes
    ----------
    layers : tuple of Dense
        The network's own layers; their ``W`` and ``b`` are views into
        ``params``.
    params : ndarray of shape (n_params,)
        Every parameter: layer 1's ``W`` (row-major) then ``b``, then layer 2's,
        and so on. Updating it updates the layers, and vice versa.
    sizes : tuple of int
        ``(n_in, n_hidden..., n_out)``; ``(2, 2, 1)`` for the document.
    dtype : numpy dtype
        float32 or float64; every computation runs in it.
    """

    def __init__(self, layers):
        if isinstance(layers, Dense):
            raise TypeError("layers must be a sequence of Dense; wrap a single layer in a list")
        layers = list(layers)
        if not layers:
            raise ValueError("a Network needs at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Dense):
                raise TypeError(f"layers[{i}] must be a Dense layer, got {type(layer).__name__}")
        for i, (a, b) in enumerate(zip(layers[:-1], layers[1:])):
            if a.n_out != b.n_in:
                raise ValueError(
                    f"layers do not chain: layers[{i}] has {a.n_out} outputs "
                    f"(W shape {a.W.shape}) but layers[{i + 1}] takes {b.n_in} inputs "
                    f"(W shape {b.W.shape})"
                )
        dtype = np.result_type(*(layer.dtype for layer in layers))
        self.sizes = (layers[0].n_in,) + tuple(layer.n_out for layer in layers)
        self.dtype = np.dtype(dtype)
        self.params, views = flat_buffers(self.sizes, self.dtype)
        for layer, (W, b) in zip(layers, views):
            W[...] = layer.W
            b[...] = layer.b
        self.layers = tuple(
            Dense(W, b, layer.activation) for layer, (W, b) in zip(layers, views)
        )
        # (W, b, Activation) triples: the form the passes in backprop.py take.
        self._engine = [
            (layer.W, layer.b, get_activation(layer.activation)) for layer in self.layers
        ]

    @classmethod
    def from_sizes(cls, sizes, activation="sigmoid", seed=None, dtype=np.float64):
        """A randomly initialised network.

        Weights of a layer with ``fan_in`` inputs are drawn from
        ``N(0, gain / fan_in)`` with ``gain = 2`` for relu (He) and ``1``
        otherwise (LeCun), so activations keep roughly unit scale with depth;
        biases start at 0. (The document instead draws every weight and bias
        from ``N(0, 1)``; ``matnn.scalar.OurNeuralNetwork`` keeps that.)

        Parameters
        ----------
        sizes : sequence of int
            ``(n_in, n_hidden..., n_out)``, at least two entries, each >= 1.
        activation : str or sequence of str
            One name for every layer, or one per layer (``len(sizes) - 1``).
        seed : None, int or numpy.random.Generator
            Seeds ``numpy.random.default_rng``; the same seed gives the same
            network.
        dtype : float32 or float64
        """
        sizes = _check_sizes(sizes)
        dtype = as_float_dtype(dtype)
        n_layers = len(sizes) - 1
        if isinstance(activation, str):
            activations = [activation] * n_layers
        else:
            activations = list(activation)
            if len(activations) != n_layers:
                raise ValueError(
                    f"activation lists {len(activations)} names but sizes {tuple(sizes)} "
                    f"has {n_layers} layers"
                )
        rng = np.random.default_rng(seed)
        layers = []
        for n_in, n_out, act in zip(sizes[:-1], sizes[1:], activations):
            gain = 2.0 if get_activation(act).name == "relu" else 1.0
            W = rng.normal(0.0, np.sqrt(gain / n_in), size=(n_out, n_in))
            layers.append(Dense(W.astype(dtype), np.zeros(n_out, dtype), act))
        return cls(layers)

    # -- description -------------------------------------------------------

    @property
    def n_in(self) -> int:
        return self.sizes[0]

    @property
    def n_out(self) -> int:
        return self.sizes[-1]

    @property
    def activations(self) -> tuple:
        """The activation name of every layer."""
        return tuple(layer.activation for layer in self.layers)

    def __repr__(self):
        acts = self.activations
        act = acts[0] if len(set(acts)) == 1 else list(acts)
        return f"Network(sizes={self.sizes}, activation={act!r}, dtype={self.dtype})"

    def copy(self):
        """An independent network with equal parameters."""
        return Network(self.layers)

    def save(self, path):
        """Write the network to ``path`` atomically; see :func:`matnn.saving.save`.

        ``matnn.load(path)`` reads it back.
        """
        from .saving import save

        save(self, path)

    # -- the passes ----------------------------------------------------------

    def forward(self, X):
        """Run the forward pass and return every layer's activations.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_in)

        Returns
        -------
        activations : list of ndarray
            ``[X, A1, ..., AL]`` with ``A_l`` of shape (n_samples, sizes[l]);
            the cache :meth:`backward` needs. For the document's network
            ``A1[:, 0]`` is every sample's ``h1``, ``A1[:, 1]`` its ``h2`` and
            ``A2[:, 0]`` its ``o1``.
        """
        X = check_features(X, self.n_in, self.dtype)
        ws = Workspace(self.sizes, X.shape[0], self.dtype)
        forward(self._engine, X, ws)
        return [X] + ws.A

    def backward(self, activations, y):
        """Backpropagate the MSE through a cache from :meth:`forward`.

        Parameters
        ----------
        activations : list of ndarray
            ``[X, A1, ..., AL]`` as returned by :meth:`forward`.
        y : array-like of shape (n_samples, n_out), or (n_samples,) if n_out == 1

        Returns
        -------
        deltas : list of ndarray
            ``[delta1, ..., deltaL]``, ``delta_l = dL/dZ_l`` of shape
            (n_samples, sizes[l]).
        gradients : list of (ndarray, ndarray)
            ``(dW, db)`` per layer, shaped like ``(W, b)``.
        """
        if len(activations) != len(self.layers) + 1:
            raise ValueError(
                f"activations must be the list [X, A1, ..., A{len(self.layers)}] from "
                f"forward(), got {len(activations)} arrays"
            )
        X = check_features(activations[0], self.n_in, self.dtype, name="activations[0]")
        n = X.shape[0]
        Y = check_targets(y, n, self.n_out, self.dtype)
        ws = Workspace(self.sizes, n, self.dtype)
        for l, (A, size) in enumerate(zip(activations[1:], self.sizes[1:]), start=1):
            if np.shape(A) != (n, size):
                raise ValueError(
                    f"activations[{l}] has shape {np.shape(A)}, expected {(n, size)}"
                )
            ws.A[l - 1][...] = A
        _, grads = flat_buffers(self.sizes, self.dtype)
        backward(self._engine, X, Y, Y.size, ws, grads)
        return ws.D, grads

    # -- what users call -----------------------------------------------------

    def predict(self, X):
        """Network outputs for a batch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_in)

        Returns
        -------
        ndarray of shape (n_samples, n_out)
        """
        X = check_features(X, self.n_in, self.dtype)
        n = X.shape[0]
        out = np.empty((n, self.n_out), self.dtype)
        ws = Workspace(self.sizes, min(n, BLOCK_ROWS), self.dtype)
        for start in range(0, n, BLOCK_ROWS):
            Xb = X[start:start + BLOCK_ROWS]
            out[start:start + BLOCK_ROWS] = forward(self._engine, Xb, ws.head(Xb.shape[0]))
        return out

    def loss(self, X, y):
        """The document's MSE: mean of ``(y - predict(X)) ** 2`` over every entry.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_in)
        y : array-like of shape (n_samples, n_out), or (n_samples,) if n_out == 1

        Returns
        -------
        float
        """
        X, Y = self._check_batch(X, y)
        return self._loss(X, Y)

    def gradients(self, X, y):
        """Gradient of :meth:`loss` with respect to every parameter.

        Because the loss is a mean over samples, this is the mean of the
        per-sample gradients. Large batches are processed ``BLOCK_ROWS`` rows
        at a time and accumulated, so memory stays flat in ``n_samples``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_in)
        y : array-like of shape (n_samples, n_out), or (n_samples,) if n_out == 1

        Returns
        -------
        list of (ndarray of shape (n_out, n_in), ndarray of shape (n_out,))
            ``(dW, db)`` per layer. For the document's network
            ``[(dW1, db1), (dW2, db2)]`` with ``dW1[0, 0] = dL/dw1``,
            ``db2[0] = dL/db3`` and so on.
        """
        X, Y = self._check_batch(X, y)
        return self._gradients(X, Y)[1]

    def fit(self, X, y, *, epochs, learning_rate, batch_size, shuffle=True, seed=None,
            log_every=None, callback=None):
        """Train with mini-batch SGD; see :func:`matnn.training.fit`."""
        from .training import fit

        return fit(self, X, y, epochs=epochs, learning_rate=learning_rate,
                   batch_size=batch_size, shuffle=shuffle, seed=seed,
                   log_every=log_every, callback=callback)

    # -- internals on validated arrays ---------------------------------------

    def _check_batch(self, X, y):
        return check_batch(X, y, self.n_in, self.n_out, self.dtype)

    def _loss(self, X, Y, ws=None):
        if ws is None:
            ws = Workspace(self.sizes, min(X.shape[0], BLOCK_ROWS), self.dtype)
        return squared_error_total(self._engine, X, Y, ws) / Y.size

    def _gradients(self, X, Y):
        n = X.shape[0]
        flat, grads = flat_buffers(self.sizes, self.dtype)
        ws = Workspace(self.sizes, min(n, BLOCK_ROWS), self.dtype)
        if n <= BLOCK_ROWS:
            forward(self._engine, X, ws)
            backward(self._engine, X, Y, Y.size, ws, grads)
            return flat, grads
        flat.fill(0)
        block_flat, block_grads = flat_buffers(self.sizes, self.dtype)
        for start in range(0, n, BLOCK_ROWS):
            Xb, Yb = X[start:start + BLOCK_ROWS], Y[start:start + BLOCK_ROWS]
            w = ws.head(Xb.shape[0])
            forward(self._engine, Xb, w)
            backward(self._engine, Xb, Yb, Y.size, w, block_grads)
            flat += block_flat
        return flat, grads


def _check_sizes(sizes):
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise TypeError(f"sizes must be a sequence of layer widths, got {sizes!r}") from None
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least an input and an output width, got {sizes}")
    return tuple(check_int(s, f"sizes[{i}]", 1) for i, s in enumerate(sizes))
