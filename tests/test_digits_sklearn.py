"""matnn against scikit-learn's MLPClassifier on the 8x8 digits.

scikit-learn stores a layer as ``coefs_[i]`` of shape (n_in, n_out) and
``intercepts_[i]``, so matnn's ``W`` is ``coefs_[i].T`` and ``b`` is
``intercepts_[i]``. Its SGD keeps a velocity ``v <- momentum * v -
learning_rate * g`` and adds it to the parameters; PyTorch's SGD (and
matnn's) keeps ``buf <- momentum * buf + g`` and subtracts
``learning_rate * buf``. With a constant learning rate ``v = -learning_rate
* buf`` at every step, so the rules are one: the first test checks that on
torch, the others compare matnn with scikit-learn directly.
"""

import warnings

import numpy as np
import pytest

import matnn
from matnn import digits

sklearn = pytest.importorskip("sklearn")
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import accuracy_score  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

HIDDEN, BATCH, EPOCHS, LEARNING_RATE, MOMENTUM = 16, 32, 3, 0.05, 0.9


@pytest.fixture(scope="module")
def split():
    return digits.load(0)


def starting_weights(sizes, seed):
    """``[(W, b), ...]`` drawn like scikit-learn's Glorot-uniform start."""
    rng = np.random.default_rng(seed)
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bound = np.sqrt(6.0 / (n_in + n_out))
        layers.append((rng.uniform(-bound, bound, (n_out, n_in)), rng.uniform(-bound, bound, n_out)))
    return layers


def fit_quietly(clf, X, y):
    with warnings.catch_warnings():
        # Stopping after max_iter epochs is what these runs ask for.
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(X, y)


def sklearn_sgd(start, X, y, epochs):
    """MLPClassifier trained from ``start`` with plain momentum SGD, batches in order.

    A first one-epoch ``fit`` makes scikit-learn allocate its parameters;
    they are then overwritten with ``start``, and with ``warm_start=True``
    the second ``fit`` keeps them and starts a fresh optimizer.
    """
    clf = MLPClassifier(
        hidden_layer_sizes=(start[0][0].shape[0],), activation="tanh", solver="sgd",
        alpha=0.0, batch_size=BATCH, learning_rate="constant", learning_rate_init=LEARNING_RATE,
        momentum=MOMENTUM, nesterovs_momentum=False, shuffle=False, warm_start=True,
        max_iter=1, tol=0.0, n_iter_no_change=epochs, random_state=0,
    )
    fit_quietly(clf, X, y)
    for coef, intercept, (W, b) in zip(clf.coefs_, clf.intercepts_, start):
        coef[...] = W.T
        intercept[...] = b
    clf.set_params(max_iter=epochs)
    return fit_quietly(clf, X, y)


def network_from_sklearn(clf, activations, loss):
    layers = [matnn.Dense(coef.T, intercept, act)
              for coef, intercept, act in zip(clf.coefs_, clf.intercepts_, activations)]
    return matnn.Network(layers, loss=loss)


@pytest.fixture
def torch_one_thread():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    # Batches of 32 are far too small for threads: on a busy machine two of
    # them make this loop 20 times slower.
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(before)


def test_sklearn_momentum_sgd_is_torchs_rule(split, torch_one_thread):
    torch = torch_one_thread
    start = starting_weights([64, HIDDEN, 10], seed=1)
    clf = sklearn_sgd(start, split.X_train, split.y_train, EPOCHS)

    linears = [torch.nn.Linear(64, HIDDEN).double(), torch.nn.Linear(HIDDEN, 10).double()]
    with torch.no_grad():
        for linear, (W, b) in zip(linears, start):
            linear.weight.copy_(torch.from_numpy(W))
            linear.bias.copy_(torch.from_numpy(b))
    model = torch.nn.Sequential(linears[0], torch.nn.Tanh(), linears[1])
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
    X, y = torch.from_numpy(split.X_train), torch.from_numpy(split.y_train)
    for _ in range(EPOCHS):
        for i in range(0, len(X), BATCH):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(X[i:i + BATCH]), y[i:i + BATCH]).backward()
            optimizer.step()

    for coef, intercept, linear in zip(clf.coefs_, clf.intercepts_, linears):
        np.testing.assert_allclose(coef.T, linear.weight.detach().numpy(), rtol=1e-11, atol=1e-13)
        np.testing.assert_allclose(intercept, linear.bias.detach().numpy(), rtol=1e-11, atol=1e-13)
    # The run moved far from the start, so agreeing says something.
    assert np.abs(clf.coefs_[0].T - start[0][0]).max() > 0.1


def test_momentum_sgd_matches_sklearn_parameters_after_three_epochs(split):
    start = starting_weights([64, HIDDEN, 10], seed=2)
    clf = sklearn_sgd(start, split.X_train, split.y_train, EPOCHS)

    net = matnn.Network([matnn.Dense(W, b, act) for (W, b), act in zip(start, ["tanh", "softmax"])],
                        loss="cross_entropy")
    net.fit(split.X_train, split.y_train, epochs=EPOCHS, batch_size=BATCH, shuffle=False,
            optimizer=matnn.SGD(LEARNING_RATE, momentum=MOMENTUM, nesterov=False))

    for layer, coef, intercept in zip(net.layers, clf.coefs_, clf.intercepts_):
        np.testing.assert_allclose(layer.W, coef.T, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(layer.b, intercept, rtol=1e-9, atol=1e-12)
    assert np.abs(clf.coefs_[0].T - start[0][0]).max() > 0.1


def test_classify_accuracy_and_probabilities_agree_with_sklearn(split):
    clf = sklearn_sgd(starting_weights([64, HIDDEN, 10], seed=3),
                      split.X_train, split.y_train, EPOCHS)
    net = network_from_sklearn(clf, ["tanh", "softmax"], "cross_entropy")
    predicted = clf.predict(split.X_test)

    np.testing.assert_array_equal(net.classify(split.X_test), predicted)
    np.testing.assert_allclose(net.predict(split.X_test), clf.predict_proba(split.X_test),
                               rtol=1e-12, atol=1e-15)
    expected = accuracy_score(split.y_test, predicted)
    assert 0.8 < expected < 1.0
    assert net.accuracy(split.X_test, split.y_test) == pytest.approx(expected, abs=1e-15)
    one_hot = np.eye(10)[split.y_test]
    assert net.accuracy(split.X_test, one_hot) == pytest.approx(expected, abs=1e-15)


def test_one_output_classify_thresholds_like_sklearns_binary_classifier(split):
    # Odd digits against even: scikit-learn gives a binary problem one logistic output.
    y_train, y_test = split.y_train % 2, split.y_test % 2
    clf = sklearn_sgd(starting_weights([64, HIDDEN, 1], seed=4), split.X_train, y_train, 1)
    assert clf.out_activation_ == "logistic"
    net = network_from_sklearn(clf, ["tanh", "sigmoid"], "binary_cross_entropy")
    predicted = clf.predict(split.X_test)

    assert 0 < predicted.sum() < predicted.size
    np.testing.assert_array_equal(net.classify(split.X_test).ravel(), predicted)
    assert net.accuracy(split.X_test, y_test) == pytest.approx(
        accuracy_score(y_test, predicted), abs=1e-15)
