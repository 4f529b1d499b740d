"""How scikit-learn's MLP trains, in matnn's terms, on matnn's engine.

scikit-learn's MLPClassifier and MLPRegressor train the network matnn
trains, with choices of their own that decide every number of the result:

- *the start*: each layer draws its weights, then its biases, uniformly
  from ``[-r, r]`` with ``r = sqrt(6 / (fan_in + fan_out))`` (``2``
  instead of ``6`` for a logistic network), from one ``RandomState``, the
  weights drawn in the (fan_in, fan_out) layout, which is ``W.T``;
- *the loss*: half the squared error averaged over rows and outputs; the
  log loss of probabilities clipped to ``[eps, 1 - eps]``; or half the
  Poisson deviance; each a weighted mean over rows when there are sample
  weights. Each is paired with its canonical output (identity, softmax or
  logistic, exp), so the output delta is ``(P - Y)`` times the row's weight;
- *the L2 term*: ``alpha / 2 * sum(W ** 2)`` over the weights (not the
  biases), divided by the batch's total weight, like the gradient;
- *the epoch*: the previous epoch's order shuffled again with the same
  ``RandomState``, cut into consecutive batches; the epoch's loss is the
  mean of its batch losses weighted by their row counts, which is what the
  forward passes of the epoch already computed: nothing is evaluated twice.

This module holds those pieces: :class:`Objective` (a loss with its
output), :class:`WeightedSparseProducts` (the engine's products in
scikit-learn's parameter layout, for weighted rows and sparse inputs),
:class:`SklearnRun` (one step, and the loss and gradient L-BFGS needs),
:class:`ReshuffledOrder` and :func:`initial_layers`;
:class:`SparseProducts` lets the predictions take sparse inputs. The update rules are in
:mod:`matnn.sklearn._optimizers`.
"""

from __future__ import annotations
from typing import TYPE_CHECKING, Any, Callable, Sequence, TypeAlias

import numpy as np
from scipy.linalg import get_blas_funcs
from scipy.special import xlogy

from ..activations import ACTIVATIONS, Activation
from ..backprop import Engine, Grads, Products, Workspace, backward, forward
from ..losses import Loss
from ..network_run import _NetworkRun
from .._typing import DTypeLike, FloatArray, NDArray
from ..optimizer_base import StepOptimizer
from ..training import take_steps

if TYPE_CHECKING:
    from ..network import Network

__all__ = [
    "EXP",
    "HALF_POISSON_DEVIANCE",
    "OBJECTIVES",
    "Objective",
    "ReshuffledOrder",
    "SklearnRun",
    "SparseProducts",
    "WeightedSparseProducts",
    "initial_layers",
]


# -- the Poisson output and loss, for the network a Poisson regressor returns ----

def _exp(Z: FloatArray) -> FloatArray:
    return np.exp(Z)


def _exp_derivative(A: FloatArray) -> FloatArray:
    # d exp(z) / dz = exp(z), the output itself.
    return A


def _poisson_value(Y: FloatArray, P: FloatArray) -> float:
    Y, P = np.asarray(Y, float), np.asarray(P, float)
    return float(np.mean(np.sum(xlogy(Y, Y / P) - Y + P, axis=1)))


def _poisson_gradient(Y: FloatArray, P: FloatArray) -> FloatArray:
    Y, P = np.asarray(Y, float), np.asarray(P, float)
    return (1 - Y / P) / len(Y)


#: The exponential, the output of a Poisson regressor (its inverse link).
EXP = Activation("exp", _exp, _exp_derivative, derivative_from="output")

#: Half the Poisson deviance, ``y log(y / p) - y + p`` summed over the
#: outputs, averaged over the rows; ``p`` must be > 0.
HALF_POISSON_DEVIANCE = Loss("half_poisson_deviance", _poisson_value, _poisson_gradient)


# -- the four losses, each with its canonical output ------------------------------

#: An objective's value ``(Y, P, w, total, scratch) -> float`` (see :class:`Objective`).
ObjectiveValue: TypeAlias = Callable[
    [FloatArray, FloatArray, "FloatArray | None", float, FloatArray], float]


class Objective:
    """One of scikit-learn's MLP losses and the output activation it pairs with.

    Parameters
    ----------
    name : str
        scikit-learn's name for it.
    output : Activation
        The output layer's activation; with it, the loss's derivative with
        respect to the output layer's ``Z`` is ``P - Y`` per row.
    network_loss : str or Loss
        The matnn loss of the same minimiser, for the trained
        :class:`~matnn.Network` the estimator hands out.
    value : callable ``(Y, P, w, total, scratch) -> float``
        The batch's loss: ``Y`` and ``P`` of shape (rows, n_out), ``w`` the
        rows' weights of shape (rows, 1) or None, ``total`` their sum (or
        the number of rows), ``scratch`` like ``P``.
    """

    def __init__(
        self, name: str, output: Activation, network_loss: str | Loss, value: ObjectiveValue
    ) -> None:
        self.name, self.output, self.network_loss, self.value = name, output, network_loss, value


def _weighted_sum(S: FloatArray, w: FloatArray | None, by: FloatArray | None = None) -> Any:
    """The sum of ``S * by`` (``by`` like ``S``, or 1) over rows weighted by ``w``."""
    if w is not None:
        np.multiply(S, w, S)
    # One BLAS dot: the batch-sized sums run once per step.
    return np.vdot(S, S if by is S else by) if by is not None else np.add.reduce(S.ravel())


def _half_squared_error(
    Y: FloatArray, P: FloatArray, w: FloatArray | None, total: float, S: FloatArray
) -> float:
    np.subtract(P, Y, S)
    if w is None:
        squares = np.vdot(S, S)
    else:
        np.multiply(S, S, S)
        squares = _weighted_sum(S, w)
    # A weighted mean over rows, then the mean over outputs, then half.
    return 0.5 * float(squares / total / S.shape[1])


def _half_poisson(
    Y: FloatArray, P: FloatArray, w: FloatArray | None, total: float, S: FloatArray
) -> float:
    np.divide(Y, P, S)
    xlogy(Y, S, out=S)
    np.subtract(S, Y, S)
    np.add(S, P, S)
    return float(_weighted_sum(S, w) / total)


def _clipped_log(P: FloatArray, S: FloatArray) -> FloatArray:
    """``log(clip(P, eps, 1 - eps))`` into ``S``: probabilities of exactly 0 or 1 stay finite."""
    eps = np.finfo(P.dtype).eps
    # The two ufuncs, without np.clip's Python wrapper.
    np.maximum(P, eps, out=S)
    np.minimum(S, 1 - eps, out=S)
    return np.log(S, S)


def _log_loss(
    Y: FloatArray, P: FloatArray, w: FloatArray | None, total: float, S: FloatArray
) -> float:
    # Y is one-hot, so y * log(p) is the class's log-probability and 0 elsewhere.
    return -float(_weighted_sum(_clipped_log(P, S), w, Y) / total)


def _binary_log_loss(
    Y: FloatArray, P: FloatArray, w: FloatArray | None, total: float, S: FloatArray
) -> float:
    # y log(p) + (1 - y) log(1 - p) for 0/1 targets: one of the two terms is
    # exactly 0, so each entry is exactly its class's log-probability.
    other = np.subtract(1, P)
    _clipped_log(other, other)
    np.multiply(other, np.subtract(1, Y), other)
    _clipped_log(P, S)
    np.multiply(S, Y, S)
    np.add(S, other, S)
    return -float(_weighted_sum(S, w) / total)


#: scikit-learn's losses by its names for them.
OBJECTIVES = {
    o.name: o for o in (
        Objective("squared_error", ACTIVATIONS["identity"], "mse", _half_squared_error),
        Objective("poisson", EXP, HALF_POISSON_DEVIANCE, _half_poisson),
        Objective("log_loss", ACTIVATIONS["softmax"], "cross_entropy", _log_loss),
        Objective("binary_log_loss", ACTIVATIONS["sigmoid"], "binary_cross_entropy",
                  _binary_log_loss),
    )
}


class _CanonicalLink(Loss):
    """What the engine needs of a canonical pair: the output delta is ``P - Y``.

    The passes are called with the batch's total weight as the count, so
    the delta is ``(P - Y) / total`` (times each row's weight, see
    :class:`WeightedSparseProducts`) and the gradient they form is that of
    the weighted mean over rows.
    """

    def __init__(self) -> None:
        super().__init__("canonical_link", _poisson_value, _poisson_gradient)

    def fuses(self, output: Activation) -> bool:
        return True


_CANONICAL = _CanonicalLink()

# Looked up once: they run a few times per layer per step.
add, dot, multiply = np.add, np.dot, np.multiply


# -- the products: scikit-learn's layout, weighted rows, sparse inputs ------------

class SparseProducts(Products):
    """A network's products whose first layer may multiply a scipy sparse ``X``.

    The first layer takes ``X @ W.T`` of the sparse matrix itself, so a
    TF-IDF-like input is never made dense. For the estimators' predictions.
    """

    def affine(
        self, l: int, prev: Any, W: FloatArray, b: FloatArray, out: FloatArray, ws: Workspace
    ) -> None:
        if l == 0:
            np.copyto(out, prev @ W.T)
            add(out, b, out)
        else:
            super().affine(l, prev, W, b, out, ws)


class WeightedSparseProducts(Products):
    """The products of :class:`SklearnRun`: scikit-learn's layout, weighted rows, sparse inputs.

    - The layout: each layer's ``coef`` of shape (n_in, n_out), row-major
      (``W.T``, scikit-learn's ``coefs_[l]``), then its ``intercept`` of
      shape (n_out,). Every product then reads a contiguous operand as it is.
    - A dense input is *folded*: its rows carry a last column of ones
      (:meth:`SklearnRun.inputs`), and the first layer's ``coef`` and
      ``intercept``, consecutive in the layout, are one block of shape
      (n_in + 1, n_out). The first layer is then one product, ``X1 @ block``,
      and its gradient ``X1.T @ D`` holds ``dcoef`` and ``dintercept``
      (the block's last row) at once. :meth:`views` gives that block as the
      first layer's weights; :meth:`coefs` gives every layer unfolded.
    - A scipy sparse input (CSR) is not folded: the first layer multiplies
      the sparse ``X`` itself (``X @ coef`` and ``X.T @ D``), so a
      TF-IDF-like matrix is never made dense.
    - Row weights: when :attr:`weights` (shape (rows, 1)) is set, the output
      layer's deltas are multiplied by them before any gradient is formed,
      so every layer's gradient is the weighted sum over rows.

    Parameters
    ----------
    last : int
        The index of the output layer.
    sparse : bool
        Whether the inputs will be scipy sparse matrices.
    """

    def __init__(self, last: int, sparse: bool) -> None:
        self.last, self.sparse, self.fold = last, sparse, not sparse
        self.weights: FloatArray | None = None

    def coefs(self, flat: FloatArray, sizes: Sequence[int]) -> Grads:
        """Views ``[(coef_1, intercept_1), ...]`` into a flat vector (n_params,), none folded."""
        # A network's slices, each read as (n_in, n_out) instead of (n_out, n_in).
        return [(W.reshape(W.shape[::-1]), b) for W, b in super().views(flat, sizes)]

    def views(self, flat: FloatArray, sizes: Sequence[int]) -> Grads:
        """:meth:`coefs`, with a folded first layer's ``coef`` extended by its intercept row."""
        views = self.coefs(flat, sizes)
        if self.fold:
            views[0] = (flat[:(sizes[0] + 1) * sizes[1]].reshape(sizes[0] + 1, sizes[1]),
                        views[0][1])
        return views

    def affine(
        self, l: int, prev: Any, coef: FloatArray, b: FloatArray, out: FloatArray, ws: Workspace
    ) -> None:
        if l == 0 and self.fold:
            # [X, 1] @ [coef; intercept]: the intercept comes with the product.
            dot(prev, coef, out)
        elif l == 0 and self.sparse:
            np.copyto(out, prev @ coef)
            add(out, b, out)
        else:
            # The network's affine, on the view whose transpose is coef.
            super().affine(l, prev, coef.T, b, out, ws)

    def weight_gradients(
        self, l: int, D: FloatArray, prev: Any, dcoef: FloatArray, db: FloatArray, ws: Workspace
    ) -> None:
        if l == self.last and self.weights is not None:
            multiply(D, self.weights, D)
        if l == 0 and self.fold:
            # db is the block's last row: X1's column of ones summed D's rows into it.
            dot(prev.T, D, dcoef)
        elif l == 0 and self.sparse:
            np.copyto(dcoef, prev.T @ D)
            dot(ws.ones, D, db)
        else:
            dot(prev.T, D, dcoef)
            dot(ws.ones, D, db)

    def back(self, l: int, D: FloatArray, coef: FloatArray, out: FloatArray, ws: Workspace) -> None:
        dot(D, coef.T, out)


def engine_for(
    params: FloatArray,
    sizes: tuple[int, ...],
    activations: Sequence[Activation],
    sparse: bool = False,
) -> Engine:
    """An engine over a network's ``params`` that takes sparse inputs, for the predictions."""
    return Engine(params, tuple(sizes), activations, _CANONICAL,
                  SparseProducts() if sparse else Products())


# -- one step ------------------------------------------------------------------------

class SklearnRun(_NetworkRun):
    """A network's run that trains as scikit-learn's MLP does (see the module).

    A :class:`matnn.training.Run` for :class:`matnn.training.Loop`: its step
    takes ``(X_b, Y_b)`` or ``(X_b, Y_b, w_b)`` with the rows' sample
    weights, adds the L2 term, keeps the batch's loss from the forward pass
    it already made, and steps the optimizer; an epoch's loss is the mean of
    those batch losses weighted by their rows, so no pass is made to
    evaluate it. Parameters that stop being finite do not stop the run:
    scikit-learn trains on, and its estimator reports them at the end.

    The run trains its own flat parameters, :attr:`params`, in
    scikit-learn's layout (:class:`WeightedSparseProducts`), read from the
    network when the run is made and written back into it by
    :meth:`publish` (before every callback) and :meth:`finish`. The
    optimizer's state is in that layout too, from every run to the next.
    The batches' ``X`` are :meth:`inputs` of the data's.

    Parameters
    ----------
    net : Network
        Trained: its parameters are read at the start and written back.
    optimizer : Optimizer
        A step optimizer, or None for a run that only computes
        :meth:`loss_and_gradient` (L-BFGS's objective).
    rows : int
        The most rows a batch (for L-BFGS: the data) will have.
    objective : Objective
    alpha : float >= 0
        The L2 strength.
    sparse : bool
        Whether the batches' ``X`` will be scipy sparse matrices.

    Notes
    -----
    For a batch of rows with weights ``w`` (all 1 without sample weights),
    total weight ``s``, outputs ``P`` and targets ``Y``::

        loss = objective(Y, P, w) + alpha / 2 * sum_l sum(W_l ** 2) / s
        dW_l = (delta_l.T @ A_{l-1} + alpha * W_l) / s
        db_l = (delta_l summed over rows) / s

    with ``delta_L = w * (P - Y)`` and the hidden deltas backpropagated from
    it by the engine. The passes divide ``delta_L`` by ``s`` before any
    product, and the L2 term is ``(alpha / s) * W``, so the gradient needs
    no division of its own. With several outputs the squared error reported is
    averaged over them, while the gradient is that of their sum: both as
    scikit-learn computes them.
    """

    #: scikit-learn's loss; it stands where the network's run has its full-batch objective.
    objective: Objective  # type: ignore[assignment]

    def __init__(
        self,
        net: Network,
        optimizer: StepOptimizer | None,
        rows: int,
        objective: Objective,
        alpha: float,
        sparse: bool = False,
    ) -> None:
        # L-BFGS's objective needs a run without an optimizer.
        super().__init__(net, optimizer, None, rows)  # type: ignore[arg-type]
        # scikit-learn records losses only: the loop computes no accuracy.
        self.classifies = False
        sizes, dtype = net.sizes, net.dtype
        self.products = products = WeightedSparseProducts(len(sizes) - 2, sparse)
        self.params, _ = products.flat(sizes, dtype)
        self.coefs = products.coefs(self.params, sizes)
        for (coef, intercept), (W, b, _) in zip(self.coefs, net._engine.layers):
            np.copyto(coef, W.T)
            np.copyto(intercept, b)
        self.engine = Engine(self.params, tuple(sizes), net._activations, _CANONICAL, products)
        self.objective, self.alpha = objective, float(alpha)
        self.ws = self.engine.workspace(rows, dtype)
        self.scratch = np.empty((rows, sizes[-1]), dtype)
        self.grad, self.grads = products.flat(sizes, dtype)
        # Each layer's weights (not its bias) in the parameters and the
        # gradient, flat: the L2 term's pairs.
        grad_coefs = products.coefs(self.grad, sizes)
        self.l2_pairs = [(coef.reshape(-1), dcoef.reshape(-1))
                         for (coef, _), (dcoef, _) in zip(self.coefs, grad_coefs)]
        self.blas_dot, self.blas_axpy = get_blas_funcs(("dot", "axpy"), (self.params,))
        if optimizer is not None:
            self.update = optimizer.step
            self.step = self.make_step(rows)

    def inputs(self, X: Any) -> Any:
        """The batches' form of ``X`` (n_samples, n_in): with a last column of ones when folded.

        Returns
        -------
        ndarray of shape (n_samples, n_in + 1), or ``X`` itself when sparse
        """
        if not self.products.fold:
            return X
        X1 = np.empty((X.shape[0], X.shape[1] + 1), self.params.dtype)
        X1[:, :-1] = X
        X1[:, -1] = 1
        return X1

    def loss_and_gradient(self, X: Any, Y: FloatArray, w: FloatArray | None = None) -> float:
        """The batch's loss (a float); its gradient is left in :attr:`grad`.

        Parameters
        ----------
        X : ndarray or scipy sparse matrix of shape (rows, n_in)
        Y : ndarray of shape (rows, n_out)
        w : ndarray of shape (rows,), or None for weights of 1
        """
        return self.batch_loss_and_gradient(self.inputs(X), Y, w)

    def batch_loss_and_gradient(self, X: Any, Y: FloatArray, w: FloatArray | None) -> float:
        """:meth:`loss_and_gradient` of a batch already in the form :meth:`inputs` gives."""
        engine, rows = self.engine, X.shape[0]
        ws = self.ws.head(rows, engine)
        P = forward(engine, X, ws)
        total = rows if w is None else w.sum()
        column = None if w is None else w[:, None]
        loss = self.objective.value(Y, P, column, total, self.scratch[:rows])
        self.products.weights = column
        backward(engine, X, Y, total, ws, self.grads)
        if self.alpha:
            # dW += (alpha / total) * W, and the loss gains half of
            # (alpha / total) * sum(W ** 2): one BLAS call each, per layer.
            decay, squares = self.alpha / total, 0.0
            for W, dW in self.l2_pairs:
                self.blas_axpy(W, dW, a=decay)
                squares += float(self.blas_dot(W, W))
            loss += 0.5 * decay * squares
        return loss

    def make_step(self, batch_size: int) -> Callable[..., float]:
        """The step ``(X_b, Y_b[, w_b]) -> loss``: the batch's loss before one update."""
        loss_and_gradient, update = self.batch_loss_and_gradient, self.update
        params, grad = self.params, self.grad

        def step(Xb: Any, Yb: FloatArray, wb: FloatArray | None = None) -> float:
            loss = loss_and_gradient(Xb, Yb, wb)
            update(params, grad)
            return loss

        return step

    # The scikit-learn loop does not diagnose, so it never passes ``last``.
    def epoch(  # type: ignore[override]
        self, batches: list[tuple[Any, ...]], X: Any, Y: FloatArray, truth: Any
    ) -> tuple[float, None, bool]:
        """One pass over ``batches``; the mean of the batch losses, weighted by their rows.

        Cut short, the parameters and the optimizer's state are left at
        the last completed step, as :func:`matnn.training.take_steps` does.
        """
        np.copyto(self.before, self.params)
        self.state = self.optimizer.state_dict()
        step, total = self.step, [0.0]

        def weighted_step(*batch: Any) -> None:
            total[0] += step(*batch) * batch[0].shape[0]

        take_steps(weighted_step, batches, self.restart)
        return total[0] / X.shape[0], None, False

    def publish(self) -> None:
        """Write the parameters into the network, in its layout."""
        for (coef, intercept), (W, b, _) in zip(self.coefs, self.model._engine.layers):
            np.copyto(W, coef.T)
            np.copyto(b, intercept)

    def finish(self) -> None:
        """:meth:`publish`. The optimizer belongs to no buffer: the next run trains a new one."""
        self.publish()

    def objective_with_weights(
        self, X: Any, Y: FloatArray, w: FloatArray | None
    ) -> Callable[[NDArray[np.float64]], tuple[float, FloatArray]]:
        """``p -> (loss, gradient)`` over all of ``X`` with weights ``w``, for L-BFGS.

        ``p`` and the gradient are in the run's layout, :attr:`params`'.
        """
        params, loss_and_gradient, X = self.params, self.batch_loss_and_gradient, self.inputs(X)

        def objective(p: NDArray[np.float64]) -> tuple[float, FloatArray]:
            params[...] = p
            return loss_and_gradient(X, Y, w), self.grad

        return objective


# -- the epochs' order and the start ----------------------------------------------------

class ReshuffledOrder:
    """Each epoch's sample order: the previous one, shuffled again.

    A shuffle strategy for :class:`matnn.training.Loop`. scikit-learn
    shuffles the *previous* order with :func:`sklearn.utils.shuffle` and its
    ``RandomState``, so epoch ``k``'s order depends on every shuffle before
    it. That shuffle draws ``RandomState.permutation(n)`` and takes the
    order's entries in it; so does this, without the input checks.

    Parameters
    ----------
    n : int
    random_state : numpy.random.RandomState
    """

    def __init__(self, n: int, random_state: np.random.RandomState) -> None:
        self.order = np.arange(n)
        self.random_state = random_state

    def __call__(self, n: int) -> NDArray[np.intp]:
        self.order = self.order[self.random_state.permutation(n)]
        return self.order


def initial_layers(
    random_state: np.random.RandomState,
    sizes: Sequence[int],
    factors: Sequence[float],
    dtype: DTypeLike,
) -> list[tuple[FloatArray, FloatArray]]:
    """``[(W, b), ...]`` drawn as scikit-learn's MLP draws its start.

    Parameters
    ----------
    random_state : numpy.random.RandomState
    sizes : sequence of int
        ``(n_in, n_hidden..., n_out)``.
    factors : sequence of float, one per layer
        ``r = sqrt(factor / (fan_in + fan_out))`` bounds the layer's draws:
        6, or 2 for the logistic.
    dtype : float32 or float64

    Returns
    -------
    list of (ndarray of shape (n_out, n_in), ndarray of shape (n_out,))
    """
    layers = []
    for fan_in, fan_out, factor in zip(sizes[:-1], sizes[1:], factors):
        bound = np.sqrt(factor / (fan_in + fan_out))
        coef = random_state.uniform(-bound, bound, (fan_in, fan_out))
        intercept = random_state.uniform(-bound, bound, fan_out)
        layers.append((coef.T.astype(dtype), intercept.astype(dtype)))
    return layers
