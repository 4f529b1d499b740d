"""MLPClassifier: scikit-learn's multi-layer perceptron classifier, trained by matnn.

The classes are encoded as scikit-learn encodes them (a ``LabelBinarizer``:
a softmax over the classes for a multiclass target, one logistic unit per
output for a binary or multilabel one); everything else is the shared
:class:`matnn.sklearn._base._MLP`.
"""

from __future__ import annotations
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import column_or_1d
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import validate_data

from ._base import _MLP
from .._typing import ArrayLike, FloatArray, MatrixLike, NDArray
from ..activations import ActivationArg
from ..optimizer_base import Optimizer

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["MLPClassifier"]


class MLPClassifier(ClassifierMixin, _MLP):
    """A multi-layer perceptron classifier: scikit-learn's, trained by matnn.

    Same parameters, defaults and fitted attributes as
    ``sklearn.neural_network.MLPClassifier`` 1.9, and the same fitted model
    from the same data and ``random_state``. The output is a softmax over
    the classes (multiclass) or one logistic unit per output (binary,
    multilabel), trained on the log loss plus ``alpha / 2`` times the
    squared weights.

    Parameters
    ----------
    hidden_layer_sizes : int or array-like of int, default=(100,)
        The width of each hidden layer.
    activation : str, Activation, or a list of them, default="relu"
        The hidden layers' activation: scikit-learn's "identity", "logistic",
        "tanh", "relu", or any matnn activation name or object; a list gives
        one per hidden layer.
    solver : {"lbfgs", "sgd", "adam"}, matnn Optimizer or matnn.LBFGS, default="adam"
        scikit-learn's solvers; a matnn optimizer object trains a copy of
        itself with its own (PyTorch's) rule, and a ``matnn.LBFGS`` its own
        ``max_iter`` and ``tol``.
    alpha : float >= 0, default=1e-4
        L2 strength; the term is divided by the batch's total weight.
    batch_size : int >= 1 or "auto", default="auto"
        ``min(200, n_samples)`` for "auto". Not used by lbfgs.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        The schedule of "sgd": constant; ``learning_rate_init / (t_ + 1) **
        power_t`` after each epoch; or divided by 5 whenever
        ``n_iter_no_change`` epochs pass without improving by ``tol``.
    learning_rate_init : float > 0, default=1e-3
    power_t : float >= 0, default=0.5
    max_iter : int >= 1, default=200
        Epochs for the stochastic solvers, iterations for lbfgs.
    shuffle : bool, default=True
    random_state : None, int or numpy.random.RandomState, default=None
        Seeds the start, the validation split and the shuffles.
    tol : float >= 0, default=1e-4
    verbose : bool or int, default=False
    warm_start : bool, default=False
    momentum : float in [0, 1], default=0.9
    nesterovs_momentum : bool, default=True
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified for a
        binary target) and stop when its accuracy stops improving by ``tol``.
    validation_fraction : float in [0, 1), default=0.1
    beta_1, beta_2 : float in [0, 1), default=0.9, 0.999
    epsilon : float > 0, default=1e-8
    n_iter_no_change : int >= 1 or inf, default=10
    max_fun : int >= 1, default=15000
        lbfgs's most evaluations of the loss.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    loss_ : float
    best_loss_ : float or None
    loss_curve_ : list of float, one per epoch
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    t_ : int
        Training samples seen.
    coefs_ : list of ndarray, ``coefs_[i]`` of shape (n_units[i], n_units[i + 1])
    intercepts_ : list of ndarray, ``intercepts_[i]`` of shape (n_units[i + 1],)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
    n_iter_ : int
    n_layers_ : int
    n_outputs_ : int
    out_activation_ : str
    network_ : matnn.Network
        The trained network; ``network_.predict(X)`` gives the outputs
        ``predict_proba`` is made of.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from matnn.sklearn import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((8,), solver="lbfgs", random_state=0, max_iter=500).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    def __init__(
        self,
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

    _score_function = staticmethod(accuracy_score)

    def _objective_name(self) -> str:
        return "log_loss" if self._label_binarizer.y_type_ == "multiclass" else "binary_log_loss"

    def _output_name(self) -> str:
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _validate_input(
        self, X: Any, y: Any, incremental: bool, reset: bool
    ) -> tuple[Any, NDArray[np.bool_]]:
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or not (self.warm_start or incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    # The wording scikit-learn's own tests expect.
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in "
                        f"the previous call to fit. Previously got {self.classes_}, `y` has "
                        f"{classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    f"y holds classes that are not in classes_: classes_ is {self.classes_}, "
                    f"y has {classes}"
                )
        return X, self._encoded(y)

    def _encoded(self, y: Any) -> NDArray[np.bool_]:
        """``y`` as the label binarizer encodes it, as booleans of shape (n_samples, n_outputs_).

        One column per class for a multiclass target; for a binary one, a
        single column, true for the last class (false everywhere when
        ``classes_`` holds one class); a multilabel indicator as it is. The
        binarizer's own transform would identify the target's type again.
        """
        binarizer = self._label_binarizer
        if binarizer.y_type_ == "multilabel-indicator":
            return binarizer.transform(y).astype(bool)
        Y = y[:, None] == binarizer.classes_
        if binarizer.y_type_ == "multiclass":
            return Y
        return Y[:, 1:] if Y.shape[1] == 2 else np.zeros((len(y), 1), bool)

    def _labels(self, Y: NDArray[Any]) -> NDArray[Any]:
        """Class labels from 0/1 rows of shape (n, n_outputs_)."""
        return self._label_binarizer.inverse_transform(Y[:, 0] if self.n_outputs_ == 1 else Y)

    def _from_outputs(self, P: FloatArray) -> NDArray[Any]:
        return self._label_binarizer.inverse_transform(P[:, 0] if self.n_outputs_ == 1 else P)

    def predict(self, X: MatrixLike) -> NDArray[Any]:
        """The predicted classes.

        Parameters
        ----------
        X : array-like or scipy sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,), or (n_samples, n_classes) for multilabel
        """
        return self._from_outputs(self._validated_outputs(X))

    @available_if(lambda est: est._check_solver())
    def partial_fit(
        self,
        X: MatrixLike,
        y: ArrayLike,
        sample_weight: ArrayLike | None = None,
        classes: ArrayLike | None = None,
    ) -> Self:
        """One epoch over ``X`` and ``y``, from where the model is.

        Parameters
        ----------
        X : array-like or scipy sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_classes)
        sample_weight : array-like of shape (n_samples,), optional
        classes : array-like of shape (n_classes,)
            Every class of the whole data: needed on the first call only.

        Returns
        -------
        self
        """
        self._validate_params()
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, sample_weight, incremental=True)

    def predict_proba(self, X: MatrixLike) -> FloatArray:
        """The probability of each class.

        Parameters
        ----------
        X : array-like or scipy sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``; for a binary problem
            ``[1 - p, p]`` from the network's one output ``p``.
        """
        P = self._validated_outputs(X)
        if self.n_outputs_ == 1:
            return np.hstack([1 - P, P])
        return P

    def predict_log_proba(self, X: MatrixLike) -> FloatArray:
        """``log(predict_proba(X))``.

        Parameters
        ----------
        X : array-like or scipy sparse matrix of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        P = self.predict_proba(X)
        return np.log(P, out=P)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags
