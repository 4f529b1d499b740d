"""The pieces of scikit-learn's training strategy, each against scikit-learn's own.

scikit-learn's optimizer classes, loss functions and initialisation are
called here as references (they are private to scikit-learn, so these
tests pin the behaviour of the version installed); matnn's pieces must give
the same numbers.
"""

import numpy as np
import pytest
import scipy.sparse

pytest.importorskip("sklearn")
from sklearn.neural_network import MLPClassifier as SklearnClassifier  # noqa: E402
from sklearn.neural_network._base import LOSS_FUNCTIONS  # noqa: E402
from sklearn.neural_network._stochastic_optimizers import (  # noqa: E402
    AdamOptimizer,
    SGDOptimizer,
)
from sklearn.preprocessing import LabelBinarizer  # noqa: E402
from sklearn.utils import shuffle as sklearn_shuffle  # noqa: E402

from matnn.sklearn import MLPClassifier  # noqa: E402
from matnn.sklearn._optimizers import BiasCorrectedStepAdam, VelocitySGD  # noqa: E402
from matnn.sklearn._training import (  # noqa: E402
    OBJECTIVES,
    ReshuffledOrder,
    SklearnRun,
    initial_layers,
)

pytestmark = pytest.mark.usefixtures("one_blas_thread")

RNG = np.random.default_rng(0)


def _gradients(n, steps, dtype=np.float64):
    return [RNG.normal(size=n).astype(dtype) for _ in range(steps)]


@pytest.mark.parametrize("nesterov", [True, False])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_velocity_sgd_steps_as_sklearns_sgd_while_the_rate_changes(nesterov, momentum):
    start = RNG.normal(size=7)
    theirs, ours = [start.copy()], start.copy()
    peer = SGDOptimizer(theirs, 0.1, "invscaling", momentum, nesterov, power_t=0.5)
    mine = VelocitySGD(0.1, momentum, nesterov)
    for t, g in enumerate(_gradients(7, 12)):
        peer.update_params(theirs, [g.copy()])
        mine.step(ours, g.copy())
        # the schedule moves both rates between steps
        peer.iteration_ends(t)
        mine.rate = peer.learning_rate
    # Each multiply-add rounds once here (BLAS's axpy) where scikit-learn rounds twice.
    np.testing.assert_allclose(ours, theirs[0], rtol=1e-14, atol=1e-16)


def test_velocity_sgd_differs_from_pytorchs_rule_once_the_rate_changes():
    import matnn

    start = RNG.normal(size=5)
    ours, torch_rule = start.copy(), start.copy()
    mine, sgd = VelocitySGD(0.1, 0.9, False), matnn.SGD(0.1, momentum=0.9)
    for t, g in enumerate(_gradients(5, 6)):
        mine.step(ours, g.copy())
        sgd.step(torch_rule, g.copy())
        if t == 2:
            mine.rate = 0.01
            sgd = matnn.SGD(0.01, momentum=0.9)
            sgd.load_state_dict(sgd_state)
        sgd_state = sgd.state_dict()
    assert not np.allclose(ours, torch_rule, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bias_corrected_step_adam_steps_as_sklearns_adam(dtype):
    start = RNG.normal(size=9).astype(dtype)
    theirs, ours = [start.copy()], start.copy()
    peer = AdamOptimizer(theirs, 0.01, 0.8, 0.99, 1e-4)
    mine = BiasCorrectedStepAdam(0.01, (0.8, 0.99), 1e-4)
    for g in _gradients(9, 15, dtype):
        peer.update_params(theirs, [g.copy()])
        mine.step(ours, g.copy())
    assert ours.dtype == dtype
    if dtype == np.float64:
        np.testing.assert_array_equal(ours, theirs[0])
    else:
        # scikit-learn forms a float32 network's step in float64; matnn in float32.
        np.testing.assert_allclose(ours, theirs[0], rtol=1e-6)


def test_sklearns_adam_is_not_pytorchs():
    import matnn

    start = RNG.normal(size=4)
    ours, torch_rule = start.copy(), start.copy()
    mine, adam = BiasCorrectedStepAdam(0.01, eps=1e-3), matnn.Adam(0.01, eps=1e-3)
    for g in _gradients(4, 5):
        mine.step(ours, g.copy())
        adam.step(torch_rule, g.copy())
    assert not np.allclose(ours, torch_rule, rtol=1e-6)


def _probabilities(n, k, dtype, softmax):
    Z = RNG.normal(scale=3, size=(n, k))
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True) if softmax else 1 / (1 + np.exp(-Z))
    P[0, 0] = 1.0  # a saturated output, which the log loss clips
    return P.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", ["squared_error", "poisson", "log_loss", "binary_log_loss"])
def test_each_objective_is_sklearns_loss(name, weighted, dtype):
    n, k = 13, 4
    if name == "log_loss":
        P = _probabilities(n, k, dtype, softmax=True)
        Y = np.eye(k)[RNG.integers(0, k, n)].astype(dtype)
    elif name == "binary_log_loss":
        P = _probabilities(n, k, dtype, softmax=False)
        Y = RNG.integers(0, 2, (n, k)).astype(dtype)
    elif name == "poisson":
        P = np.exp(RNG.normal(size=(n, k))).astype(dtype)
        Y = RNG.poisson(2.0, (n, k)).astype(dtype)
    else:
        P, Y = RNG.normal(size=(n, k)).astype(dtype), RNG.normal(size=(n, k)).astype(dtype)
    w = RNG.uniform(0.1, 2.0, n).astype(dtype) if weighted else None
    total = n if w is None else w.sum()
    got = OBJECTIVES[name].value(Y, P, None if w is None else w[:, None], total,
                                 np.empty_like(P))
    expected = LOSS_FUNCTIONS[name](Y, P, w)
    np.testing.assert_allclose(got, expected, rtol=1e-12 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("activation", ["relu", "logistic"])
def test_the_start_is_sklearns(activation):
    peer = SklearnClassifier(activation=activation)
    peer._random_state = np.random.RandomState(5)
    sizes = [6, 4, 3, 2]
    expected = [peer._init_coef(i, o, np.float64) for i, o in zip(sizes[:-1], sizes[1:])]
    factor = 2.0 if activation == "logistic" else 6.0
    got = initial_layers(np.random.RandomState(5), sizes, [factor] * 3, np.float64)
    for (W, b), (coef, intercept) in zip(got, expected):
        np.testing.assert_array_equal(W, coef.T)
        np.testing.assert_array_equal(b, intercept)


def test_each_epochs_order_shuffles_the_previous_one():
    order = ReshuffledOrder(10, np.random.RandomState(0))
    got = [order(10).copy() for _ in range(4)]
    # scikit-learn's own reshuffle, with a generator of the same seed
    rs, expected = np.random.RandomState(0), np.arange(10)
    for epoch in got:
        expected = sklearn_shuffle(expected, random_state=rs)
        np.testing.assert_array_equal(epoch, expected)
    assert len({tuple(epoch) for epoch in got}) == 4


def _run(sizes, alpha, rows, objective="squared_error", seed=0, sparse=False):
    import matnn

    rng = np.random.default_rng(seed)
    acts = ["tanh"] * (len(sizes) - 2) + [OBJECTIVES[objective].output]
    net = matnn.Network([matnn.Dense(rng.normal(size=(o, i)), rng.normal(size=o), act)
                         for i, o, act in zip(sizes[:-1], sizes[1:], acts)])
    return SklearnRun(net, None, rows, OBJECTIVES[objective], alpha, sparse)


def test_the_gradient_is_the_finite_difference_of_the_loss_with_weights_and_l2():
    # One output: with k outputs scikit-learn reports the squared error
    # averaged over them, but its gradient is that of their sum.
    X = RNG.normal(size=(9, 3))
    Y = RNG.normal(size=(9, 1))
    w = RNG.uniform(0.2, 2.0, 9)
    run = _run((3, 4, 1), alpha=0.3, rows=9)
    run.loss_and_gradient(X, Y, w)
    analytic = run.grad.copy()
    numeric = np.empty_like(analytic)
    for i in range(run.params.size):
        keep = run.params[i]
        run.params[i] = keep + 1e-6
        up = run.loss_and_gradient(X, Y, w)
        run.params[i] = keep - 1e-6
        down = run.loss_and_gradient(X, Y, w)
        run.params[i] = keep
        numeric[i] = (up - down) / 2e-6
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_integer_weights_are_repeated_rows():
    X = RNG.normal(size=(6, 3))
    Y = RNG.normal(size=(6, 2))
    counts = np.array([1, 3, 2, 1, 4, 2])
    run = _run((3, 5, 2), alpha=0.1, rows=18)
    weighted = run.loss_and_gradient(X, Y, counts.astype(float))
    weighted_grad = run.grad.copy()
    repeated = run.loss_and_gradient(np.repeat(X, counts, axis=0), np.repeat(Y, counts, axis=0),
                                     None)
    np.testing.assert_allclose(weighted, repeated, rtol=1e-13)
    np.testing.assert_allclose(weighted_grad, run.grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_a_sparse_first_layer_gives_the_dense_loss_and_gradient(fmt):
    X = RNG.normal(size=(8, 6)) * (RNG.uniform(size=(8, 6)) < 0.3)
    Y = np.eye(3)[RNG.integers(0, 3, 8)]
    run = _run((6, 4, 3), alpha=0.01, rows=8, objective="log_loss")
    dense = run.loss_and_gradient(X, Y, None)
    sparse_run = _run((6, 4, 3), alpha=0.01, rows=8, objective="log_loss", sparse=True)
    sparse = sparse_run.loss_and_gradient(scipy.sparse.csr_matrix(X).asformat(fmt), Y, None)
    np.testing.assert_allclose(sparse, dense, rtol=1e-14)
    np.testing.assert_allclose(sparse_run.grad, run.grad, rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("y, classes", [
    (np.array([2, 0, 1, 2, 1]), None),
    (np.array([1.0, 3.0, 2.0, 3.0]), None),
    (np.array(["bee", "ant", "cat", "ant"], dtype=object), None),
    (np.array(["no", "yes", "yes"]), None),
    (np.array([-1, 1, 1, -1]), None),
    (np.array([True, False, True]), None),
    (np.array([7, 7, 7]), None),
    (np.array([[1, 0, 1], [0, 1, 1], [0, 0, 0]]), None),
    # partial_fit's classes may be more than one call's y holds
    (np.array([0, 2, 2]), np.arange(4)),
    (np.array([1, 1]), np.arange(2)),
])
def test_targets_are_encoded_as_the_label_binarizer_encodes_them(y, classes):
    binarizer = LabelBinarizer().fit(y if classes is None else classes)
    clf = MLPClassifier()
    clf._label_binarizer = binarizer
    got = clf._encoded(y)
    assert got.dtype == bool
    np.testing.assert_array_equal(got, binarizer.transform(y).astype(bool))


@pytest.mark.parametrize("make", [lambda: VelocitySGD(0.1, 0.9, True),
                                  lambda: BiasCorrectedStepAdam(0.1)])
def test_the_blas_updates_refuse_a_strided_vector_rather_than_update_a_copy(make):
    # BLAS writes in place only into a contiguous vector; scipy's wrapper
    # would otherwise return an updated copy and leave the parameters as
    # they were.
    optimizer = make()
    before = optimizer.state_dict()
    params = np.ones(20)[::2]
    with pytest.raises(ValueError, match=r"contiguous vector .* shape \(10,\)"):
        optimizer.step(params, np.ones(10))
    np.testing.assert_array_equal(params, 1.0)
    assert repr(optimizer.state_dict()) == repr(before)
    contiguous = params.copy()
    optimizer.step(contiguous, np.ones(10))
    assert (contiguous < 1).all()
