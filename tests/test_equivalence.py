"""The matrix network is the document's scalar network: outputs, gradients, training.

Tolerances are relative, about 1e-12, with no absolute slack. They are not 0
because the two forms differ in rounding only: the shim's sigmoid is
``1 / (1 + exp(-x))`` and the matrix form's is ``scipy.special.expit``, which
disagree in the last bit for ~2% of inputs, and products are grouped
differently. To keep a last-bit difference from being magnified by
cancellation (``1 - h`` for ``h`` near 1, or ``y - y_pred`` for ``y_pred``
near ``y``), the strategies keep every pre-activation within about +-7 and the
labels at the document's 0 and 1.
"""

import contextlib
import copy
import io

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from matnn import ACTIVATIONS, Dense, Network, data, scalar

RTOL = 1e-12

weights = st.floats(-1.5, 1.5)
biases = st.floats(-1.0, 1.0)
features = st.floats(-2.0, 2.0, allow_subnormal=False)
labels = st.sampled_from([0.0, 1.0])


@st.composite
def document_networks(draw):
    """An OurNeuralNetwork with bounded parameters (|pre-activations| <= 7)."""
    params = {n: draw(weights if n.startswith("w") else biases) for n in scalar.PARAM_NAMES}
    return scalar.OurNeuralNetwork(**params)


@st.composite
def datasets(draw, min_size=1, max_size=6):
    n = draw(st.integers(min_size, max_size))
    X = np.array([[draw(features), draw(features)] for _ in range(n)])
    y = np.array([draw(labels) for _ in range(n)])
    return X, y


def assert_close(actual, expected, rtol=RTOL, scale=0.0):
    """Elementwise ``|a - e| <= rtol * max(|a|, |e|, scale)``: relative, no absolute slack.

    ``scale`` is for values reached by adding terms larger than the result
    (the parameters along a training path). The one floor is float64's
    smallest normal number (2.2e-308): below it numbers are subnormal and
    carry too few bits for any relative bound (a feature of 1e-306 makes
    ``dL/dw1`` about 1e-308).
    """
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    assert actual.shape == expected.shape
    size = np.maximum(np.maximum(np.abs(actual), np.abs(expected)), scale)
    bound = rtol * size + np.finfo(float).tiny
    bad = np.abs(actual - expected) > bound
    assert not bad.any(), (
        f"mismatch at {np.argwhere(bad).tolist()}: actual {actual[bad]}, expected {expected[bad]}"
    )


def scalar_gradient_matrices(grads):
    """The nine scalar partials laid out as [(dW1, db1), (dW2, db2)]."""
    g = grads
    return [
        (np.array([[g["w1"], g["w2"]], [g["w3"], g["w4"]]]), np.array([g["b1"], g["b2"]])),
        (np.array([[g["w5"], g["w6"]]]), np.array([g["b3"]])),
    ]


def quiet_train(net, X, y, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()) as out:
        net.train(X, y, **kwargs)
    return out.getvalue().splitlines()


# -- the bridge --------------------------------------------------------------

@given(document_networks())
def test_bridge_round_trip_from_scalar_is_exact(doc_net):
    back = scalar.from_network(scalar.to_network(doc_net))
    assert back.params() == doc_net.params()


@given(document_networks())
def test_bridge_places_each_symbol_at_its_matrix_entry(doc_net):
    p = doc_net.params()
    (W1, b1), (W2, b2) = [(layer.W, layer.b) for layer in scalar.to_network(doc_net).layers]
    assert W1.tolist() == [[p["w1"], p["w2"]], [p["w3"], p["w4"]]]
    assert b1.tolist() == [p["b1"], p["b2"]]
    assert W2.tolist() == [[p["w5"], p["w6"]]]
    assert b2.tolist() == [p["b3"]]


def test_bridge_round_trip_from_network_is_exact():
    net = Network.from_sizes([2, 2, 1], seed=3)
    net.layers[0].b[:] = [0.25, -0.5]
    back = scalar.to_network(scalar.from_network(net))
    assert back.params.tobytes() == net.params.tobytes()


def test_bridge_round_trip_of_a_float32_network_keeps_its_values():
    net = Network.from_sizes([2, 2, 1], seed=3, dtype=np.float32)
    back = scalar.to_network(scalar.from_network(net))
    assert back.dtype == np.float64
    assert back.params.tolist() == net.params.astype(np.float64).tolist()


@pytest.mark.parametrize(
    "net, message",
    [
        (Network.from_sizes([2, 3, 1], seed=0), "sizes \\(2, 3, 1\\)"),
        (Network.from_sizes([2, 2, 1], activation="tanh", seed=0), "sigmoid"),
    ],
)
def test_bridge_refuses_networks_the_scalar_form_cannot_express(net, message):
    with pytest.raises(ValueError, match=message):
        scalar.from_network(net)


def test_shim_needs_all_nine_parameters_or_none():
    with pytest.raises(TypeError, match="missing \\['w2'"):
        scalar.OurNeuralNetwork(w1=1.0)


# -- outputs and gradients -----------------------------------------------------

@given(document_networks(), datasets())
def test_predict_equals_scalar_feedforward(doc_net, dataset):
    X, _ = dataset
    expected = np.array([[doc_net.feedforward(x)] for x in X])
    assert_close(scalar.to_network(doc_net).predict(X), expected)


@given(document_networks(), features, features, labels)
def test_gradients_equal_the_nine_scalar_partials(doc_net, x1, x2, y_true):
    x = np.array([x1, x2])
    matrix = scalar.to_network(doc_net).gradients(x.reshape(1, 2), [y_true])
    for (dW, db), (sW, sb) in zip(matrix, scalar_gradient_matrices(doc_net.gradients(x, y_true))):
        assert_close(dW, sW)
        assert_close(db, sb)


@given(document_networks(), datasets())
def test_loss_equals_scalar_mse(doc_net, dataset):
    X, y = dataset
    assert_close(scalar.to_network(doc_net).loss(X, y), doc_net.loss(X, y))


# -- training ---------------------------------------------------------------------

# Random networks may train worse; equality is what is tested.
@pytest.mark.filterwarnings("ignore::matnn.LossIncreasedWarning")
@given(document_networks(), datasets(), st.floats(0.01, 1.0))
def test_one_epoch_of_batch_1_fit_equals_the_scalar_train_steps(doc_net, dataset, rate):
    X, y = dataset
    net = scalar.to_network(doc_net)
    history = net.fit(X, y, epochs=1, learning_rate=rate, batch_size=1, shuffle=False)
    # The same steps one sample at a time, to see how large each parameter got
    # on the way: a parameter that ends small after larger steps carries their
    # rounding, which a bound relative to its end value alone would miss.
    replay = copy.deepcopy(doc_net)
    path = [scalar.to_network(replay).params]
    for i in range(len(X)):
        quiet_train(replay, X[i:i + 1], y[i:i + 1], learn_rate=rate, epochs=1)
        path.append(scalar.to_network(replay).params)
    lines = quiet_train(doc_net, X, y, learn_rate=rate, epochs=1)
    assert_close(net.params, scalar.to_network(doc_net).params,
                 scale=np.max(np.abs(path), axis=0))
    assert lines == ["Epoch 0 loss: %.3f" % history[0]]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_full_document_session_matrix_fit_ends_within_1e_12_of_the_shim(seed):
    np.random.seed(seed)
    doc_net = scalar.OurNeuralNetwork()
    net = scalar.to_network(doc_net)
    quiet_train(doc_net, data.X, data.y)
    net.fit(data.X, data.y, epochs=1000, learning_rate=0.1, batch_size=1, shuffle=False)
    np.testing.assert_allclose(net.params, scalar.to_network(doc_net).params, rtol=0, atol=1e-12)


def test_golden_log_matrix_fit_prints_the_same_lines_as_the_shim(capsys):
    np.random.seed(42)
    doc_net = scalar.OurNeuralNetwork()
    net = scalar.to_network(doc_net)
    logged = doc_net.train(data.X, data.y)
    scalar_lines = capsys.readouterr().out.splitlines()
    history = net.fit(data.X, data.y, epochs=1000, learning_rate=0.1, batch_size=1,
                      shuffle=False, log_every=10)
    matrix_lines = capsys.readouterr().out.splitlines()
    assert len(scalar_lines) == 100
    assert matrix_lines == scalar_lines
    epochs, losses = zip(*logged)
    assert_close(history[list(epochs)], losses, rtol=1e-11)


# -- laws of the batch form, for any architecture ---------------------------------

@st.composite
def networks(draw, activations=tuple(ACTIVATIONS)):
    """A small random Network: depth 1-3, widths 1-4, weights ~ N(0, 1/fan_in)."""
    sizes = draw(st.lists(st.integers(1, 4), min_size=2, max_size=4))
    acts = [draw(st.sampled_from(activations)) for _ in sizes[1:]]
    # Over one unit softmax is the constant 1, which a Dense layer refuses.
    sizes = sizes[:1] + [max(n, 2) if act == "softmax" else n for n, act in zip(sizes[1:], acts)]
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    layers = [
        Dense(rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in)), rng.normal(0, 0.5, n_out), act)
        for n_in, n_out, act in zip(sizes[:-1], sizes[1:], acts)
    ]
    return Network(layers)


@st.composite
def networks_with_batches(draw, activations=tuple(ACTIVATIONS), max_n=8):
    net = draw(networks(activations))
    n = draw(st.integers(1, max_n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.uniform(-2, 2, (n, net.n_in))
    y = rng.uniform(-1, 1, (n, net.n_out))
    return net, X, y


@given(networks_with_batches())
def test_batch_gradient_is_the_mean_of_per_sample_gradients(case):
    net, X, y = case
    batch = net.gradients(X, y)
    per_sample = [net.gradients(X[i:i + 1], y[i:i + 1]) for i in range(len(X))]
    for layer, (dW, db) in enumerate(batch):
        mean_dW = np.mean([g[layer][0] for g in per_sample], axis=0)
        mean_db = np.mean([g[layer][1] for g in per_sample], axis=0)
        # Summation order differs, so compare against the size of the summands.
        scale_W = np.mean([np.abs(g[layer][0]) for g in per_sample], axis=0)
        scale_b = np.mean([np.abs(g[layer][1]) for g in per_sample], axis=0)
        assert np.all(np.abs(dW - mean_dW) <= 1e-12 * scale_W)
        assert np.all(np.abs(db - mean_db) <= 1e-12 * scale_b)


def _magnitude(net, X):
    """What each output is a sum of, in size: the network on |X| with |W|, |b|, no activations.

    Every activation here is at most about 1-Lipschitz, so two ways of rounding
    the same sums (a batch product and a row product) can differ by no more
    than a few ulps of this; a relative bound on the output itself would fail
    where a sum cancels to nearly 0.
    """
    A = np.abs(X)
    for layer in net.layers:
        A = A @ np.abs(layer.W).T + np.abs(layer.b)
    return A


@given(networks_with_batches(), st.randoms(use_true_random=False))
def test_batch_predict_is_row_by_row_and_permutation_equivariant(case, random):
    net, X, _ = case
    batch = net.predict(X)
    rows = np.vstack([net.predict(X[i:i + 1]) for i in range(len(X))])
    bound = RTOL * (np.abs(batch) + _magnitude(net, X))
    assert (np.abs(batch - rows) <= bound).all()
    order = list(range(len(X)))
    random.shuffle(order)
    assert (np.abs(net.predict(X[order]) - batch[order]) <= bound[order]).all()


def _pre_activations(net, X):
    """Every layer's Z for X, to see which side of a kink each unit is on."""
    zs, A = [], X
    for layer in net.layers:
        Z = A @ layer.W.T + layer.b
        zs.append(Z)
        A = layer.activation.function(Z)
    return zs


@given(networks_with_batches())
def test_analytic_gradients_equal_central_differences(case):
    net, X, y = case
    analytic = np.concatenate([np.concatenate([dW.ravel(), db]) for dW, db in net.gradients(X, y)])
    h = 1e-6
    signs = [np.sign(z) for z in _pre_activations(net, X)]
    checked = 0
    for i in range(net.params.size):
        original = net.params[i]
        net.params[i] = original + h
        plus, plus_signs = net.loss(X, y), [np.sign(z) for z in _pre_activations(net, X)]
        net.params[i] = original - h
        minus, minus_signs = net.loss(X, y), [np.sign(z) for z in _pre_activations(net, X)]
        net.params[i] = original
        kinked = any(
            layer.activation.kinks and not (np.array_equal(s, p) and np.array_equal(s, m))
            for layer, s, p, m in zip(net.layers, signs, plus_signs, minus_signs)
        )
        if kinked:
            # The loss is not differentiable across relu's kink at this step size.
            continue
        numeric = (plus - minus) / (2 * h)
        # Truncation error is O(h^2), far below 1e-6 relative; rounding in the
        # two loss evaluations adds about eps * |L| / h, which no tolerance on
        # the gradient alone can absorb, so it is allowed for explicitly.
        rounding = 64 * np.finfo(float).eps * max(abs(plus), abs(minus)) / h
        assert abs(analytic[i] - numeric) <= 1e-6 * max(abs(analytic[i]), abs(numeric)) + rounding, (
            i, analytic[i], numeric)
        checked += 1
    assert checked > 0
