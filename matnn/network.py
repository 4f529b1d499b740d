"""The matrix-form network: a chain of dense layers and a loss.

For the lesson's 2-2-1 network the two layers hold

    W1 = [[w1, w2],      b1 = [b1, b2]      (hidden neurons h1, h2)
          [w3, w4]]
    W2 = [[w5, w6]]      b2 = [b3]          (output neuron o1)

and ``predict`` of a batch ``X`` of shape (n, 2) returns every sample's
``o1`` as a column of shape (n, 1). Any depth and width work the same way,
with any activations and loss (see :mod:`matnn.activations` and
:mod:`matnn.losses`); the default is the lesson's sigmoid and MSE.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Sequence

import numpy as np

from .activations import get_activation
from .backprop import (
    Engine,
    Products,
    backward,
    block_rows,
    forward,
    gradient,
    loss_total,
    n_params,
    outputs,
)
from .layers import Dense
from .losses import get_loss
from .memory import check_memory
from .model import Model
from .network_run import _NetworkRun
from .training import fit
from .validation import (
    as_array,
    as_float_dtype,
    check_features,
    check_finite_layers,
    check_seed,
    check_sizes,
)
from ._typing import ArrayLike, DTypeLike, EpochCallback, FloatArray, NDArray, SeedLike, StrPath
from .activations import Activation, ActivationArg
from .losses import Loss

if TYPE_CHECKING:
    from typing_extensions import Self

    from .backprop import Workspace
    from .history import History
    from .optimizer_base import Optimizer, StepOptimizer

__all__ = ["Network"]


class Network(Model):
    """A multilayer perceptron whose parameters live in one flat array.

    Parameters
    ----------
    layers : sequence of Dense
        ``layers[i].n_out`` must equal ``layers[i + 1].n_in``. The network
        copies their parameters (into float64 unless every layer is float32),
        so later edits to the ``Dense`` objects you passed do not affect it.
    loss : str or Loss
        ``"mse"`` (the lesson's, the default), ``"cross_entropy"``,
        ``"binary_cross_entropy"``, or a :class:`~matnn.Loss`.

    Attributes
    ----------
    layers : tuple of Dense
        The network's own layers; their ``W`` and ``b`` are views into
        ``params``.
    params : ndarray of shape (n_params,)
        Every parameter: layer 1's ``W`` (row-major) then ``b``, then layer 2's,
        and so on. Writing into it (``net.params[...] = p``, or
        ``net.params = p``, which copies ``p`` in) updates the layers, and
        vice versa; the layers never detach from it.
    loss_fn : Loss
        The loss that :meth:`loss`, :meth:`gradients` and :meth:`fit` use.
    sizes : tuple of int
        ``(n_in, n_hidden..., n_out)``; ``(2, 2, 1)`` for the lesson.
    dtype : numpy dtype
        float32 or float64; every computation runs in it.

    Notes
    -----
    *Threads.* On a batch of more than one block (see
    :func:`~matnn.backprop.block_rows`), ``predict``, ``loss``,
    ``gradients`` and ``fit`` spread the blocks over
    :func:`matnn.get_num_threads` threads, with the same result, bit for
    bit, on any number of them (see :mod:`matnn.threads`). ``predict``,
    ``loss``, ``gradients``, ``classify`` and ``accuracy`` only read the
    parameters and may also be called from several threads at once. ``fit``
    updates the parameters in place, so a ``predict`` in another thread
    during a ``fit`` sees them mid-update.

    *Subclasses.* A subclass may override ``loss`` or ``gradients`` (a
    student's own backward pass); :func:`matnn.gradcheck` checks those, and
    :meth:`fit` trains with them.
    """

    def __init__(self, layers: Iterable[Dense], loss: str | Loss = "mse") -> None:
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
        loss = get_loss(loss)
        loss.check_network(layers[-1].n_out, layers[-1].activation)
        sizes = (layers[0].n_in,) + tuple(layer.n_out for layer in layers)
        dtype = np.dtype(np.result_type(*(layer.dtype for layer in layers)))
        params = np.empty(sum(l.W.size + l.b.size for l in layers), dtype)
        for l, (W_view, b_view) in enumerate(Products().views(params, sizes)):
            W_view[...] = layers[l].W
            b_view[...] = layers[l].b
        check_finite_layers(Products().views(params, sizes),
                            lambda where: f"{where}; parameters must be finite")
        self._bind(params, sizes, [layer.activation for layer in layers], loss)

    def _bind(
        self,
        params: FloatArray,
        sizes: Iterable[int],
        activations: Iterable[Activation],
        loss: Loss,
    ) -> None:
        self._params = params
        self.sizes = tuple(sizes)
        self.loss_fn = loss
        self._activations = tuple(activations)
        self._build()

    def _build(self) -> None:
        """Make ``layers`` and the engine views into ``_params``."""
        self.dtype = self._params.dtype
        self._engine = Engine(self._params, self.sizes, self._activations, self.loss_fn,
                              Products())
        self.layers = tuple(Dense(W, b, act) for W, b, act in self._engine.layers)

    @property
    def params(self) -> FloatArray:
        """ndarray of shape (n_params,): every parameter, the buffer the layers view."""
        return self._params

    @params.setter
    def params(self, value: ArrayLike) -> None:
        # ``net.params = p`` copies p into the buffer the layers view, so it
        # can never detach them; ``net.params -= step`` lands here too, with
        # the buffer itself, already updated in place.
        if value is self._params:
            return
        value = as_array(value, "params", self.dtype)
        if value.shape != self._params.shape:
            raise ValueError(
                f"params must have shape {self._params.shape} (every parameter, flat), "
                f"got shape {value.shape}"
            )
        np.copyto(self._params, value)

    @classmethod
    def from_sizes(
        cls,
        sizes: Sequence[int],
        activation: ActivationArg = "sigmoid",
        seed: SeedLike = None,
        dtype: DTypeLike = np.float64,
        loss: str | Loss = "mse",
    ) -> Self:
        """A randomly initialised network.

        Weights of a layer with ``fan_in`` inputs are drawn from
        ``N(0, gain / fan_in)`` with ``gain = 2`` for relu-like activations
        (He) and ``1`` otherwise (LeCun), so activations keep roughly unit
        scale with depth; biases start at 0. (The lesson instead draws every
        weight and bias from ``N(0, 1)``; ``matnn.scalar.OurNeuralNetwork``
        keeps that.)

        Parameters
        ----------
        sizes : sequence of int
            ``(n_in, n_hidden..., n_out)``, at least two entries, each >= 1.
        activation : str, Activation, or a sequence of them
            One for every layer, or one per layer (``len(sizes) - 1``).
        seed : None, int >= 0 or numpy.random.Generator
            The same seed gives the same network.
        dtype : float32 or float64
        loss : str or Loss

        Returns
        -------
        Network
            An instance of ``cls``, so a subclass gets its own class back.
        """
        sizes = check_sizes(sizes)
        dtype = as_float_dtype(dtype)
        seed = check_seed(seed)
        n_layers = len(sizes) - 1
        if isinstance(activation, (list, tuple)):
            activations = [get_activation(a, f"activation[{i}]") for i, a in enumerate(activation)]
            if len(activations) != n_layers:
                raise ValueError(
                    f"activation lists {len(activations)} activations but sizes {tuple(sizes)} "
                    f"has {n_layers} layers"
                )
        else:
            # Not a list or tuple: one activation for every layer.
            activations = [get_activation(activation)] * n_layers  # type: ignore[arg-type]
        biggest = max(i * o for i, o in zip(sizes[:-1], sizes[1:]))
        # The flat parameters, and one layer's float64 draw and its conversion.
        check_memory(n_params(sizes) * dtype.itemsize + biggest * (8 + dtype.itemsize),
                     f"a network of sizes {sizes}")
        rng = np.random.default_rng(seed)
        layers = []
        for n_in, n_out, act in zip(sizes[:-1], sizes[1:], activations):
            gain = 2.0 if act.name in ("relu", "leaky_relu") else 1.0
            W = rng.normal(0.0, np.sqrt(gain / n_in), size=(n_out, n_in))
            layers.append(Dense(W.astype(dtype), np.zeros(n_out, dtype), act))
        return cls(layers, loss=loss)

    # -- description -------------------------------------------------------

    def _repr_fields(self, sizes: str, activation: str) -> list[str]:
        loss = [] if self.loss_fn.name == "mse" else [f"loss={self.loss_fn.name!r}"]
        return [sizes, activation, *loss, f"dtype={self.dtype}"]

    def copy(self) -> Self:
        """An independent network of the same class with equal parameters."""
        import copy

        return copy.deepcopy(self)

    def _repr_svg_(self) -> str:
        """The network drawn with its numbers, which Jupyter shows inline; see :func:`matnn.draw`."""
        from .draw import draw

        return draw(self).svg

    def save(self, path: StrPath) -> None:
        """Write the network to ``path`` atomically; see :func:`matnn.saving.save`.

        ``matnn.load(path)`` reads it back.
        """
        from .model_file import write

        write(self, path)

    # -- the passes ----------------------------------------------------------

    def forward(self, X: ArrayLike) -> list[FloatArray]:
        """Run the forward pass and return every layer's activations.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_in)

        Returns
        -------
        activations : list of ndarray
            ``[X, A1, ..., AL]`` with ``A_l`` of shape (n_samples, sizes[l]);
            the cache :meth:`backward` needs. For the lesson's network
            ``A1[:, 0]`` is every sample's ``h1``, ``A1[:, 1]`` its ``h2`` and
            ``A2[:, 0]`` its ``o1``.
        """
        X = check_features(X, self.n_in, self.dtype)
        ws = self._engine.workspace(X.shape[0], self.dtype)
        forward(self._engine, X, ws)
        return [X] + ws.A

    def backward(
        self, activations: Sequence[ArrayLike], y: ArrayLike
    ) -> tuple[list[FloatArray], list[tuple[FloatArray, FloatArray]]]:
        """Backpropagate the loss through a cache from :meth:`forward`.

        Pre-activations that an activation's derivative needs are recomputed
        from the cache as ``Z_l = A_{l-1} @ W_l.T + b_l``.

        Parameters
        ----------
        activations : list of ndarray
            ``[X, A1, ..., AL]`` as returned by :meth:`forward`.
        y : array-like
            Targets as :meth:`loss` takes them.

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
        X, Y = self._prepare(activations[0], y, name="activations[0]")
        n = X.shape[0]
        engine = self._engine
        ws = engine.workspace(n, self.dtype)
        for l, (A, size) in enumerate(zip(activations[1:], self.sizes[1:]), start=1):
            if np.shape(A) != (n, size):
                raise ValueError(
                    f"activations[{l}] has shape {np.shape(A)}, expected {(n, size)}"
                )
            ws.A[l - 1][...] = A
        for l, ((W, b, _), Z) in enumerate(zip(engine.layers, ws.Z)):
            if Z is not None:
                engine.products.affine(l, ws.A[l - 1] if l else X, W, b, Z, ws)
        _, grads = Products().flat(self.sizes, self.dtype)
        backward(engine, X, Y, self.loss_fn.count(Y), ws, grads)
        return ws.D, grads

    # -- what users call -----------------------------------------------------

    def predict(self, X: ArrayLike) -> FloatArray:
        """Network outputs for a batch.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_in)

        Returns
        -------
        ndarray of shape (n_samples, n_out)
            For a softmax output, each row holds the class probabilities.
        """
        X = check_features(X, self.n_in, self.dtype)
        n = X.shape[0]
        out = np.empty((n, self.n_out), self.dtype)
        ws = self._engine.workspace(block_rows(n, self.sizes), self.dtype)
        return outputs(self._engine, X, ws, out)

    def loss(self, X: ArrayLike, y: ArrayLike) -> float:
        """The loss of the batch: for the default, the lesson's MSE over every entry.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_in)
        y : array-like
            Shape (n_samples, n_out), or (n_samples,) when n_out == 1; for
            ``cross_entropy`` also integer class labels of shape (n_samples,).

        Returns
        -------
        float
        """
        X, Y = self._prepare(X, y)
        return self._loss(X, Y)

    def gradients(self, X: ArrayLike, y: ArrayLike) -> list[tuple[FloatArray, FloatArray]]:
        """Gradient of :meth:`loss` with respect to every parameter.

        Because the loss is a mean over samples, this is the mean of the
        per-sample gradients. Large batches are processed in blocks of rows
        and accumulated, so memory stays flat in ``n_samples``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_in)
        y : array-like, as :meth:`loss` takes it

        Returns
        -------
        list of (ndarray of shape (n_out, n_in), ndarray of shape (n_out,))
            ``(dW, db)`` per layer. For the lesson's network
            ``[(dW1, db1), (dW2, db2)]`` with ``dW1[0, 0] = dL/dw1``,
            ``db2[0] = dL/db3`` and so on.
        """
        X, Y = self._prepare(X, y)
        return self._gradients(X, Y)[1]

    def classify(self, X: ArrayLike) -> NDArray[np.integer[Any]]:
        """Class labels: the argmax of the outputs, or ``p >= 0.5`` for one output.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_in)

        Returns
        -------
        ndarray of int, shape (n_samples,)
        """
        return _labels_of(self.predict(X))

    def accuracy(self, X: ArrayLike, y: ArrayLike) -> float:
        """The fraction of right answers, counted as ``fit`` counts ``history.accuracy``.

        A loss that classifies counts by its own rule (:meth:`Loss.truth`
        and :meth:`Loss.correct`):

        - ``cross_entropy``: a row is right when its most probable class is
          the target's (its label, or its largest probability);
        - ``binary_cross_entropy``: every output is its own yes/no question,
          answered yes at ``p >= 0.5`` and right when the target is too
          (``>= 0.5``); with several outputs each output of each row counts
          once, so this is not the argmax of :meth:`classify`.

        Any other loss (the lesson's MSE) counts :meth:`classify`'s labels:
        with one output, right when ``p >= 0.5`` for a target of 1 and
        below for a 0; with several, right when the largest output is the
        target row's 1.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_in)
        y : array-like
            Targets as :meth:`loss` takes them, and refused as it refuses
            them (a label that is no class, a target outside [0, 1]); for a
            loss that does not classify, 0/1 targets of shape (n_samples,)
            or (n_samples, 1) for one output, one-hot rows of shape
            (n_samples, n_out) for several.

        Returns
        -------
        float
        """
        return float(self._accuracy(X, y))

    def _outputs(self, X: ArrayLike) -> FloatArray:
        return self.predict(X)

    def fit(
        self,
        X: ArrayLike,
        y: ArrayLike,
        *,
        epochs: int | None = None,
        learning_rate: float | None = None,
        batch_size: int | None = None,
        optimizer: Optimizer | None = None,
        shuffle: bool = True,
        seed: SeedLike = None,
        validation_data: tuple[ArrayLike, ArrayLike] | None = None,
        patience: int | None = None,
        min_delta: float = 0.0,
        restore_best: bool = False,
        log_every: int | None = None,
        callback: EpochCallback | None = None,
        progress: bool = False,
    ) -> History:
        """Train; see :func:`matnn.training.fit` for every argument.

        ``callback(record)`` is called after every epoch (every L-BFGS
        iteration) with a :class:`matnn.EpochRecord` (``epoch``, ``loss``,
        ``val_loss``, ``accuracy``, ``val_accuracy`` as floats or None, and
        this network); returning False stops training, None or True go on.
        ``log_every=k`` prints the loss after epochs 0, k, 2k, ...
        ``progress=True`` shows a progress bar (a widget in Jupyter).

        Returns
        -------
        History
        """
        return fit(self, X, y, epochs=epochs, learning_rate=learning_rate,
                   batch_size=batch_size, optimizer=optimizer, shuffle=shuffle, seed=seed,
                   validation_data=validation_data, patience=patience, min_delta=min_delta,
                   restore_best=restore_best, log_every=log_every, callback=callback,
                   progress=progress)

    # -- training (see matnn.training) -----------------------------------------

    _members = None

    @classmethod
    def _overrides(cls) -> list[str]:
        """Which of ``loss`` and ``gradients`` this class overrides (a student's own passes)."""
        return [m for m in ("loss", "gradients") if getattr(cls, m) is not getattr(Network, m)]

    @property
    def _buffer(self) -> FloatArray:
        return self._params

    @contextlib.contextmanager
    def _run(self, optimizer: StepOptimizer, batch_size: int, n: int) -> Iterator[_NetworkRun]:
        """The run of one ``fit`` (see :class:`matnn.training.Run`)."""
        optimizer.check(self._params)
        yield _NetworkRun(self, optimizer, batch_size, n)

    # -- internals on validated arrays ---------------------------------------

    def _loss(self, X: FloatArray, Y: FloatArray, ws: Workspace | None = None) -> float:
        if ws is None:
            ws = self._engine.workspace(block_rows(X.shape[0], self.sizes), self.dtype)
        return float(loss_total(self._engine, X, Y, ws)) / self.loss_fn.count(Y)

    def _gradients(
        self, X: FloatArray, Y: FloatArray
    ) -> tuple[FloatArray, list[tuple[FloatArray, FloatArray]]]:
        flat, grads = Products().flat(self.sizes, self.dtype)
        ws = self._engine.workspace(block_rows(X.shape[0], self.sizes), self.dtype)
        gradient(self._engine, X, Y, ws, flat, grads)
        return flat, grads


def _labels_of(P: FloatArray) -> NDArray[np.integer[Any]]:
    """Class labels from outputs (n, k): argmax, or ``p >= 0.5`` when k == 1."""
    if P.shape[-1] == 1:
        return (P[..., 0] >= 0.5).astype(np.int64)
    return np.argmax(P, axis=-1)
