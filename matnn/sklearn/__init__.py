"""scikit-learn's MLPClassifier and MLPRegressor, trained by matnn: a drop-in.

>>> from matnn.sklearn import MLPClassifier, MLPRegressor

Same parameters, fitted attributes and answers as scikit-learn 1.9's
``sklearn.neural_network`` estimators, on matnn's engine. Each estimator
has its module (``_classifier``, ``_regressor``) over what they share
(``_base``: parameters, fit, the forward pass); ``_training`` holds
scikit-learn's training choices in matnn's terms, ``_optimizers`` its two
update rules. Needs scikit-learn (``pip install 'matnn[sklearn]'``);
``import matnn`` itself never imports it.
"""

try:
    import sklearn  # noqa: F401
except ImportError:
    raise ImportError(
        "matnn.sklearn needs scikit-learn: pip install 'matnn[sklearn]'"
    ) from None

from ._classifier import MLPClassifier
from ._regressor import MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
