"""What matnn.sklearn's two estimators share: parameters, fit, the forward pass.

:class:`_MLP` holds everything of scikit-learn's MLP that does not depend
on the kind of target: its parameters and their constraints, the start,
the L-BFGS fit, the stochastic fit on matnn's :class:`~matnn.training.Loop`
with scikit-learn's bookkeeping after every epoch (the loss curve, the
plateau and early-stopping counts, the learning-rate schedules), and the
forward pass behind ``predict``. :class:`~matnn.sklearn.MLPClassifier` and
:class:`~matnn.sklearn.MLPRegressor` add what their targets need: how ``y``
is validated and encoded, the loss and output, the score.

Beyond scikit-learn's:

- ``activation`` also takes any matnn activation (a name or an
  :class:`~matnn.Activation`), or a list of them, one per hidden layer;
- ``solver`` also takes a matnn optimizer object (a copy of it trains, with
  PyTorch's update rules) or a :class:`matnn.LBFGS`;
- ``network_`` is the trained :class:`matnn.Network` (layer ``i``'s ``W`` is
  ``coefs_[i].T``); ``coefs_`` and ``intercepts_`` are views into it.
"""

from __future__ import annotations

import copy
import numbers
import warnings
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import scipy.sparse
from sklearn.base import BaseEstimator, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ..activations import ACTIVATIONS, Activation, get_activation
from ..backprop import block_rows, outputs
from ..diagnostics import _first_caller_outside_matnn
from ..layers import Dense
from ..lbfgs import LBFGS
from ..network import Network
from ..optimizer_base import Optimizer, StepOptimizer
from ..training import Loop
from ._optimizers import BiasCorrectedStepAdam, VelocitySGD
from ._training import OBJECTIVES, ReshuffledOrder, SklearnRun, engine_for, initial_layers
from .._typing import ArrayLike, DTypeLike, FloatArray, MatrixLike, NDArray

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = []

#: scikit-learn's hidden activations and the matnn built-ins they are.
SKLEARN_ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh",
                       "relu": "relu"}
HIDDEN_ACTIVATIONS = set(SKLEARN_ACTIVATIONS) | (set(ACTIVATIONS) - {"softmax"})
STOCHASTIC = ("sgd", "adam")


class _MLP(BaseEstimator):
    """What the two estimators share: parameters, the fit and the forward pass."""

    _parameter_constraints: dict = {
        "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
        "activation": [StrOptions(HIDDEN_ACTIVATIONS), Activation, list, tuple],
        "solver": [StrOptions({"lbfgs", "sgd", "adam"}), Optimizer],
        "alpha": [Interval(numbers.Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(numbers.Real, 0, None, closed="neither")],
        "power_t": [Interval(numbers.Real, 0, None, closed="left")],
        "max_iter": [Interval(numbers.Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(numbers.Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(numbers.Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_1": [Interval(numbers.Real, 0, 1, closed="left")],
        "beta_2": [Interval(numbers.Real, 0, 1, closed="left")],
        "epsilon": [Interval(numbers.Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left"),
                             Options(numbers.Real, {np.inf})],
        "max_fun": [Interval(numbers.Integral, 1, None, closed="left")],
    }

    # -- the fitted model -------------------------------------------------------------

    @property
    def coefs_(self) -> list[FloatArray]:
        """list of ndarray, ``coefs_[i]`` of shape (n_units[i], n_units[i + 1]): ``W.T`` views."""
        return [layer.W.T for layer in self._network().layers]

    @property
    def intercepts_(self) -> list[FloatArray]:
        """list of ndarray, ``intercepts_[i]`` of shape (n_units[i + 1],): ``b`` views."""
        return [layer.b for layer in self._network().layers]

    def _network(self) -> Network:
        try:
            return vars(self)["network_"]
        except KeyError:
            raise AttributeError(
                f"this {type(self).__name__} is not fitted yet: it has no coefs_ or "
                "intercepts_ before fit"
            ) from None

    def _stochastic(self) -> bool:
        if isinstance(self.solver, Optimizer):
            return not self.solver.full_batch
        return self.solver in STOCHASTIC

    def _check_solver(self) -> bool:
        if not self._stochastic():
            raise AttributeError(
                f"partial_fit is only available for the stochastic solvers ('sgd', 'adam' or "
                f"a matnn optimizer object); {self.solver!r} is not one"
            )
        return True

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        if "_optimizer" in state:
            # A stepping optimizer holds its bound update; its copy holds the state only.
            state["_optimizer"] = state["_optimizer"].copy()
        return state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    # -- fit ------------------------------------------------------------------------------

    def fit(self, X: MatrixLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> Self:
        """Fit the model to ``X`` and ``y``.

        Parameters
        ----------
        X : array-like or scipy sparse matrix (CSR or CSC) of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Class labels (classifier) or real targets (regressor).
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        self._validate_params()
        return self._fit(X, y, sample_weight, incremental=False)

    def _hidden_sizes(self) -> list[int]:
        sizes = self.hidden_layer_sizes
        sizes = list(sizes) if hasattr(sizes, "__iter__") else [sizes]
        if np.any(np.array(sizes) <= 0):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return [int(s) for s in sizes]

    def _hidden_activations(self, n_hidden: int) -> list[Activation]:
        acts = self.activation
        if isinstance(acts, (list, tuple)):
            if len(acts) != n_hidden:
                raise ValueError(
                    f"activation lists {len(acts)} activations but hidden_layer_sizes has "
                    f"{n_hidden} hidden layers; give one, or one per hidden layer"
                )
        else:
            acts = [acts] * n_hidden
        return [get_activation(SKLEARN_ACTIVATIONS.get(a, a) if isinstance(a, str) else a,
                               "activation") for a in acts]

    def _fit(self, X: Any, y: Any, sample_weight: Any, incremental: bool) -> Self:
        hidden = self._hidden_sizes()
        first_pass = "network_" not in vars(self) or not (self.warm_start or incremental)
        X, y = self._validate_input(X, y, incremental, reset=first_pass)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        Y = y.reshape(-1, 1) if y.ndim == 1 else y
        self.n_outputs_ = Y.shape[1]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self._initialize(Y, [X.shape[1], *hidden, self.n_outputs_], X.dtype)
        net = self.network_
        X = _as_dtype(X, net.dtype)
        if scipy.sparse.issparse(X):
            # Batches are rows: CSR slices them without copying the matrix.
            X = X.tocsr()  # type: ignore[attr-defined]  # see _as_dtype
        Y = np.asarray(Y, net.dtype)
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, net.dtype)
        if self._stochastic():
            self._fit_stochastic(X, Y, sample_weight, incremental)
        else:
            self._fit_lbfgs(X, Y, sample_weight)
        if not np.isfinite(net.params).all():
            # The wording scikit-learn's own tests expect.
            raise ValueError(
                "Solver produced non-finite parameter weights. The input data may contain "
                "large values and need to be preprocessed."
            )
        return self

    def _initialize(self, Y: FloatArray, sizes: Sequence[int], dtype: DTypeLike) -> None:
        self.n_iter_ = 0
        self.t_ = 0
        self.n_layers_ = len(sizes)
        self.out_activation_ = self._output_name()
        objective = OBJECTIVES[self._objective_name()]
        hidden = self._hidden_activations(len(sizes) - 2)
        # scikit-learn's bound uses 2 for a logistic network, 6 otherwise; the
        # output layer takes the factor of the layer before it.
        if not hidden:
            hidden_act = self.activation
            logistic = isinstance(hidden_act, str) and hidden_act in ("logistic", "sigmoid")
            factors = [2.0 if logistic else 6.0]
        else:
            factors = [2.0 if act is ACTIVATIONS["sigmoid"] else 6.0 for act in hidden]
            factors.append(factors[-1])
        layers = initial_layers(self._random_state, sizes, factors, dtype)
        self.network_ = Network(
            [Dense(W, b, act) for (W, b), act in zip(layers, [*hidden, objective.output])],
            loss=objective.network_loss)
        self._best_params = self.network_.params.copy()
        if self._stochastic():
            self.loss_curve_: list[float] = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_: list[float] | None = []
                self.best_validation_score_: float | None = -np.inf
                self.best_loss_: float | None = None
            else:
                self.best_loss_ = np.inf
                self.validation_scores_ = None
                self.best_validation_score_ = None

    def _run(self, rows: int, X: Any, optimizer: StepOptimizer | None = None) -> SklearnRun:
        return SklearnRun(self.network_, optimizer, rows, OBJECTIVES[self._objective_name()],
                          self.alpha, scipy.sparse.issparse(X))

    # -- L-BFGS -----------------------------------------------------------------------------

    def _fit_lbfgs(self, X: Any, Y: FloatArray, sample_weight: FloatArray | None) -> None:
        optimizer = (copy.deepcopy(self.solver) if isinstance(self.solver, LBFGS)
                     else LBFGS(max_iter=self.max_iter, tol=self.tol))
        run = self._run(X.shape[0], X)
        # The run's parameters, in its layout; the network gets the result.
        params = run.params
        objective = run.objective_with_weights(X, Y, sample_weight)
        evaluated: dict[bytes, float] = {}
        calls = [0]

        def loss_and_gradient(p: NDArray[np.float64]) -> tuple[float, FloatArray]:
            calls[0] += 1
            with np.errstate(all="ignore"):
                loss, grad = objective(p)
            evaluated.clear()
            evaluated[p.tobytes()] = loss
            return loss, grad

        def report(iteration: int, loss: float, x: NDArray[np.float64]) -> bool:
            if self.verbose:
                print("Iteration %d, loss = %.8f" % (iteration + 1, loss))
            # scipy checks its own maxfun at this very point of an iteration.
            return calls[0] > self.max_fun

        result = optimizer.minimize(loss_and_gradient, params.astype(np.float64),
                                    callback=report)
        params[...] = result.x
        self.n_iter_ = min(result.nit, optimizer.max_iter)
        self.loss_ = evaluated.get(result.x.tobytes())
        if self.loss_ is None:
            self.loss_ = loss_and_gradient(result.x)[0]
        run.finish()
        if not result.success:
            why = (f"{calls[0]} evaluations of the loss passed max_fun={self.max_fun}"
                   if calls[0] > self.max_fun else result.message)
            warnings.warn(
                f"L-BFGS stopped before converging, after {result.nit} iterations: {why}. "
                f"Raise max_iter (now {optimizer.max_iter}) or max_fun, or scale the data "
                "(sklearn.preprocessing.StandardScaler).",
                ConvergenceWarning, stacklevel=_first_caller_outside_matnn(),
            )

    # -- the stochastic solvers -----------------------------------------------------------

    def _new_optimizer(self) -> StepOptimizer:
        if isinstance(self.solver, Optimizer):
            # A stochastic solver's optimizer steps (_check_solver refused the others).
            optimizer: StepOptimizer = copy.deepcopy(self.solver)  # type: ignore[assignment]
            optimizer.reset()
            return optimizer
        if self.solver == "sgd":
            return VelocitySGD(self.learning_rate_init, self.momentum, self.nesterovs_momentum)
        return BiasCorrectedStepAdam(self.learning_rate_init, (self.beta_1, self.beta_2),
                                     self.epsilon)

    def _split(self, X: Any, Y: FloatArray, sample_weight: FloatArray | None) -> tuple[Any, Any]:
        """The training rows and, with early stopping, the validation rows (y as labels)."""
        if not self.early_stopping:
            return (X, Y, sample_weight), None
        # Stratified only for one output: a binary classifier.
        stratify = Y.astype(bool) if is_classifier(self) and self.n_outputs_ == 1 else None
        arrays = (X, Y) if sample_weight is None else (X, Y, sample_weight)
        parts = train_test_split(*arrays, random_state=self._random_state,
                                 test_size=self.validation_fraction, stratify=stratify)
        train, val = parts[0::2], parts[1::2]
        if val[0].shape[0] < 2:
            # The wording scikit-learn's own tests expect.
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size "
                "of your dataset."
            )
        if sample_weight is None:
            train, val = (*train, None), (*val, None)
        return train, val

    def _fit_stochastic(
        self, X: Any, Y: FloatArray, sample_weight: FloatArray | None, incremental: bool
    ) -> None:
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = self._new_optimizer()
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        (X, Y, w), validation = self._split(X, Y, sample_weight)
        if validation is not None:
            Xv, Yv, wv = validation
            validation = (Xv, self._labels(Yv), wv)
        n = X.shape[0]
        if self.batch_size == "auto":
            batch_size = min(200, n)
        else:
            if self.batch_size > n:
                warnings.warn(
                    f"batch_size={self.batch_size} is larger than the {n} training samples; "
                    f"it is clipped to {n}", stacklevel=_first_caller_outside_matnn())
            batch_size = min(self.batch_size, n)
        run = self._run(batch_size, X, self._optimizer)
        X = run.inputs(X)
        order = ReshuffledOrder(n, self._random_state) if self.shuffle else None
        self.n_iter_ = 0
        # matnn's one loop; scikit-learn's bookkeeping after every epoch is
        # the callback, and its convergence reporting replaces matnn's.
        loop = Loop(n, epochs=1 if incremental else self.max_iter, batch_size=batch_size,
                    order=order, diagnose=False,
                    callback=lambda record: self._after_epoch(record.loss, n, validation,
                                                              incremental))
        try:
            # This loop does not diagnose, so the run's epoch needs no ``last``.
            loop.run(run, (X, Y) if w is None else (X, Y, w))  # type: ignore[arg-type]
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by the user (KeyboardInterrupt).",
                          stacklevel=_first_caller_outside_matnn())
        if self.early_stopping and self._best_params is not None:
            self.network_.params[...] = self._best_params
            # scikit-learn then trains its best weights themselves: until a
            # later epoch improves on them, the best are the live parameters.
            self._best_params = None

    def _after_epoch(self, loss: float, n: int, validation: Any, incremental: bool) -> bool:
        """scikit-learn's bookkeeping after an epoch; returns whether to go on."""
        self.n_iter_ += 1
        self.loss_ = loss
        self.t_ += n
        self.loss_curve_.append(loss)
        if self.verbose:
            print("Iteration %d, loss = %.8f" % (self.n_iter_, loss))
        self._count_no_improvement(validation)
        optimizer = self._optimizer
        if self.learning_rate == "invscaling" and isinstance(optimizer, VelocitySGD):
            optimizer.rate = self.learning_rate_init / (self.t_ + 1) ** self.power_t
        if self._no_improvement_count > self.n_iter_no_change:
            what = ("validation score did not improve" if self.early_stopping
                    else "training loss did not improve")
            message = (f"The {what} by more than tol={self.tol:f} for "
                       f"{self.n_iter_no_change} consecutive epochs.")
            if self._plateau_stops(message):
                return False
            self._no_improvement_count = 0
        if incremental:
            return False
        if self.n_iter_ == self.max_iter:
            warnings.warn(
                f"the stochastic solver ran max_iter={self.max_iter} epochs without "
                "converging; raise max_iter, or scale the data "
                "(sklearn.preprocessing.StandardScaler).",
                ConvergenceWarning, stacklevel=_first_caller_outside_matnn(),
            )
        return True

    def _plateau_stops(self, message: str) -> bool:
        """Stop, or with the 'adaptive' schedule divide the rate by 5 and go on."""
        optimizer = self._optimizer
        if self.learning_rate != "adaptive" or not isinstance(optimizer, VelocitySGD):
            if self.verbose:
                print(message + " Stopping.")
            return True
        if optimizer.rate <= 1e-6:
            if self.verbose:
                print(message + " The learning rate is too small. Stopping.")
            return True
        optimizer.rate /= 5.0
        if self.verbose:
            print(message + " Setting the learning rate to %f" % optimizer.rate)
        return False

    def _count_no_improvement(self, validation: Any) -> None:
        # With validation data (early_stopping) the validation scores are kept, else
        # the best loss: the attributes of the other kind are None.
        if validation is not None:
            score = self._validation_score(*validation)
            self.validation_scores_.append(score)  # type: ignore[union-attr]
            if self.verbose:
                print("Validation score: %f" % score)
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:  # type: ignore[operator]
                self.best_validation_score_ = score
                self._best_params = self.network_.params.copy()
        else:
            loss = self.loss_curve_[-1]
            if loss > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if loss < self.best_loss_:  # type: ignore[operator]
                self.best_loss_ = loss

    def _validation_score(self, X: Any, y: Any, sample_weight: Any) -> float:
        predicted = self._from_outputs(self._forward(X))
        # Only real-valued predictions can be NaN; class labels never are.
        if predicted.dtype.kind == "f" and not np.isfinite(predicted).all():
            return np.nan
        return float(self._score_function(y, predicted, sample_weight=sample_weight))

    # -- the forward pass ---------------------------------------------------------------------

    def _forward(self, X: Any) -> FloatArray:
        """The network's outputs for validated ``X``, shape (n_samples, n_outputs_)."""
        net = self.network_
        X = _as_dtype(X, net.dtype)
        if scipy.sparse.issparse(X):
            X = X.tocsr()  # type: ignore[attr-defined]  # see _as_dtype
        engine = engine_for(net.params, net.sizes, net._engine.activations,
                            scipy.sparse.issparse(X))
        n = X.shape[0]
        out = np.empty((n, net.n_out), net.dtype)
        ws = engine.workspace(block_rows(n, net.sizes), net.dtype)
        with np.errstate(all="ignore"):
            return outputs(engine, X, ws, out)

    def _validated_outputs(self, X: MatrixLike) -> FloatArray:
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        return self._forward(X)


def _as_dtype(X: Any, dtype: DTypeLike) -> Any:
    if scipy.sparse.issparse(X):
        # scipy-stubs narrow issparse() to an abstract base that lacks the matrices' methods.
        return X if X.dtype == dtype else X.astype(dtype)  # type: ignore[attr-defined]
    return np.ascontiguousarray(X, dtype=dtype)
