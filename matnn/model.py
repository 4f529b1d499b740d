"""What a :class:`~matnn.Network` and an :class:`~matnn.Ensemble` share.

Both are layers of one architecture over one flat parameter buffer (an
ensemble's has a trailing member axis), a loss, and an
:class:`~matnn.backprop.Engine` that runs the passes over that buffer. This
base holds what does not depend on how many networks there are: the
description (``n_in``, ``n_out``, ``activations``, ``repr``), the checks that
turn user data into arrays for the passes, and pickling (the engine and the
layers are views into the buffer, rebuilt after a copy or a load).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from ._typing import ArrayLike, FloatArray, NDArray
from .activations import Activation
from .backprop import Engine, Workspace, gradient, loss_total
from .losses import LOSSES, Loss
from .validation import check_features, check_samples

__all__ = ["Model"]


class Model:
    """Base of :class:`~matnn.Network` and :class:`~matnn.Ensemble`.

    A subclass sets ``sizes``, ``dtype``, ``loss_fn`` and ``_activations``
    (the :class:`~matnn.Activation` of every layer), names its flat
    parameter buffer ``_buffer`` and, in ``_build``, makes ``_engine`` and
    ``layers`` views into it. For ``fit`` (see :func:`matnn.training.fit`)
    it has ``_members`` (None, or an ensemble's member count) and
    ``_run(optimizer, batch_size, n)``, a context manager that yields the
    :class:`matnn.training.Run` of one call.

    Attributes
    ----------
    sizes : tuple of int
        ``(n_in, n_hidden..., n_out)``; ``(2, 2, 1)`` for the lesson.
    dtype : numpy dtype
        float32 or float64; every computation runs in it.
    loss_fn : Loss
    """

    sizes: tuple[int, ...]
    dtype: np.dtype[Any]
    loss_fn: Loss
    layers: tuple[Any, ...]
    _activations: tuple[Activation, ...]
    _engine: Engine
    _build: Callable[[], None]

    if TYPE_CHECKING:
        # What a subclass provides (as properties or class attributes).
        @property
        def _buffer(self) -> FloatArray: ...
        @property
        def _members(self) -> int | None: ...
        def _outputs(self, X: FloatArray) -> FloatArray: ...

    @property
    def n_in(self) -> int:
        return self.sizes[0]

    @property
    def n_out(self) -> int:
        return self.sizes[-1]

    @property
    def activations(self) -> tuple[str, ...]:
        """The activation name of every layer."""
        return tuple(act.name for act in self._activations)

    def __repr__(self) -> str:
        acts = self.activations
        act = acts[0] if len(set(acts)) == 1 else list(acts)
        fields = self._repr_fields(f"sizes={self.sizes}", f"activation={act!r}")
        return f"{type(self).__name__}({', '.join(fields)})"

    def _repr_fields(self, sizes: str, activation: str) -> list[str]:
        """The ``name=value`` fields of :meth:`__repr__`, given the shared two."""
        return [sizes, activation, f"dtype={self.dtype}"]

    # Copies and pickles rebuild the engine and the layers as views into
    # the copied buffer.
    def __getstate__(self) -> dict[str, Any]:
        state = dict(vars(self))
        del state["layers"], state["_engine"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)
        self._build()

    def _prepare(
        self, X: ArrayLike, y: ArrayLike, name: str = "X", target_name: str = "y"
    ) -> tuple[FloatArray, FloatArray]:
        """``X`` and targets as arrays of the model's dtype, or a clear error.

        ``name`` and ``target_name`` are how the errors name the two.

        Returns
        -------
        X : ndarray of shape (n_samples, n_in), n_samples >= 1
        Y : ndarray
            What ``loss_fn.targets`` makes of ``y``: shape (n_samples, n_out)
            (see :meth:`matnn.Ensemble._prepare` for an ensemble's).
        """
        X = check_samples(check_features(X, self.n_in, self.dtype, name=name), name)
        return X, self.loss_fn.targets(y, X.shape[0], self.n_out, self.dtype, name=target_name)

    def _accuracy(self, X: ArrayLike, y: ArrayLike) -> Any:
        """The fraction of right answers (one per member), as :meth:`Network.accuracy` counts."""
        X, Y = self._prepare(X, y)
        rule = self.loss_fn if self.loss_fn.classifies else _class_rule(Y, self.loss_fn.name)
        return rule.correct(rule.truth(Y), self._outputs(X)) / rule.count(Y)

    def _training_data(self, data: ArrayLike, y: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """:meth:`_prepare` for ``fit``: copies where the arrays share memory with the parameters.

        Training on a view of the model's own weights would train on data
        that changes under it.
        """
        X, Y = self._prepare(data, y)
        if np.shares_memory(X, self._buffer):
            X = X.copy()
        if np.shares_memory(Y, self._buffer):
            Y = Y.copy()
        return X, Y


def stuck(
    engine: Engine,
    X: FloatArray,
    Y: FloatArray,
    ws: Workspace,
    output_grads: Sequence[tuple[FloatArray, FloatArray]] | None = None,
) -> np.bool_ | NDArray[np.bool_]:
    """Whether no gradient flows: the batch gradient is exactly 0 while the loss is not.

    Sigmoid or tanh units saturated at their limits (``f'`` exactly 0 there)
    and dead relu units leave a network here, and no gradient step moves it
    again; its parameters stay finite, so nothing diverges. ``fit`` warns
    when a network ends here, saying so when it started here too.

    ``output_grads``, the views of a gradient whose output layer
    :func:`~matnn.backprop.loss_total` filled over the same ``X``, ``Y``
    and ``ws`` at the current parameters, settles it for every member with
    a nonzero entry there: that entry is in the full gradient too, bit for
    bit. Only when some member's output layer has none is the full
    gradient computed.

    Returns
    -------
    bool, or for an ensemble's (stacked) engine ndarray of bool of shape (n_members,)
    """
    if output_grads is not None:
        dW, db = output_grads[-1]
        flowing = dW.any(axis=(0, 1)) | db.any(axis=0)
        if flowing.all():
            return ~flowing
    flat, grads = engine.products.flat(engine.sizes, X.dtype)
    gradient(engine, X, Y, ws, flat, grads)
    zero = ~flat.any(axis=0)
    if not zero.any():
        return zero
    return zero & (np.asarray(loss_total(engine, X, Y, ws)) > 0)


def _class_rule(Y: Any, loss: str) -> Loss:
    """The built-in loss that counts :meth:`classify`'s labels, once ``Y`` holds classes.

    For a loss that does not classify (the lesson's MSE): with one output,
    targets of 0 or 1, each right when the output is on its side of 0.5
    (binary cross-entropy's rule); with several, one-hot rows, right when
    the largest output is the row's 1 (cross-entropy's).
    """
    Y = Y.reshape(Y.shape[:2])
    if Y.shape[1] == 1:
        bad = np.flatnonzero((Y[:, 0] != 0) & (Y[:, 0] != 1))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"accuracy counts classes: with the {loss} loss and one output, y must hold 0 "
                f"or 1, but y[{i}] is {Y[i, 0]:g}"
            )
        return LOSSES["binary_cross_entropy"]
    bad = np.flatnonzero(~(((Y == 0) | (Y == 1)).all(axis=1) & (Y.sum(axis=1) == 1)))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"accuracy counts classes: with the {loss} loss and {Y.shape[1]} outputs, y must "
            f"be one-hot rows (a single 1, the rest 0), but row {i} is {Y[i].tolist()}"
        )
    return LOSSES["cross_entropy"]
