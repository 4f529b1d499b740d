"""matnn.sklearn against scikit-learn's own MLPClassifier and MLPRegressor.

Each case fits both estimators with the same parameters, data and
``random_state`` and asks for the same fitted model: ``coefs_``,
``intercepts_``, ``loss_curve_`` (``loss_`` for lbfgs),
``validation_scores_``, ``n_iter_``, ``t_``, the predictions and the
warnings, within 1e-8 (relative to each array's scale) for sgd and adam and
1e-6 for lbfgs, whose path goes through scipy's line search. The reference
is scikit-learn itself, run here; nothing of it is copied.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse

sklearn = pytest.importorskip("sklearn")
from sklearn import neural_network  # noqa: E402
from sklearn.datasets import (  # noqa: E402
    load_digits,
    make_multilabel_classification,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from matnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_blas_thread")

TOLERANCE = {"sgd": 1e-8, "adam": 1e-8, "lbfgs": 1e-6}
PEERS = {MLPClassifier: neural_network.MLPClassifier, MLPRegressor: neural_network.MLPRegressor}


def _digits(n_class, n):
    X, y = load_digits(n_class=n_class, return_X_y=True)
    return X[:n] / 16, y[:n]


def _data():
    rng = np.random.default_rng(0)
    multiclass = _digits(4, 160)
    binary = _digits(2, 120)
    X_ml, Y_ml = make_multilabel_classification(n_samples=90, n_features=12, n_classes=4,
                                                random_state=0)
    X_r, y_r = make_regression(n_samples=120, n_features=8, noise=10.0, random_state=0)
    X_m, Y_m = make_regression(n_samples=100, n_features=6, n_targets=3, noise=5.0,
                               random_state=1)
    X_p = rng.uniform(-1, 1, (150, 5))
    y_p = rng.poisson(np.exp(X_p @ np.array([0.5, -0.3, 0.2, 0.0, 0.4]) + 0.5)).astype(float)
    return {
        "multiclass": multiclass,
        "binary": binary,
        "strings": (multiclass[0], np.array(["ant", "bee", "cat", "dog"])[multiclass[1]]),
        "multilabel": (X_ml / X_ml.max(), Y_ml),
        "regression": (X_r / 2, y_r / y_r.std()),
        "multioutput": (X_m / 2, Y_m / Y_m.std(axis=0)),
        "poisson": (X_p, y_p),
    }


DATA = _data()


def _solver(params):
    return params.get("solver", "adam")


def fit_both(Estimator, X, y, fit=lambda est, X, y: est.fit(X, y), **params):
    """Ours and scikit-learn's, fitted alike, and the warning classes each raised."""
    fitted, raised = [], []
    for cls in (Estimator, PEERS[Estimator]):
        kwargs = dict(params)
        if isinstance(kwargs.get("random_state"), np.random.RandomState):
            kwargs["random_state"] = np.random.RandomState(3)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est = fit(cls(**kwargs), X, y)
        fitted.append(est)
        raised.append(sorted({w.category.__name__ for w in caught}))
    return fitted, raised


def assert_close(a, b, rtol):
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert a.shape == b.shape
    scale = np.nanmax(np.abs(b)) if b.size else 0.0
    np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * scale)


def assert_same_model(ours, theirs, rtol, X):
    for name in ("n_iter_", "t_", "n_layers_", "n_outputs_", "out_activation_",
                 "n_features_in_"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert len(ours.coefs_) == len(theirs.coefs_)
    for mine, peer in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        assert mine.dtype == peer.dtype
        assert_close(mine, peer, rtol)
    assert_close(ours.loss_, theirs.loss_, rtol)
    for name in ("loss_curve_", "validation_scores_", "best_loss_", "best_validation_score_"):
        mine, peer = getattr(ours, name, None), getattr(theirs, name, None)
        assert (mine is None) == (peer is None), name
        if mine is not None:
            assert_close(mine, peer, rtol)
    if not hasattr(theirs, "classes_"):
        assert_close(ours.predict(X), theirs.predict(X), rtol)
    else:
        np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
        np.testing.assert_array_equal(ours.classes_, theirs.classes_)
        assert_close(ours.predict_proba(X), theirs.predict_proba(X), rtol)


def _check(Estimator, data, rtol=None, **params):
    X, y = DATA[data]
    base = dict(hidden_layer_sizes=(10,), max_iter=25, random_state=0)
    if _solver(params) == "sgd":
        base["learning_rate_init"] = 0.05
    elif _solver(params) == "adam":
        base["learning_rate_init"] = 0.01
    base.update(params)
    (ours, theirs), (ours_warned, theirs_warned) = fit_both(Estimator, X, y, **base)
    assert_same_model(ours, theirs, rtol or TOLERANCE[_solver(base)], X)
    assert ours_warned == theirs_warned
    return ours, theirs


CLASSIFIER_CASES = [
    ("multiclass", dict(solver="sgd")),
    ("multiclass", dict(solver="adam")),
    ("multiclass", dict(solver="lbfgs")),
    ("binary", dict(solver="sgd", activation="logistic")),
    ("binary", dict(solver="adam", activation="identity")),
    ("binary", dict(solver="lbfgs", activation="tanh")),
    ("multilabel", dict(solver="sgd", activation="logistic")),
    ("multilabel", dict(solver="adam")),
    ("multilabel", dict(solver="lbfgs", max_iter=40)),
    ("strings", dict(solver="adam")),
    ("strings", dict(solver="lbfgs", activation="logistic")),
    ("multiclass", dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.5,
                        power_t=0.25)),
    ("multiclass", dict(solver="sgd", learning_rate="adaptive", tol=0.05, n_iter_no_change=1,
                        max_iter=40)),
    ("multiclass", dict(solver="sgd", nesterovs_momentum=False)),
    ("multiclass", dict(solver="sgd", momentum=0.0, batch_size=1, max_iter=3)),
    ("binary", dict(solver="sgd", early_stopping=True)),
    ("multiclass", dict(solver="adam", early_stopping=True, validation_fraction=0.2)),
    ("strings", dict(solver="sgd", early_stopping=True, tol=0.05, n_iter_no_change=2)),
    # tol 0: a validation accuracy equal to the best is no improvement.
    ("binary", dict(solver="sgd", early_stopping=True, tol=0.0, n_iter_no_change=2,
                        max_iter=60)),
    ("multiclass", dict(solver="adam", shuffle=False, batch_size=17, beta_1=0.8,
                        beta_2=0.99, epsilon=1e-6)),
    ("multiclass", dict(solver="sgd", hidden_layer_sizes=(12, 7), alpha=0.01,
                        activation="relu")),
    ("multiclass", dict(solver="adam", tol=0.05, n_iter_no_change=2)),
    ("multiclass", dict(solver="adam", random_state=np.random.RandomState(3))),
]


@pytest.mark.parametrize("data, params", CLASSIFIER_CASES)
def test_the_classifier_fits_what_sklearn_fits(data, params):
    _check(MLPClassifier, data, **params)


REGRESSOR_CASES = [
    ("regression", dict(solver="sgd", learning_rate_init=0.01)),
    ("regression", dict(solver="adam", activation="tanh")),
    ("regression", dict(solver="lbfgs")),
    ("multioutput", dict(solver="sgd", learning_rate_init=0.01, activation="logistic")),
    ("multioutput", dict(solver="adam", hidden_layer_sizes=(9, 5))),
    ("multioutput", dict(solver="lbfgs", activation="identity")),
    ("poisson", dict(loss="poisson", solver="sgd", learning_rate_init=0.01)),
    ("poisson", dict(loss="poisson", solver="adam")),
    ("poisson", dict(loss="poisson", solver="lbfgs", alpha=0.0)),
    ("regression", dict(solver="sgd", learning_rate_init=0.01, early_stopping=True)),
    ("regression", dict(solver="adam", early_stopping=True, n_iter_no_change=3, tol=1e-2)),
    ("regression", dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.02)),
    ("regression", dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.01,
                        tol=0.05, n_iter_no_change=1, max_iter=40)),
]


@pytest.mark.parametrize("data, params", REGRESSOR_CASES)
def test_the_regressor_fits_what_sklearn_fits(data, params):
    _check(MLPRegressor, data, **params)


def test_the_adaptive_schedule_case_really_divides_the_rate():
    ours, _ = _check(MLPClassifier, "multiclass", solver="sgd", learning_rate="adaptive",
                     tol=0.05, n_iter_no_change=1, max_iter=40)
    assert ours._optimizer.rate < 0.05 / 5


@pytest.mark.parametrize("Estimator, data", [(MLPClassifier, "multiclass"),
                                             (MLPClassifier, "binary"),
                                             (MLPRegressor, "regression"),
                                             (MLPRegressor, "poisson")])
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_sample_weight_gives_what_sklearn_gives(Estimator, data, solver):
    X, y = DATA[data]
    weights = np.random.default_rng(1).uniform(0.0, 2.0, len(y))
    loss = {"loss": "poisson"} if data == "poisson" else {}
    params = dict(hidden_layer_sizes=(8,), solver=solver, max_iter=20, random_state=0,
                  learning_rate_init=0.01, **loss)

    def fit(est, X, y):
        return est.fit(X, y, sample_weight=weights)

    (ours, theirs), _ = fit_both(Estimator, X, y, fit=fit, **params)
    assert_same_model(ours, theirs, TOLERANCE[solver], X)


def test_sample_weight_with_early_stopping_gives_what_sklearn_gives():
    X, y = DATA["regression"]
    weights = np.random.default_rng(2).uniform(0.5, 1.5, len(y))
    params = dict(hidden_layer_sizes=(8,), solver="adam", max_iter=30, random_state=0,
                  learning_rate_init=0.01, early_stopping=True, batch_size=10)
    (ours, theirs), _ = fit_both(MLPRegressor, X, y,
                                 fit=lambda e, X, y: e.fit(X, y, sample_weight=weights), **params)
    assert_same_model(ours, theirs, 1e-8, X)


@pytest.mark.parametrize("Estimator, data, extra", [
    (MLPClassifier, "multiclass", {"classes": np.arange(4)}),
    (MLPClassifier, "multilabel", {"classes": np.arange(4)}),
    (MLPRegressor, "multioutput", {}),
])
@pytest.mark.parametrize("solver", ["sgd", "adam"])
def test_partial_fit_gives_what_sklearn_gives(Estimator, data, extra, solver):
    X, y = DATA[data]
    params = dict(hidden_layer_sizes=(8,), solver=solver, random_state=0,
                  learning_rate_init=0.01, batch_size=32)

    def five_calls(est, X, y):
        for _ in range(5):
            est.partial_fit(X, y, **extra)
        return est

    (ours, theirs), _ = fit_both(Estimator, X, y, fit=five_calls, **params)
    assert_same_model(ours, theirs, 1e-8, X)


@pytest.mark.parametrize("Estimator, data", [(MLPClassifier, "multiclass"),
                                             (MLPRegressor, "regression")])
@pytest.mark.parametrize("solver, early_stopping", [("sgd", False), ("adam", False),
                                                     ("lbfgs", False), ("adam", True)])
def test_warm_start_gives_what_sklearn_gives(Estimator, data, solver, early_stopping):
    X, y = DATA[data]
    params = dict(hidden_layer_sizes=(8,), solver=solver, random_state=0, max_iter=10,
                  learning_rate_init=0.01, warm_start=True, early_stopping=early_stopping)

    def twice(est, X, y):
        est.fit(X, y)
        est.set_params(max_iter=15, learning_rate_init=0.005)
        return est.fit(X, y)

    (ours, theirs), _ = fit_both(Estimator, X, y, fit=twice, **params)
    assert_same_model(ours, theirs, TOLERANCE[solver], X)


@pytest.mark.parametrize("Estimator, data", [(MLPClassifier, "multiclass"),
                                             (MLPClassifier, "binary"),
                                             (MLPRegressor, "regression")])
@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_float32_trains_in_float32_like_sklearn(Estimator, data, solver):
    X, y = DATA[data]
    X = X.astype(np.float32)
    params = dict(hidden_layer_sizes=(8,), solver=solver, random_state=0, max_iter=15,
                  learning_rate_init=0.01)
    (ours, theirs), _ = fit_both(Estimator, X, y, **params)
    assert all(c.dtype == np.float32 for c in ours.coefs_ + ours.intercepts_)
    assert ours.network_.dtype == np.float32
    predicted = ours.predict(X) if Estimator is MLPRegressor else ours.predict_proba(X)
    assert predicted.dtype == np.float32
    # float32 rounding, not a different rule: far closer than any change of rule.
    rtol = 2e-3 if solver == "lbfgs" else 1e-4
    for mine, peer in zip(ours.coefs_, theirs.coefs_):
        assert_close(mine, peer.astype(np.float64), rtol)
    assert_close(ours.loss_, theirs.loss_, rtol)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("Estimator, data, solver", [(MLPClassifier, "multiclass", "sgd"),
                                                     (MLPClassifier, "binary", "lbfgs"),
                                                     (MLPRegressor, "regression", "adam")])
def test_sparse_input_gives_what_sklearn_gives(fmt, Estimator, data, solver):
    X, y = DATA[data]
    X = np.where(X > 0.3, X, 0.0)
    Xs = scipy.sparse.csr_matrix(X).asformat(fmt)
    params = dict(hidden_layer_sizes=(8,), solver=solver, random_state=0, max_iter=15,
                  learning_rate_init=0.01)
    (ours, theirs), _ = fit_both(Estimator, Xs, y, **params)
    assert_same_model(ours, theirs, TOLERANCE[solver], Xs)
    dense = Estimator(**params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        dense.fit(X, y)
    for mine, peer in zip(ours.coefs_, dense.coefs_):
        assert_close(mine, peer, TOLERANCE[solver])


def test_a_run_that_stops_on_tol_stops_where_sklearn_stops():
    ours, theirs = _check(MLPClassifier, "multiclass", solver="adam", tol=0.05,
                          n_iter_no_change=2, max_iter=200)
    assert ours.n_iter_ < 200


def test_an_lbfgs_run_that_hits_max_fun_stops_where_sklearn_stops():
    _check(MLPRegressor, "regression", solver="lbfgs", max_fun=15, max_iter=100, tol=0.0)


def test_the_regressors_partial_fit_with_lbfgs_gives_what_sklearn_gives():
    X, y = DATA["regression"]

    def twice(est, X, y):
        return est.partial_fit(X, y).partial_fit(X, y)

    (ours, theirs), _ = fit_both(MLPRegressor, X, y, fit=twice, hidden_layer_sizes=(6,),
                                 solver="lbfgs", max_iter=15, random_state=0)
    assert_same_model(ours, theirs, 1e-6, X)


def _raised(call):
    """What ``call()`` warned and raised: [(class name, message), ...], then the error or None."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            call()
            error = None
        except Exception as exc:  # noqa: BLE001 - compared with the peer's, whatever it is
            error = (type(exc).__name__, str(exc))
    return [(w.category.__name__, str(w.message)) for w in caught], error


@pytest.mark.parametrize("Estimator, data, solver", [(MLPClassifier, "strings", "adam"),
                                                     (MLPRegressor, "regression", "sgd"),
                                                     (MLPRegressor, "regression", "lbfgs")])
def test_a_dataframe_gives_what_sklearn_gives(Estimator, data, solver):
    pd = pytest.importorskip("pandas")
    X, y = DATA[data]
    names = [f"pixel {i}" for i in range(X.shape[1])]
    frame, series = pd.DataFrame(X, columns=names), pd.Series(y, name="target")
    params = dict(hidden_layer_sizes=(8,), solver=solver, random_state=0, max_iter=10,
                  learning_rate_init=0.01, early_stopping=solver != "lbfgs")
    (ours, theirs), (ours_warned, theirs_warned) = fit_both(Estimator, frame, series, **params)
    assert ours_warned == theirs_warned
    assert "UserWarning" not in ours_warned
    assert ours.feature_names_in_.dtype == object
    np.testing.assert_array_equal(ours.feature_names_in_, theirs.feature_names_in_)
    np.testing.assert_array_equal(ours.feature_names_in_, names)
    assert_same_model(ours, theirs, TOLERANCE[solver], frame)
    # Refused or warned about as scikit-learn does, in its words.
    misnamed = [frame[names[::-1]], frame.rename(columns={names[0]: "weight"}),
                frame[names[:3]], X]
    for method in ("predict", "score"):
        for Xm in misnamed:
            args = (Xm, y) if method == "score" else (Xm,)
            mine = _raised(lambda: getattr(ours, method)(*args))
            peer = _raised(lambda: getattr(theirs, method)(*args))
            assert mine == peer
            assert mine != ([], None)


@pytest.mark.parametrize("Estimator, data", [(MLPClassifier, "binary"),
                                             (MLPRegressor, "regression")])
def test_names_given_only_after_fit_are_warned_about_as_sklearn_does(Estimator, data):
    pd = pytest.importorskip("pandas")
    X, y = DATA[data]
    frame = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    (ours, theirs), _ = fit_both(Estimator, X, y, hidden_layer_sizes=(4,), max_iter=3,
                                 random_state=0)
    assert not hasattr(ours, "feature_names_in_")
    mine, peer = _raised(lambda: ours.predict(frame)), _raised(lambda: theirs.predict(frame))
    assert mine == peer
    assert [category for category, _ in mine[0]] == ["UserWarning"]
    assert_close(ours.predict(X), theirs.predict(X), 1e-8)
