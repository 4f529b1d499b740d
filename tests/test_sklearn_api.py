"""matnn.sklearn in scikit-learn's world: its surface, its tools, its errors; and matnn's extras.

The same-answer tests are in test_sklearn_same_answers.py and the peer
suites in test_sklearn_peer_suites.py; here the estimators are checked
against scikit-learn's own for their public surface and for what bad input
gets, and used the way practitioners use them (pipelines, grid search,
cross-validation, clone, pickle), and their ``network_`` the way matnn's
users use a Network.
"""

import inspect
import pickle
import re
import subprocess
import sys
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse

sklearn = pytest.importorskip("sklearn")
from sklearn import neural_network  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import matnn  # noqa: E402
from matnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402
from matnn.sklearn._training import EXP, HALF_POISSON_DEVIANCE  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_blas_thread")

PEERS = {MLPClassifier: neural_network.MLPClassifier, MLPRegressor: neural_network.MLPRegressor}
X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_IRIS = StandardScaler().fit_transform(X_IRIS)


def quietly(fit, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit(*args, **kwargs)


# -- the public surface ---------------------------------------------------------------------

@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
def test_the_constructor_is_sklearns(Estimator):
    ours = inspect.signature(Estimator.__init__).parameters
    theirs = inspect.signature(PEERS[Estimator].__init__).parameters
    assert list(ours) == list(theirs)
    for name in theirs:
        assert ours[name].default == theirs[name].default, name
        assert ours[name].kind == theirs[name].kind, name


@pytest.mark.parametrize("Estimator, y", [(MLPClassifier, Y_IRIS), (MLPRegressor, X_IRIS[:, 0])])
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_the_fitted_attributes_and_methods_are_sklearns(Estimator, y, solver):
    params = dict(hidden_layer_sizes=(5,), solver=solver, max_iter=5, random_state=0)
    ours = quietly(Estimator(**params).fit, X_IRIS, y)
    theirs = quietly(PEERS[Estimator](**params).fit, X_IRIS, y)
    public = {name for name in dir(theirs) if name.endswith("_") and not name.startswith("_")}
    assert public <= set(dir(ours))
    assert {name for name in dir(ours) if name.endswith("_") and not name.startswith("_")} \
        == public | {"network_"}
    for method in ("fit", "partial_fit", "predict", "predict_proba", "predict_log_proba",
                   "score"):
        assert hasattr(ours, method) == hasattr(theirs, method), method


@pytest.mark.parametrize("Estimator", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("param, value", [
    ("alpha", -1.0), ("max_iter", 0), ("learning_rate", "sometimes"), ("batch_size", 0),
    ("momentum", 1.5), ("validation_fraction", 1.0), ("n_iter_no_change", 0),
    ("beta_1", 1.0), ("epsilon", 0.0), ("tol", -1e-4), ("learning_rate_init", 0.0),
    ("shuffle", "yes"), ("max_fun", 0), ("power_t", -0.5),
])
def test_a_bad_parameter_gets_sklearns_error(Estimator, param, value):
    errors = []
    for cls in (Estimator, PEERS[Estimator]):
        with pytest.raises(ValueError) as raised:
            cls(**{param: value}).fit(X_IRIS, Y_IRIS)
        # A set of options prints in hash order, which differs between runs.
        message = re.sub(r"\{.*\}", lambda m: str(sorted(m.group(0)[1:-1].split(", "))),
                         str(raised.value))
        errors.append((type(raised.value), message))
    assert errors[0] == errors[1]


def test_hidden_layer_sizes_of_zero_gets_sklearns_error():
    for cls in (MLPClassifier, neural_network.MLPClassifier):
        with pytest.raises(ValueError, match="hidden_layer_sizes must be > 0"):
            cls(hidden_layer_sizes=[3, 0]).fit(X_IRIS, Y_IRIS)


def test_activation_and_solver_name_what_else_they_take():
    with pytest.raises(ValueError, match="'activation' parameter"):
        MLPClassifier(activation="softmax").fit(X_IRIS, Y_IRIS)
    with pytest.raises(ValueError, match="'solver' parameter"):
        MLPClassifier(solver="newton").fit(X_IRIS, Y_IRIS)
    with pytest.raises(ValueError, match="one per hidden layer"):
        MLPClassifier((4, 4), activation=["tanh"]).fit(X_IRIS, Y_IRIS)


# -- bad input gets what scikit-learn gives ----------------------------------------------

def _same_error(make_and_call):
    errors = []
    for Estimator in (MLPClassifier, neural_network.MLPClassifier):
        with pytest.raises(Exception) as raised:
            make_and_call(Estimator)
        errors.append((type(raised.value), str(raised.value)))
    assert errors[0][0] is errors[1][0]
    return errors


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_X_gets_sklearns_error(bad):
    X = X_IRIS.copy()
    X[3, 1] = bad
    ours, theirs = _same_error(lambda E: E().fit(X, Y_IRIS))
    assert ours == theirs


def test_nan_in_a_regression_target_gets_sklearns_error():
    y = X_IRIS[:, 0].copy()
    y[5] = np.nan
    errors = []
    for Estimator in (MLPRegressor, neural_network.MLPRegressor):
        with pytest.raises(ValueError) as raised:
            Estimator().fit(X_IRIS, y)
        errors.append(str(raised.value))
    assert errors[0] == errors[1]


def test_the_wrong_number_of_features_gets_sklearns_error():
    ours, theirs = _same_error(
        lambda E: quietly(E((3,), max_iter=2).fit, X_IRIS, Y_IRIS).predict(X_IRIS[:, :3]))
    assert ours == theirs


def test_mismatched_lengths_get_sklearns_error():
    ours, theirs = _same_error(lambda E: E().fit(X_IRIS, Y_IRIS[:-1]))
    assert ours == theirs


def test_predict_before_fit_gets_sklearns_error():
    ours, theirs = _same_error(lambda E: E().predict(X_IRIS))
    assert ours[0] is theirs[0]


def test_unseen_classes_in_partial_fit_are_refused():
    for Estimator in (MLPClassifier, neural_network.MLPClassifier):
        clf = Estimator(solver="sgd").partial_fit(X_IRIS[:10], Y_IRIS[:10], classes=[0, 1])
        with pytest.raises(ValueError, match="classes"):
            clf.partial_fit(X_IRIS[100:110], Y_IRIS[100:110])


def test_partial_fit_needs_classes_the_first_time():
    _same_error(lambda E: E(solver="sgd").partial_fit(X_IRIS, Y_IRIS))


def test_a_validation_set_too_small_is_refused():
    for Estimator in (MLPRegressor, neural_network.MLPRegressor):
        with pytest.raises(ValueError, match="The validation set is too small"):
            Estimator(early_stopping=True).fit(X_IRIS[:2], [0.5, 1.5])


def test_partial_fit_with_lbfgs_is_where_sklearn_has_it():
    # scikit-learn's regressor offers partial_fit with every solver (with
    # lbfgs it runs L-BFGS on from where the model is); its classifier
    # offers it only with the stochastic ones.
    for Estimator in (MLPClassifier, neural_network.MLPClassifier):
        assert not hasattr(Estimator(solver="lbfgs"), "partial_fit")
    assert not hasattr(MLPClassifier(solver=matnn.LBFGS()), "partial_fit")
    for Estimator in (MLPRegressor, neural_network.MLPRegressor):
        assert hasattr(Estimator(solver="lbfgs"), "partial_fit")


# -- in scikit-learn's tools -----------------------------------------------------------------

def test_a_pipeline_in_a_grid_search_on_two_processes():
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=300, random_state=0))
    grid = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(4,), (8,)],
                               "mlpclassifier__solver": ["lbfgs", "adam"]}, cv=3, n_jobs=2)
    quietly(grid.fit, *load_iris(return_X_y=True))
    assert grid.best_score_ > 0.9
    assert grid.predict(load_iris().data[:5]).shape == (5,)


def test_cross_val_score_through_a_pipeline_gives_numbers():
    pipe = make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(6,), solver="lbfgs", random_state=0))
    X, y = load_iris(return_X_y=True)
    scores = quietly(cross_val_score, pipe, X[:, :3], X[:, 3],
                     cv=KFold(3, shuffle=True, random_state=0))
    assert np.isfinite(scores).all() and scores.min() > 0.5


def test_clone_gives_an_unfitted_copy_with_the_same_parameters():
    clf = quietly(MLPClassifier((4,), activation=["gelu"], solver=matnn.Adam(0.01),
                                max_iter=5).fit, X_IRIS, Y_IRIS)
    copy = clone(clf)
    assert not hasattr(copy, "network_")
    assert copy.get_params()["hidden_layer_sizes"] == (4,)
    assert copy.get_params()["activation"] == ["gelu"]


@pytest.mark.parametrize("dump, load", [
    (pickle.dumps, pickle.loads),
    (lambda est: joblib.dump(est, "/dev/null") and est, lambda est: est),
])
def test_a_pickled_estimator_predicts_and_trains_on_the_same(dump, load, tmp_path):
    reg = MLPRegressor(hidden_layer_sizes=(5,), solver="sgd", random_state=0, learning_rate_init=0.01)
    for _ in range(3):
        reg.partial_fit(X_IRIS[:, :3], X_IRIS[:, 3])
    path = tmp_path / "reg.joblib"
    joblib.dump(reg, path)
    for copy in (pickle.loads(pickle.dumps(reg)), joblib.load(path)):
        np.testing.assert_array_equal(copy.predict(X_IRIS[:, :3]), reg.predict(X_IRIS[:, :3]))
        assert copy.coefs_[0].base is not None
        np.shares_memory(copy.coefs_[0], copy.network_.params)
        copy.partial_fit(X_IRIS[:, :3], X_IRIS[:, 3])
    reg.partial_fit(X_IRIS[:, :3], X_IRIS[:, 3])
    np.testing.assert_array_equal(copy.predict(X_IRIS[:, :3]), reg.predict(X_IRIS[:, :3]))


# -- network_: a matnn.Network ----------------------------------------------------------------

@pytest.fixture(scope="module")
def fitted():
    clf = quietly(MLPClassifier((6,), activation="tanh", solver="lbfgs", random_state=0,
                                max_iter=50).fit, X_IRIS, Y_IRIS)
    binary = quietly(MLPClassifier((4,), solver="lbfgs", random_state=0, max_iter=50).fit,
                     X_IRIS, Y_IRIS == 2)
    reg = quietly(MLPRegressor(hidden_layer_sizes=(5,), solver="lbfgs", random_state=0, max_iter=50).fit,
                  X_IRIS[:, :3], X_IRIS[:, 3])
    poisson = quietly(MLPRegressor(loss="poisson", hidden_layer_sizes=(3,), solver="lbfgs",
                                   random_state=0, max_iter=50).fit,
                      X_IRIS, np.round(np.exp(X_IRIS[:, 0])))
    return {"clf": clf, "binary": binary, "reg": reg, "poisson": poisson}


def test_network_holds_the_coefs_as_its_weights(fitted):
    for est in fitted.values():
        net = est.network_
        assert isinstance(net, matnn.Network)
        for coef, intercept, layer in zip(est.coefs_, est.intercepts_, net.layers):
            np.testing.assert_array_equal(coef, layer.W.T)
            np.testing.assert_array_equal(intercept, layer.b)
            assert np.shares_memory(coef, net.params)


def test_network_predicts_what_the_estimator_predicts(fitted):
    np.testing.assert_array_equal(fitted["clf"].network_.predict(X_IRIS),
                                  fitted["clf"].predict_proba(X_IRIS))
    np.testing.assert_array_equal(fitted["binary"].network_.predict(X_IRIS)[:, 0],
                                  fitted["binary"].predict_proba(X_IRIS)[:, 1])
    np.testing.assert_array_equal(fitted["reg"].network_.predict(X_IRIS[:, :3])[:, 0],
                                  fitted["reg"].predict(X_IRIS[:, :3]))
    np.testing.assert_array_equal(fitted["poisson"].network_.predict(X_IRIS)[:, 0],
                                  fitted["poisson"].predict(X_IRIS))


def test_gradcheck_draw_and_save_work_on_the_network(fitted, tmp_path):
    for name, est in fitted.items():
        net = est.network_
        X = X_IRIS[:, :3] if name == "reg" else X_IRIS
        y = {"clf": Y_IRIS, "binary": (Y_IRIS == 2).astype(float), "reg": X_IRIS[:, 3],
             "poisson": np.round(np.exp(X_IRIS[:, 0]))}[name]
        assert matnn.gradcheck(net, X[:20], y[:20]).ok
        assert str(matnn.draw(net)).startswith("<svg")
        net.save(tmp_path / f"{name}.npz")
        custom = {"exp": EXP, "half_poisson_deviance": HALF_POISSON_DEVIANCE}
        back = matnn.load(tmp_path / f"{name}.npz", custom=custom if name == "poisson" else None)
        np.testing.assert_array_equal(back.predict(X), net.predict(X))


def test_to_torch_computes_the_same_outputs(fitted):
    torch = pytest.importorskip("torch")
    net = fitted["clf"].network_
    module = matnn.to_torch(net)
    with torch.no_grad():
        out = module(torch.from_numpy(X_IRIS)).numpy()
    np.testing.assert_allclose(out, fitted["clf"].predict_proba(X_IRIS), rtol=1e-12, atol=1e-15)


# -- beyond scikit-learn ---------------------------------------------------------------------

def test_any_matnn_activation_or_one_per_layer_trains():
    cube = matnn.Activation("cube", lambda Z: Z ** 3, lambda Z: 3 * Z ** 2)
    for activation in ("gelu", "silu", cube, ["relu", "leaky_relu"]):
        layers = (5, 4) if isinstance(activation, list) else (5,)
        clf = quietly(MLPClassifier(layers, activation=activation, solver="lbfgs",
                                    random_state=0, max_iter=100).fit, X_IRIS, Y_IRIS)
        assert clf.score(X_IRIS, Y_IRIS) > 0.9
        hidden = clf.network_.activations[:-1]
        expected = [a if isinstance(a, str) else a.name for a in
                    (activation if isinstance(activation, list) else [activation])]
        assert list(hidden) == expected


def test_a_matnn_optimizer_object_trains_a_copy_of_itself():
    adam = matnn.Adam(0.01)
    clf = quietly(MLPClassifier((6,), solver=adam, random_state=0, max_iter=50).fit,
                  X_IRIS, Y_IRIS)
    assert adam.state_dict() == {}
    assert clf.score(X_IRIS, Y_IRIS) > 0.9
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_a_matnn_lbfgs_object_uses_its_own_max_iter():
    clf = quietly(MLPClassifier((6,), solver=matnn.LBFGS(max_iter=7), random_state=0).fit,
                  X_IRIS, Y_IRIS)
    assert clf.n_iter_ == 7


def test_sparse_input_is_never_made_dense(monkeypatch):
    X = scipy.sparse.random(200, 50, density=0.05, format="csr", random_state=0)
    y = np.asarray(X.sum(axis=1)).ravel() > 0.1

    def refuse(self, *args, **kwargs):
        raise AssertionError("the sparse input was made dense")

    for cls in (scipy.sparse.csr_matrix, scipy.sparse.csc_matrix):
        monkeypatch.setattr(cls, "toarray", refuse)
        monkeypatch.setattr(cls, "todense", refuse)
    for solver in ("sgd", "lbfgs"):
        clf = quietly(MLPClassifier((8,), solver=solver, random_state=0, max_iter=10).fit, X, y)
        assert clf.predict(X.tocsc()).shape == (200,)


# -- matnn itself does not need scikit-learn -------------------------------------------------

def test_matnn_imports_without_sklearn_and_matnn_sklearn_says_how_to_get_it():
    code = (
        "import sys\n"
        "import matnn\n"
        "assert 'sklearn' not in sys.modules, 'import matnn imported sklearn'\n"
        "sys.modules['sklearn'] = None\n"
        "try:\n"
        "    import matnn.sklearn\n"
        "except ImportError as err:\n"
        "    print(err)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "matnn.sklearn needs scikit-learn: pip install 'matnn[sklearn]'"
