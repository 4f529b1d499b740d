"""Loss functions as objects: a value and its gradient.

A :class:`Loss` is a mean over rows of a per-row loss, ``value(Y, P)``, and
its gradient ``d value / d P``. Users build their own from two callables and
pass the object wherever a built-in name goes (``Network(layers, loss=...)``).

The built-ins:

- ``"mse"``, the lesson's loss and the default: the mean of
  ``(y - p) ** 2`` over every entry, with no factor 1/2.
- ``"cross_entropy"``: the mean over rows of ``-sum_j y_j log p_j``. Targets
  are integer class labels of shape (n,) or probability rows of shape (n, k).
  Each row of ``P`` must be a distribution, so the output activation must be
  row-wise: softmax, or a user's :class:`~matnn.Activation` subclass with
  ``elementwise = False`` and its own ``backward_into``, as softmax has
  (whose rows are then trusted to sum to 1). An elementwise one (sigmoid, or
  any user-defined function of one entry) is refused: each output follows
  its own logit, so only a constant could make every row sum to 1.
- ``"binary_cross_entropy"``: the mean over every entry of
  ``-(y log p + (1 - y) log(1 - p))``, targets in [0, 1]. Its output
  activation is sigmoid, softmax, or a user-defined one whose outputs are
  checked to lie in [0, 1] as it runs.

The two canonical pairs, softmax with cross-entropy and sigmoid with binary
cross-entropy, are *fused*: the output delta is ``(P - Y) / count`` and the
value is computed from the pre-activation ``Z`` (log-sum-exp, softplus), so
both stay finite and exact for logits of any size. Every other pairing takes
the generic path: the loss's gradient, then the activation's backward pass.

Internally every loss is a *sum* divided by a *count* (rows, or every entry
for the elementwise losses), so the passes can add blocks of rows and divide
once, and an ensemble's stacked predictions of shape (rows, k, members) give
one total per member.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._typing import ArrayLike, DTypeLike, FloatArray, LossGradient, LossValue, NDArray, Total
from .activations import ACTIVATIONS, Activation, _shifted_exp, sigmoid
from .validation import as_array, check_targets, object_or_builtin

__all__ = ["Loss", "LOSSES", "get_loss", "mse"]


def mse(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """The lesson's mean squared error over every element.

    Parameters
    ----------
    y_true, y_pred : array-like of the same shape, e.g. (n_samples, n_out)

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


class Loss:
    """A loss: the mean over rows of a per-row loss, and its gradient.

    Parameters
    ----------
    name : str
        Saved with a model; :func:`matnn.load` finds a user-defined loss by
        this name in its ``custom`` argument.
    value : callable ``(Y, P) -> float``
        ``Y`` the targets and ``P`` the network's outputs, both of shape
        (n_samples, n_out); the mean over rows of a per-row loss.
    gradient : callable ``(Y, P) -> ndarray of shape (n_samples, n_out)``
        ``d value / d P``; note the ``1 / n_samples`` of the mean.

    Examples
    --------
    >>> import numpy as np, matnn
    >>> mae_ish = matnn.Loss("log_cosh",
    ...     lambda Y, P: float(np.mean(np.sum(np.log(np.cosh(P - Y)), axis=1))),
    ...     lambda Y, P: np.tanh(P - Y) / len(Y))
    >>> net = matnn.Network.from_sizes([2, 3, 1], seed=0, loss=mae_ish)
    >>> matnn.gradcheck(net, [[0.5, -1.0], [1.0, 2.0]], [1.0, 0.0]).ok
    True
    """

    def __init__(self, name: str, value: LossValue, gradient: LossGradient) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"name must be a non-empty str, got {name!r}")
        for arg, f in (("value", value), ("gradient", gradient)):
            if not callable(f):
                raise TypeError(f"{arg} of loss {name!r} must be callable, got {f!r}")
        self.name = name
        self.value = value
        self.gradient = gradient

    def __repr__(self) -> str:
        return f"Loss({self.name!r})"

    def __copy__(self) -> Loss:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Loss:
        return self

    def __reduce__(self) -> str | tuple[Any, ...]:
        if LOSSES.get(self.name) is self:
            return (get_loss, (self.name,))
        return super().__reduce__()

    # -- what the network calls ------------------------------------------------

    def check_network(self, n_out: int, output: Activation) -> None:
        """Refuse a network this loss cannot train (``output`` is its last Activation)."""

    def targets(
        self, y: ArrayLike, n_samples: int, n_out: int, dtype: DTypeLike, name: str = "y"
    ) -> FloatArray:
        """``y`` as an array of shape (n_samples, n_out) in ``dtype``, or a clear error."""
        return check_targets(y, n_samples, n_out, dtype, name)

    def count(self, Y: FloatArray) -> int:
        """What the mean divides by, for targets ``Y`` of shape (n_samples, n_out)."""
        return Y.shape[0]

    def fuses(self, output: Activation) -> bool:
        """Whether ``(P - Y) / count`` is ``dL/dZ`` of the output layer."""
        return False

    #: Whether this loss trains a classifier, so that ``fit`` records accuracy.
    classifies = False

    def truth(self, Y: FloatArray) -> NDArray[Any]:
        """The right answers in targets ``Y``, as :meth:`correct` compares them.

        Computed once per data set, for a classifying loss.
        """
        raise NotImplementedError(f"loss {self.name!r} does not classify")

    def correct(self, truth: NDArray[Any], P: FloatArray) -> Any:
        """How many predictions in ``P`` are right, against ``truth`` from :meth:`truth`.

        Counted out of :meth:`count`; one count per member for an ensemble.
        """
        raise NotImplementedError(f"loss {self.name!r} does not classify")

    def total(self, Y: FloatArray, P: FloatArray, scratch: FloatArray) -> Total:
        """The sum of the per-row losses (over rows, not divided).

        ``P`` is (rows, n_out), or (rows, n_out, members) for an ensemble,
        with ``Y`` (rows, n_out, 1); the total is then one per member.
        ``scratch`` is shaped like ``P``.
        """
        rows = Y.shape[0]
        if P.ndim == 3:
            Y = Y[:, :, 0]
            return np.array([self._value(Y, P[:, :, k]) for k in range(P.shape[2])]) * rows
        return self._value(Y, P) * rows

    def fused_total(
        self, Y: FloatArray, Z: FloatArray, scratch: FloatArray, out: FloatArray | None = None
    ) -> Total:
        """:meth:`total` from the output layer's logits ``Z``, for a loss that :meth:`fuses`.

        With ``out``, also writes the output activation of ``Z`` there,
        sharing the work the two have in common.
        """
        raise NotImplementedError(f"loss {self.name!r} fuses with no output activation")

    def gradient_into(
        self, Y: FloatArray, P: FloatArray, count: int, out: FloatArray
    ) -> FloatArray:
        """Write the gradient of the *whole batch's* mean with respect to ``P`` into ``out``.

        ``P`` may be a block of ``rows`` rows of a batch of ``count`` rows:
        the block's mean gradient is scaled by ``rows / count``.
        """
        scale = Y.shape[0] / count
        if P.ndim == 3:
            Y = Y[:, :, 0]
            for k in range(P.shape[2]):
                out[:, :, k] = self._gradient(Y, P[:, :, k])
        else:
            out[...] = self._gradient(Y, P)
        if scale != 1:
            np.multiply(out, scale, out)
        return out

    def _value(self, Y: FloatArray, P: FloatArray) -> float:
        v = self.value(Y, P)
        if np.ndim(v) != 0:
            raise ValueError(f"the value of loss {self.name!r} must be a number, got shape {np.shape(v)}")
        return float(v)

    def _gradient(self, Y: FloatArray, P: FloatArray) -> NDArray[Any]:
        g = np.asarray(self.gradient(Y, P))
        if g.shape != P.shape:
            raise ValueError(
                f"the gradient of loss {self.name!r} returned shape {g.shape}; it must have "
                f"the predictions' shape {P.shape}"
            )
        return g


def _sum(x: FloatArray) -> Total:
    """Sum over rows and units; one per member for an ensemble's 3-D arrays."""
    return x.sum(axis=(0, 1)) if x.ndim == 3 else float(x.sum())


class _MSE(Loss):
    """The lesson's MSE: a mean over every entry, so its count is ``Y.size``."""

    def __init__(self) -> None:
        super().__init__("mse", mse, lambda Y, P: 2 * (np.asarray(P) - np.asarray(Y)) / np.size(Y))

    def count(self, Y: FloatArray) -> int:
        return Y.size

    def total(self, Y: FloatArray, P: FloatArray, scratch: FloatArray) -> Total:
        np.subtract(P, Y, scratch)
        if P.ndim == 3:
            np.multiply(scratch, scratch, scratch)
            return scratch.sum(axis=(0, 1))
        return float(np.vdot(scratch, scratch))

    def gradient_into(
        self, Y: FloatArray, P: FloatArray, count: int, out: FloatArray
    ) -> FloatArray:
        # The lesson's d_L_d_ypred = -2 (y_true - y_pred), divided by the
        # number of averaged entries; kept in this order for bit-identity
        # with the scalar shim.
        np.subtract(P, Y, out)
        return np.multiply(out, 2 / count, out)


class _Probabilistic(Loss):
    """Shared by the cross-entropies: predictions must be probabilities."""

    #: The built-in output activations whose outputs lie in [0, 1].
    PROBABILITY_OUTPUTS = ("sigmoid", "softmax")
    FUSED_OUTPUT = ""

    def check_network(self, n_out: int, output: Activation) -> None:
        builtin = ACTIVATIONS.get(output.name) is output
        if builtin and output.name not in self.PROBABILITY_OUTPUTS:
            raise ValueError(
                f"{self.name} needs probabilities from the output layer, but its activation "
                f"is {output.name!r}; use {self.FUSED_OUTPUT!r} on the output layer"
            )

    def fuses(self, output: Activation) -> bool:
        return output is ACTIVATIONS[self.FUSED_OUTPUT]

    def _probabilities(self, P: FloatArray) -> None:
        if not ((P >= 0).all() and (P <= 1).all()):
            raise ValueError(
                f"{self.name} needs predictions in [0, 1], got values from "
                f"{float(np.min(P)):g} to {float(np.max(P)):g}; the output activation must "
                "give probabilities"
            )


def _clamped_log(P: FloatArray, out: FloatArray) -> FloatArray:
    # log(0) would be -inf with a warning; the smallest normal number keeps
    # the loss finite (about -708 in float64, -87 in float32).
    np.maximum(P, np.finfo(P.dtype).tiny, out=out)
    return np.log(out, out)


class _CrossEntropy(_Probabilistic):
    FUSED_OUTPUT = "softmax"
    classifies = True

    def truth(self, Y: FloatArray) -> NDArray[Any]:
        # Each row's class: (rows,), or (rows, 1) beside an ensemble's members.
        return np.argmax(Y, axis=1)

    def correct(self, truth: NDArray[Any], P: FloatArray) -> Any:
        # The most probable class against the target's; rows (axis 0) summed.
        return (np.argmax(P, axis=1) == truth).sum(axis=0)

    def __init__(self) -> None:
        super().__init__("cross_entropy", self._public_value, self._public_gradient)

    def check_network(self, n_out: int, output: Activation) -> None:
        if n_out < 2:
            raise ValueError(
                "cross_entropy needs a network with one output per class (at least 2); "
                "for two classes with one output use binary_cross_entropy and a sigmoid"
            )
        # An elementwise f gives each output from its own logit, so no f
        # but a constant makes every row sum to 1; only a row-wise one can.
        if output.elementwise:
            raise ValueError(
                f"cross_entropy needs each output row to be a probability distribution "
                f"(summing to 1), but the output activation {output.name!r} is elementwise: "
                "its outputs need not sum to 1, and the loss falls to 0 as they all go to 1; "
                "use 'softmax' on the output layer (or binary_cross_entropy for independent "
                "yes/no outputs)"
            )

    def targets(
        self, y: ArrayLike, n_samples: int, n_out: int, dtype: DTypeLike, name: str = "y"
    ) -> FloatArray:
        arr = as_array(y, name)
        if arr.ndim == 1:
            # as_array has turned booleans into floats; look at what was given.
            if np.asarray(y).dtype.kind == "b":
                raise ValueError(f"{name} must hold integer class labels, got booleans")
            return _one_hot(arr, n_samples, n_out, dtype, name)
        Y = check_targets(arr, n_samples, n_out, dtype, name)
        if (Y < 0).any():
            i = tuple(int(v) for v in np.argwhere(Y < 0)[0])
            raise ValueError(f"{name} holds probability rows, but {name}[{i[0]}, {i[1]}] = {Y[i]} is negative")
        sums = Y.sum(axis=1)
        bad = np.flatnonzero(np.abs(sums - 1) > np.sqrt(np.finfo(dtype).eps))
        if bad.size:
            row = int(bad[0])
            raise ValueError(
                f"{name} holds probability rows of shape (n, {n_out}) that must each sum to 1, "
                f"but row {row} sums to {sums[row]:.6g}; pass class labels of shape (n,) instead "
                "if these are not probabilities"
            )
        return Y

    def total(self, Y: FloatArray, P: FloatArray, scratch: FloatArray) -> Total:
        self._probabilities(P)
        _clamped_log(P, scratch)
        np.negative(scratch, scratch)
        np.multiply(scratch, Y, scratch)
        return _sum(scratch)

    def fused_total(
        self, Y: FloatArray, Z: FloatArray, scratch: FloatArray, out: FloatArray | None = None
    ) -> Total:
        # -sum_j y_j log softmax(z)_j = sum_j y_j (logsumexp(z) - z_j), where
        # logsumexp(z) = max z + log(sum exp(z - max z)): softmax's own terms.
        top, sums = _shifted_exp(Z, scratch)
        if out is not None:
            np.divide(scratch, sums, out)
        lse = np.log(sums, sums)
        np.add(lse, top, lse)
        np.subtract(lse, Z, scratch)
        np.multiply(scratch, Y, scratch)
        return _sum(scratch)

    def gradient_into(
        self, Y: FloatArray, P: FloatArray, count: int, out: FloatArray
    ) -> FloatArray:
        self._probabilities(P)
        np.maximum(P, np.finfo(P.dtype).tiny, out=out)
        np.divide(Y, out, out)
        return np.multiply(out, -1 / count, out)

    def _public_value(self, Y: ArrayLike, P: ArrayLike) -> float:
        Y, P = _pair(Y, P)
        return float(self.total(Y, P, np.empty_like(P))) / Y.shape[0]

    def _public_gradient(self, Y: ArrayLike, P: ArrayLike) -> FloatArray:
        Y, P = _pair(Y, P)
        return self.gradient_into(Y, P, Y.shape[0], np.empty_like(P))


class _BinaryCrossEntropy(_Probabilistic):
    FUSED_OUTPUT = "sigmoid"
    classifies = True

    def truth(self, Y: FloatArray) -> NDArray[Any]:
        return Y >= 0.5

    def correct(self, truth: NDArray[Any], P: FloatArray) -> Any:
        # Every output is its own yes/no question, answered yes at p >= 0.5.
        return ((P >= 0.5) == truth).sum(axis=(0, 1))

    def __init__(self) -> None:
        super().__init__("binary_cross_entropy", self._public_value, self._public_gradient)

    def targets(
        self, y: ArrayLike, n_samples: int, n_out: int, dtype: DTypeLike, name: str = "y"
    ) -> FloatArray:
        Y = check_targets(y, n_samples, n_out, dtype, name)
        bad = (Y < 0) | (Y > 1)
        if bad.any():
            i = tuple(int(v) for v in np.argwhere(bad)[0])
            raise ValueError(
                f"binary_cross_entropy needs targets in [0, 1], but {name} at index {i} is {Y[i]}"
            )
        return Y

    def count(self, Y: FloatArray) -> int:
        return Y.size

    def fused_total(
        self, Y: FloatArray, Z: FloatArray, scratch: FloatArray, out: FloatArray | None = None
    ) -> Total:
        if out is not None:
            sigmoid.forward_into(Z, out)
        # -(y log s(z) + (1 - y) log(1 - s(z))) = softplus(z) - y z
        # Subtracted entry by entry: the difference of the two sums would
        # cancel away small losses beside large, right logits.
        np.logaddexp(0, Z, scratch)
        np.subtract(scratch, np.multiply(Y, Z), scratch)
        return _sum(scratch)

    def total(self, Y: FloatArray, P: FloatArray, scratch: FloatArray) -> Total:
        self._probabilities(P)
        log_p = _clamped_log(P, np.empty_like(P))
        _clamped_log(1 - P, scratch)
        # y log p + (1 - y) log(1 - p), written as log(1 - p) + y (log p - log(1 - p))
        np.subtract(log_p, scratch, log_p)
        np.multiply(log_p, Y, log_p)
        np.add(scratch, log_p, scratch)
        return -_sum(scratch)

    def gradient_into(
        self, Y: FloatArray, P: FloatArray, count: int, out: FloatArray
    ) -> FloatArray:
        # d/dp = (p - y) / (p (1 - p)), the denominator kept off 0
        self._probabilities(P)
        np.subtract(1, P, out)
        np.multiply(out, P, out)
        np.maximum(out, np.finfo(P.dtype).tiny, out=out)
        np.divide(P - Y, out, out)
        return np.multiply(out, 1 / count, out)

    def _public_value(self, Y: ArrayLike, P: ArrayLike) -> float:
        Y, P = _pair(Y, P)
        return float(self.total(Y, P, np.empty_like(P))) / Y.size

    def _public_gradient(self, Y: ArrayLike, P: ArrayLike) -> FloatArray:
        Y, P = _pair(Y, P)
        return self.gradient_into(Y, P, Y.size, np.empty_like(P))


def _pair(Y: ArrayLike, P: ArrayLike) -> tuple[FloatArray, FloatArray]:
    P = np.asarray(P, dtype=np.result_type(np.asarray(P).dtype, np.float32))
    Y = np.asarray(Y, dtype=P.dtype)
    if Y.shape != P.shape or P.ndim != 2:
        raise ValueError(
            f"Y and P must both have shape (n_samples, n_out), got {Y.shape} and {P.shape}"
        )
    return Y, P


def _one_hot(
    labels: FloatArray, n_samples: int, n_out: int, dtype: DTypeLike, name: str
) -> FloatArray:
    """Integer class labels of shape (n_samples,) as one-hot rows (n_samples, n_out)."""
    if labels.shape[0] != n_samples:
        raise ValueError(
            f"X has {n_samples} samples but {name} has {labels.shape[0]} labels; "
            "they must have the same length"
        )
    if (labels != np.round(labels)).any():
        raise ValueError(
            f"{name} must hold integer class labels in [0, {n_out}) (or probability rows of "
            f"shape (n, {n_out})), got non-integer values"
        )
    out = (labels < 0) | (labels >= n_out)
    if out.any():
        i = int(np.flatnonzero(out)[0])
        raise ValueError(
            f"{name}[{i}] = {labels[i]:g} is not a class label of this {n_out}-output network; "
            f"labels must be integers in [0, {n_out})"
        )
    Y = np.zeros((n_samples, n_out), dtype)
    Y[np.arange(n_samples), labels.astype(np.intp)] = 1
    return Y


#: The built-in losses by name.
LOSSES: dict[str, Loss] = {
    loss.name: loss for loss in (_MSE(), _CrossEntropy(), _BinaryCrossEntropy())
}


def get_loss(loss: str | Loss, name: str = "loss") -> Loss:
    """A :class:`Loss`: the object itself, or the built-in of that name."""
    return object_or_builtin(loss, Loss, LOSSES, name, (Activation, ACTIVATIONS))
