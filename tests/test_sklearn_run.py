"""The stochastic run's own parameters: scikit-learn's layout, and back into the network.

The run trains a flat copy of the parameters in scikit-learn's layout (each
layer's ``coef`` of shape (n_in, n_out), then its ``intercept``; a dense
input's first layer folded with a column of ones) and writes it back into
``network_``. These tests check that round trip against scikit-learn
itself: parameters changed by hand between calls are where training goes
on, the optimizer's state is scikit-learn's in that layout from call to
call, a dense and a sparse input (folded and not) train alike, and a
Ctrl-C inside a step leaves the parameters and the state of the last
completed step.
"""

import warnings

import numpy as np
import pytest
import scipy.sparse

pytest.importorskip("sklearn")
from sklearn import neural_network  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from matnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_blas_thread")

X_DIGITS, Y_DIGITS = load_digits(n_class=4, return_X_y=True)
X_DIGITS, Y_DIGITS = X_DIGITS[:120] / 16, Y_DIGITS[:120]
CLASSES = np.arange(4)


def _both(solver, **params):
    params = {"hidden_layer_sizes": (7,), "solver": solver, "random_state": 0,
              "batch_size": 24, "learning_rate_init": 0.05 if solver == "sgd" else 0.01,
              **params}
    return MLPClassifier(**params), neural_network.MLPClassifier(**params)


def _quietly(fit, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit(*args, **kwargs)


def assert_same_parameters(ours, theirs, rtol=1e-8):
    for mine, peer in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(mine, peer, rtol=rtol, atol=rtol * np.abs(peer).max())


def _edit_by_hand(est):
    # Not symmetric in any sense: a layout mix-up moves these entries elsewhere.
    est.coefs_[0][3, 5] += 0.5
    est.coefs_[1][6, 1] -= 0.25
    est.intercepts_[0][2] += 0.125


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_parameters_changed_by_hand_between_calls_are_where_training_goes_on(solver, how):
    fitted = []
    for est in _both(solver, max_iter=3, warm_start=True):
        if how == "warm_start":
            _quietly(est.fit, X_DIGITS, Y_DIGITS)
            _edit_by_hand(est)
            _quietly(est.fit, X_DIGITS, Y_DIGITS)
        else:
            est.partial_fit(X_DIGITS, Y_DIGITS, classes=CLASSES)
            _edit_by_hand(est)
            est.partial_fit(X_DIGITS, Y_DIGITS)
        fitted.append(est)
    ours, theirs = fitted
    assert_same_parameters(ours, theirs)
    # The network is the estimator's model, not a copy of it.
    np.testing.assert_array_equal(ours.network_.layers[0].W, ours.coefs_[0].T)


def _sklearn_state(optimizer, names):
    """scikit-learn's state (lists over coefs_ + intercepts_), in the run's layout."""
    state = {}
    for ours, theirs in names.items():
        arrays = getattr(optimizer, theirs)
        layers = len(arrays) // 2
        state[ours] = np.concatenate([np.concatenate([arrays[l].ravel(),
                                                      arrays[layers + l].ravel()])
                                      for l in range(layers)])
    return state


@pytest.mark.parametrize("solver, names", [
    ("sgd", {"velocity": "velocities"}),
    ("adam", {"exp_avg": "ms", "exp_avg_sq": "vs"}),
])
def test_the_optimizers_state_is_sklearns_in_the_runs_layout_from_call_to_call(solver, names):
    ours, theirs = _both(solver, hidden_layer_sizes=(7, 5))
    for call in range(3):
        for est in (ours, theirs):
            est.partial_fit(X_DIGITS, Y_DIGITS, classes=CLASSES)
        state, expected = ours._optimizer.state_dict(), _sklearn_state(theirs._optimizer, names)
        for name in names:
            np.testing.assert_allclose(state[name], expected[name], rtol=1e-8,
                                       atol=1e-8 * np.abs(expected[name]).max())
    assert_same_parameters(ours, theirs)


@pytest.mark.parametrize("Estimator, solver", [(MLPClassifier, "sgd"), (MLPClassifier, "adam"),
                                               (MLPRegressor, "adam"),
                                               (MLPRegressor, "lbfgs")])
def test_a_dense_input_folded_with_ones_trains_as_the_same_sparse_input(Estimator, solver):
    rng = np.random.default_rng(3)
    X = np.where(X_DIGITS > 0.4, X_DIGITS, 0.0)
    y = Y_DIGITS if Estimator is MLPClassifier else X @ rng.normal(size=X.shape[1])
    weights = rng.uniform(0.2, 2.0, len(y))
    fitted = []
    for inputs in (X, scipy.sparse.csr_matrix(X)):
        est = Estimator(hidden_layer_sizes=(6, 5), solver=solver, random_state=0, max_iter=12,
                        batch_size=16, learning_rate_init=0.01, alpha=0.01)
        fitted.append(_quietly(est.fit, inputs, y, sample_weight=weights))
    dense, sparse = fitted
    assert_same_parameters(sparse, dense, rtol=1e-11)
    np.testing.assert_allclose(sparse.loss_, dense.loss_, rtol=1e-12)


N_PARAMS = 64 * 7 + 7 + 7 * 4 + 4


def _interrupt_sgd_update(monkeypatch, call):
    """Make the SGD update's BLAS ``axpy`` raise KeyboardInterrupt on its ``call``-th call."""
    from matnn.sklearn import _optimizers

    real, calls = _optimizers.get_blas_funcs, []

    def blas_funcs(names, arrays):
        scal, axpy = real(names, arrays)

        def cut(*args, **kwargs):
            calls.append(None)
            if len(calls) == call:
                raise KeyboardInterrupt
            return axpy(*args, **kwargs)

        return scal, cut

    monkeypatch.setattr(_optimizers, "get_blas_funcs", blas_funcs)


# Cut inside step 8: 7 steps completed, then the cut's call of that step.
CUTS = {
    # Adam's one sqrt: its moments are updated, the parameters not yet.
    "adam": lambda monkeypatch, interrupt_numpy: interrupt_numpy(
        "sqrt", 7 + 1, only=lambda a, *rest: np.shape(a) == (N_PARAMS,)),
    # Nesterov SGD's second of three axpys: the velocity is updated, the parameters not yet.
    "sgd": lambda monkeypatch, interrupt_numpy: _interrupt_sgd_update(monkeypatch, 7 * 3 + 2),
}


@pytest.mark.parametrize("solver", ["adam", "sgd"])
def test_ctrl_c_inside_a_step_leaves_the_parameters_and_state_of_the_last_completed_step(
        monkeypatch, interrupt_numpy, solver):
    # 120 rows in batches of 24: 5 steps an epoch. Cut inside step 8, the
    # third of epoch 2: the run replays that epoch's first two.
    ours, theirs = _both(solver, shuffle=False, max_iter=4)
    CUTS[solver](monkeypatch, interrupt_numpy)
    with pytest.warns(UserWarning, match="interrupted"):
        ours.fit(X_DIGITS, Y_DIGITS)
    monkeypatch.undo()
    # scikit-learn's 7 steps: an epoch, then the first 2 batches of the next.
    theirs.partial_fit(X_DIGITS, Y_DIGITS, classes=CLASSES)
    theirs.partial_fit(X_DIGITS[:48], Y_DIGITS[:48])
    assert_same_parameters(ours, theirs)
    # The optimizer's state is at the same step: the next steps agree too.
    ours.partial_fit(X_DIGITS, Y_DIGITS)
    theirs.partial_fit(X_DIGITS, Y_DIGITS)
    assert_same_parameters(ours, theirs)
