"""MLPRegressor: scikit-learn's multi-layer perceptron regressor, trained by matnn.

Real targets, one output unit per target: the identity output on half the
squared error, or the exponential on half the Poisson deviance; everything
else is the shared :class:`matnn.sklearn._base._MLP`.
"""

from __future__ import annotations
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils import column_or_1d
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import validate_data

from ._base import _MLP
from .._typing import ArrayLike, FloatArray, MatrixLike, NDArray
from ..activations import ActivationArg
from ..optimizer_base import Optimizer

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["MLPRegressor"]


class MLPRegressor(RegressorMixin, _MLP):
    """A multi-layer perceptron regressor: scikit-learn's, trained by matnn.

    Same parameters, defaults and fitted attributes as
    ``sklearn.neural_network.MLPRegressor`` 1.9, and the same fitted model
    from the same data and ``random_state``; every parameter but ``loss``
    is as in :class:`MLPClassifier`.

    Parameters
    ----------
    loss : {"squared_error", "poisson"}, default="squared_error"
        Half the squared error with an identity output, or half the Poisson
        deviance with an exponential output (targets >= 0).

    Attributes
    ----------
    As :class:`MLPClassifier`'s, without ``classes_``; ``validation_scores_``
    holds R^2 scores. ``network_.predict(X)`` equals ``predict(X)`` (as a
    column for one output).

    Examples
    --------
    >>> import numpy as np
    >>> from matnn.sklearn import MLPRegressor
    >>> X = np.linspace(-1, 1, 50)[:, None]
    >>> reg = MLPRegressor((8,), solver="lbfgs", random_state=0).fit(X, X[:, 0] ** 2)
    >>> reg.predict(X[:3]).shape
    (3,)
    """

    _parameter_constraints: dict = {
        **_MLP._parameter_constraints,
        "loss": [StrOptions({"squared_error", "poisson"})],
    }

    def __init__(
        self,
        loss: str = "squared_error",
        hidden_layer_sizes: int | Sequence[int] = (100,),
        activation: ActivationArg = "relu",
        *,
        solver: str | Optimizer = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: int | np.random.RandomState | None = None,
        tol: float = 1e-4,
        verbose: bool = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
    ) -> None:
        self.loss = loss
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun

    _score_function = staticmethod(r2_score)

    def _check_solver(self) -> bool:
        # scikit-learn's regressor offers partial_fit with every solver.
        return True

    def _objective_name(self) -> str:
        return self.loss

    def _output_name(self) -> str:
        return "exp" if self.loss == "poisson" else "identity"

    def _validate_input(self, X: Any, y: Any, incremental: bool, reset: bool) -> tuple[Any, Any]:
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _labels(self, Y: NDArray[Any]) -> NDArray[Any]:
        return Y[:, 0] if Y.shape[1] == 1 else Y

    def _from_outputs(self, P: FloatArray) -> FloatArray:
        return P[:, 0] if P.shape[1] == 1 else P

    def predict(self, X: MatrixLike) -> FloatArray:
        """The predicted targets.

        Parameters
        ----------
        X : array-like or scipy sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,), or (n_samples, n_outputs) for several outputs
        """
        return self._from_outputs(self._validated_outputs(X))

    @available_if(lambda est: est._check_solver())
    def partial_fit(
        self, X: MatrixLike, y: ArrayLike, sample_weight: ArrayLike | None = None
    ) -> Self:
        """One epoch over ``X`` and ``y``, from where the model is.

        As in scikit-learn, with lbfgs this is a whole L-BFGS run, started
        from the current parameters.

        Parameters
        ----------
        X : array-like or scipy sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        self
        """
        self._validate_params()
        return self._fit(X, y, sample_weight, incremental=True)
