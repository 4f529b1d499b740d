"""Two test suites nobody here wrote, run against matnn.sklearn.

- scikit-learn's estimator checks (``parametrize_with_checks``), for both
  estimators with each solver. The only failures allowed are those
  scikit-learn's own test configuration expects of its own MLP, looked up
  for the matching scikit-learn estimator; and its feature-name check,
  which scikit-learn's common tests run beside them (it needs pandas, a
  test dependency, as do some of the checks).
- scikit-learn's own MLP test file, ``sklearn/neural_network/tests/test_mlp.py``,
  copied from the installed package at test time with only its import line
  changed, run by pytest in a subprocess.
"""

import os
import re
import subprocess
import sys
import warnings
from pathlib import Path
from unittest import SkipTest

import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn import neural_network  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.utils._test_common.instance_generator import (  # noqa: E402
    _get_expected_failed_checks,
)
from sklearn.utils.estimator_checks import (  # noqa: E402
    check_dataframe_column_names_consistency,
    parametrize_with_checks,
)

from matnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_blas_thread")

PEERS = {MLPClassifier: neural_network.MLPClassifier, MLPRegressor: neural_network.MLPRegressor}

#: scikit-learn's test configuration builds its MLPs with max_iter=100.
ESTIMATORS = [Estimator(solver=solver, max_iter=100)
              for Estimator in (MLPClassifier, MLPRegressor)
              for solver in ("sgd", "adam", "lbfgs")]


def expected_failures(estimator):
    """What scikit-learn expects to fail for its own MLP with these parameters."""
    peer = PEERS[type(estimator)](**estimator.get_params())
    return _get_expected_failed_checks(peer)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    try:
        check(estimator)
    except SkipTest as skip:
        # The feature-name checks skip themselves without pandas; here they must run.
        if "pandas" in str(skip):
            pytest.fail(f"pandas is part of the test extra, and this check needs it: {skip}")
        raise


#: As scikit-learn's test_common runs it: each estimator, and the stochastic
#: ones again stopping early (they then score held-out rows during fit).
COLUMN_NAME_ESTIMATORS = ESTIMATORS + [
    clone(estimator).set_params(early_stopping=True, n_iter_no_change=1)
    for estimator in ESTIMATORS if estimator.solver != "lbfgs"]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("estimator", COLUMN_NAME_ESTIMATORS, ids=repr)
def test_sklearn_column_name_check(estimator):
    """scikit-learn's feature-name check, which its test_common runs outside the checks."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_dataframe_column_names_consistency(type(estimator).__name__, estimator)
    assert not [w for w in caught if "was fitted without feature names" in str(w.message)]


#: The tests of test_mlp.py that read or set private attributes of
#: scikit-learn's implementation, which matnn's does not have.
PRIVATE = {
    "test_fit": "sets _coef_grads, _intercept_velocity and other private state by hand",
    "test_gradient": "calls the private _loss_grad_lbfgs",
    "test_learning_rate_warmstart": "reads the private _optimizer.learning_rate",
    "test_adaptive_learning_rate": "reads the private _optimizer.learning_rate",
    "test_n_iter_no_change": "reads the private _no_improvement_count",
    "test_n_iter_no_change_inf": "reads the private _no_improvement_count",
}

IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor\n"

#: sklearn's conftest gives its tests this fixture; its default seed is 42.
CONFTEST = '''
import pytest


@pytest.fixture
def global_random_seed():
    return 42
'''


@pytest.mark.slow
def test_sklearns_own_mlp_tests_pass_on_matnn(tmp_path):
    source = Path(neural_network.__file__).parent / "tests" / "test_mlp.py"
    text = source.read_text(encoding="utf-8")
    assert text.count(IMPORT) == 1, "test_mlp.py's import line has changed"
    (tmp_path / "test_mlp.py").write_text(
        text.replace(IMPORT, "from matnn.sklearn import MLPClassifier, MLPRegressor\n"),
        encoding="utf-8")
    (tmp_path / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    deselect = [arg for name in PRIVATE for arg in ("--deselect", f"test_mlp.py::{name}")]
    # BLAS on one thread, as in this process (see the one_blas_thread fixture).
    one_thread = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                         "OMP_NUM_THREADS")}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_mlp.py",
         *deselect],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
        env={**os.environ, **one_thread},
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert re.search(r"\d+ passed", summary) and "failed" not in summary, summary
    # Nothing skips, test_preserve_feature_names (pandas) included.
    assert "skipped" not in summary, summary
    assert f"{len(PRIVATE)} deselected" in summary, summary
