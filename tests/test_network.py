"""The matrix network's contract: shapes, dtypes, errors, initialisation and fit."""

import threading

import numpy as np
import pytest

from matnn import ACTIVATIONS, Dense, Network, data, mse
from matnn.backprop import BLOCK_ROWS


@pytest.fixture
def net():
    return Network.from_sizes([2, 3, 1], seed=0)


# -- construction --------------------------------------------------------------

def test_dense_checks_that_w_and_b_agree():
    with pytest.raises(ValueError, match=r"b has shape \(3,\) but W has shape \(2, 2\)"):
        Dense(np.ones((2, 2)), np.zeros(3))


def test_dense_needs_a_matrix():
    with pytest.raises(ValueError, match=r"W must be 2-D .* got shape \(2,\)"):
        Dense(np.ones(2), np.zeros(2))


def test_dense_refuses_an_unknown_activation():
    with pytest.raises(ValueError, match="unknown activation 'swish'; choose one of"):
        Dense(np.ones((1, 2)), np.zeros(1), "swish")


def test_dense_refuses_non_numeric_weights():
    with pytest.raises(TypeError, match="W must hold numbers"):
        Dense([["a", "b"]], [0.0])


def test_dense_refuses_nan_weights():
    with pytest.raises(ValueError, match=r"W contains NaN or inf \(first at index \(0, 1\)"):
        Dense([[0.0, np.nan]], [0.0])


def test_network_checks_that_layers_chain():
    with pytest.raises(ValueError, match=r"layers\[0\] has 3 outputs .* layers\[1\] takes 2 inputs"):
        Network([Dense(np.ones((3, 2)), np.zeros(3)), Dense(np.ones((1, 2)), np.zeros(1))])


def test_network_needs_dense_layers():
    with pytest.raises(TypeError, match=r"layers\[0\] must be a Dense layer"):
        Network([np.ones((2, 2))])
    with pytest.raises(ValueError, match="at least one layer"):
        Network([])


def test_network_copies_parameters_from_the_layers_it_is_given():
    layer = Dense(np.ones((1, 2)), np.zeros(1))
    net = Network([layer])
    layer.W[0, 0] = 5.0
    assert net.layers[0].W[0, 0] == 1.0


def test_layer_views_and_flat_params_are_the_same_memory(net):
    net.layers[0].W[1, 0] = 7.0
    assert net.params[2] == 7.0
    net.params[-1] = -3.0
    assert net.layers[1].b[0] == -3.0
    with pytest.raises(AttributeError):
        net.layers[0].W = np.zeros((3, 2))


def test_from_sizes_is_seeded_and_documents_its_scheme():
    a = Network.from_sizes([4, 300, 2], activation="relu", seed=5)
    b = Network.from_sizes([4, 300, 2], activation="relu", seed=5)
    c = Network.from_sizes([4, 300, 2], activation="relu", seed=6)
    assert np.array_equal(a.params, b.params)
    assert not np.array_equal(a.params, c.params)
    W1 = a.layers[0].W
    assert W1.std() == pytest.approx(np.sqrt(2 / 4), rel=0.1)  # He for relu
    assert not a.layers[0].b.any()
    tanh = Network.from_sizes([400, 300], activation="tanh", seed=5)
    assert tanh.layers[0].W.std() == pytest.approx(np.sqrt(1 / 400), rel=0.05)


def test_from_sizes_accepts_one_activation_per_layer():
    net = Network.from_sizes([2, 3, 1], activation=["relu", "sigmoid"], seed=0)
    assert net.activations == ("relu", "sigmoid")
    with pytest.raises(ValueError, match="activation lists 1 activations but sizes"):
        Network.from_sizes([2, 3, 1], activation=["relu"])


@pytest.mark.parametrize("sizes, error", [([2], ValueError), ([2, 0], ValueError),
                                          ([2, 1.5], TypeError), (3, TypeError)])
def test_from_sizes_refuses_bad_sizes(sizes, error):
    with pytest.raises(error, match="sizes"):
        Network.from_sizes(sizes)


def test_from_sizes_refuses_integer_dtypes():
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        Network.from_sizes([2, 1], dtype=np.int64)


# -- shapes ----------------------------------------------------------------------

def test_predict_returns_one_row_per_sample(net):
    assert net.predict(np.zeros((5, 2))).shape == (5, 1)
    assert net.predict(np.zeros((0, 2))).shape == (0, 1)


def test_one_dimensional_y_is_a_column_when_there_is_one_output(net):
    assert net.loss(data.X, data.y) == net.loss(data.X, data.y.reshape(-1, 1))
    # A silent broadcast of (4,) against (4, 1) would average 16 pairs instead.
    expected = mse(data.y.reshape(-1, 1), net.predict(data.X))
    assert net.loss(data.X, data.y) == pytest.approx(expected, rel=1e-15)


def test_gradients_are_shaped_like_the_parameters(net):
    grads = net.gradients(data.X, data.y)
    assert [(dW.shape, db.shape) for dW, db in grads] == [((3, 2), (3,)), ((1, 3), (1,))]


def central_differences(f, P, h=1e-6):
    """``df/dP`` for a scalar ``f`` of the array ``P``, entry by entry."""
    grad = np.empty(P.shape)
    for index in np.ndindex(P.shape):
        up, down = P.copy(), P.copy()
        up[index] += h
        down[index] -= h
        grad[index] = (f(up) - f(down)) / (2 * h)
    return grad


def test_forward_returns_its_cache_and_backward_uses_it(net):
    activations = net.forward(data.X)
    assert [a.shape for a in activations] == [(4, 2), (4, 3), (4, 1)]
    deltas, grads = net.backward(activations, data.y)
    assert [d.shape for d in deltas] == [(4, 3), (4, 1)]
    Y = data.y.reshape(-1, 1)

    def loss_after(l, Z):
        """The MSE as a function of layer l's pre-activation Z, written out here."""
        A = 1 / (1 + np.exp(-Z))
        for layer in net.layers[l + 1:]:
            A = 1 / (1 + np.exp(-(A @ layer.W.T + layer.b)))
        return np.mean((A - Y) ** 2)

    # delta_l is dL/dZ_l at the Z the cached activations give. The differences
    # are good to about 2e-11 (a loss of 0.4 rounded, over 2e-6): hence atol.
    for l, layer in enumerate(net.layers):
        Z = activations[l] @ layer.W.T + layer.b
        expected = central_differences(lambda Z: loss_after(l, Z), Z)
        np.testing.assert_allclose(deltas[l], expected, rtol=1e-7, atol=1e-10)

    def loss_at(params):
        moved = net.copy()
        moved.params[:] = params
        return moved.loss(data.X, data.y)

    expected = central_differences(loss_at, net.params)
    got = np.concatenate([g.ravel() for pair in grads for g in pair])
    np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-10)


def test_predict_and_gradients_do_not_change_the_network(net):
    before = net.params.copy()
    net.predict(data.X)
    net.gradients(data.X, data.y)
    net.loss(data.X, data.y)
    assert np.array_equal(net.params, before)


def test_gradients_are_thread_safe():
    net = Network.from_sizes([3, 16, 2], seed=1)
    rng = np.random.default_rng(0)
    batches = [(rng.normal(size=(50, 3)), rng.normal(size=(50, 2))) for _ in range(8)]
    expected = [net.gradients(X, y) for X, y in batches]
    results = [None] * len(batches)

    def work(i):
        for _ in range(20):
            results[i] = net.gradients(*batches[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(batches))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, expected):
        for (a, b), (c, d) in zip(got, want):
            assert np.array_equal(a, c) and np.array_equal(b, d)


def test_large_batches_are_done_in_blocks_with_the_same_result():
    net = Network.from_sizes([2, 2, 1], seed=0)
    rng = np.random.default_rng(1)
    n = 2 * BLOCK_ROWS + 123
    X, y = rng.normal(size=(n, 2)), rng.uniform(size=n)
    blocked = net.gradients(X, y)
    activations = net.forward(X)
    _, whole = net.backward(activations, y)
    for (a, b), (c, d) in zip(blocked, whole):
        np.testing.assert_allclose(a, c, rtol=1e-12)
        np.testing.assert_allclose(b, d, rtol=1e-12)
    assert net.loss(X, y) == pytest.approx(mse(y.reshape(-1, 1), net.predict(X)), rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sizes", [[2, 2, 1], [3, 3, 3, 2], [4, 9, 1]])
@pytest.mark.parametrize("n", [1, 300, 5000])
def test_every_layer_is_f_of_x_at_w_transposed_plus_b_bit_for_bit(sizes, n, dtype):
    # Narrow layers over many rows add their bias unit by unit; the sums must
    # be the plain broadcast ones.
    net = Network.from_sizes(sizes, activation="tanh", seed=4, dtype=dtype)
    rng = np.random.default_rng(5)
    net.params = rng.normal(size=net.params.size)
    X = rng.normal(size=(n, sizes[0])).astype(dtype)
    A = X
    for layer, got in zip(net.layers, net.forward(X)[1:]):
        A = np.tanh(np.dot(A, layer.W.T) + layer.b)
        assert np.array_equal(got, A)


# -- dtypes -------------------------------------------------------------------------

def test_float32_network_computes_in_float32_throughout():
    net = Network.from_sizes([2, 4, 1], seed=0, dtype=np.float32)
    X = data.X  # integer input is converted to the network's dtype
    assert all(a.dtype == np.float32 for a in net.forward(X))
    assert net.predict(X).dtype == np.float32
    assert all(dW.dtype == np.float32 and db.dtype == np.float32
               for dW, db in net.gradients(X, data.y))
    net.fit(X, data.y, epochs=3, learning_rate=0.1, batch_size=2, seed=0)
    assert net.params.dtype == np.float32


def test_float32_agrees_with_float64_to_float32_precision():
    net64 = Network.from_sizes([2, 4, 1], seed=0)
    net32 = Network([Dense(l.W, l.b, l.activation, dtype=np.float32) for l in net64.layers])
    X = data.X / 10
    np.testing.assert_allclose(net32.predict(X), net64.predict(X), rtol=1e-6)
    for (a, b), (c, d) in zip(net32.gradients(X, data.y), net64.gradients(X, data.y)):
        np.testing.assert_allclose(a, c, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(b, d, rtol=1e-4, atol=1e-6)


def test_network_dtype_is_float64_when_layers_mix():
    layers = [Dense(np.ones((2, 2)), np.zeros(2), dtype=np.float32), Dense(np.ones((1, 2)), [0.0])]
    assert Network(layers).dtype == np.float64


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_extreme_pre_activations_stay_finite_without_warnings(activation, dtype):
    # Pre-activations reach +-1e4, where a naive 1 / (1 + exp(-z)) overflows.
    # Two outputs, the second the first's negative: softmax needs two.
    net = Network([Dense([[1.0, 0.0], [0.0, -1.0]], [0.0, 0.0], activation, dtype=dtype),
                   Dense([[1.0, 1.0], [-1.0, -1.0]], [0.0, 0.0], activation, dtype=dtype)])
    X = np.array([[1e4, 1e4], [-1e4, -1e4], [1e4, -1e4], [0.0, 0.0]])
    out = net.predict(X)
    assert np.isfinite(out).all()
    assert np.isfinite(net.loss(X, np.zeros((4, 2))))
    assert all(np.isfinite(dW).all() and np.isfinite(db).all()
               for dW, db in net.gradients(X, np.zeros((4, 2))))


# -- bad input ------------------------------------------------------------------------

@pytest.mark.parametrize(
    "X, message",
    [
        (np.zeros((4, 3)), r"X has 3 columns \(shape \(4, 3\)\) but the network takes 2 inputs"),
        (np.zeros(2), r"X must be 2-D .* got shape \(2,\) \(for one sample use X.reshape\(1, -1\)\)"),
        (np.zeros((2, 2, 2)), r"X must be 2-D .* got shape \(2, 2, 2\)"),
        ([[0.0, np.nan]], r"X contains NaN or inf \(first at index \(0, 1\): nan\)"),
        ([[np.inf, 0.0]], r"X contains NaN or inf"),
        ([[1, 2], [3]], "X could not be read as an array"),
    ],
)
def test_bad_features_name_the_problem(net, X, message):
    with pytest.raises(ValueError, match=message):
        net.predict(X)


def test_non_numeric_features_are_a_type_error(net):
    with pytest.raises(TypeError, match="X must hold numbers, got an array of dtype <U"):
        net.predict([["133", "65"]])
    with pytest.raises(TypeError, match="X must hold numbers, got an array of dtype object"):
        net.predict(np.array([[1, None]], dtype=object))


@pytest.mark.parametrize(
    "y, message",
    [
        (np.zeros(3), r"X has 4 samples but y has 3"),
        (np.zeros((4, 2)), r"y has 2 columns \(shape \(4, 2\)\) but the network has 1 outputs"),
        ([1, 0, np.nan, 1], r"y contains NaN or inf \(first at index \(2,\)"),
        (np.zeros((4, 1, 1)), r"y must have shape \(n_samples, 1\) or \(n_samples,\)"),
    ],
)
def test_bad_targets_name_the_problem(net, y, message):
    with pytest.raises(ValueError, match=message):
        net.loss(data.X, y)
    with pytest.raises(ValueError, match=message):
        net.gradients(data.X, y)
    with pytest.raises(ValueError, match=message):
        net.fit(data.X, y, epochs=1, learning_rate=0.1, batch_size=1)


def test_one_dimensional_y_is_refused_for_a_multi_output_network():
    net = Network.from_sizes([2, 3], seed=0)
    with pytest.raises(ValueError, match=r"y is 1-D with shape \(4,\) but the network has 3 outputs"):
        net.loss(data.X, data.y)


def test_an_empty_batch_has_no_loss(net):
    with pytest.raises(ValueError, match="X has no samples"):
        net.loss(np.zeros((0, 2)), np.zeros(0))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(learning_rate=0.0), ValueError, "learning_rate must be a finite number > 0, got 0.0"),
        (dict(learning_rate=-1), ValueError, "learning_rate must be a finite number > 0"),
        (dict(learning_rate=np.nan), ValueError, "learning_rate must be a finite number > 0"),
        (dict(learning_rate="fast"), TypeError, "learning_rate must be a real number"),
        (dict(batch_size=0), ValueError, "batch_size must be >= 1, got 0"),
        (dict(batch_size=2.5), TypeError, "batch_size must be an integer"),
        (dict(epochs=-1), ValueError, "epochs must be >= 0, got -1"),
        (dict(log_every=0), ValueError, "log_every must be >= 1"),
        (dict(callback=3), TypeError, "callback must be callable"),
    ],
)
def test_bad_training_settings_name_the_setting(net, kwargs, error, message):
    settings = dict(epochs=1, learning_rate=0.1, batch_size=1) | kwargs
    with pytest.raises(error, match=message):
        net.fit(data.X, data.y, **settings)


# -- fit --------------------------------------------------------------------------------

def manual_sgd_epoch(net, X, y, learning_rate, batch_size):
    """One epoch of SGD spelled out with the public gradients()."""
    for start in range(0, len(X), batch_size):
        grads = net.gradients(X[start:start + batch_size], y[start:start + batch_size])
        for layer, (dW, db) in zip(net.layers, grads):
            layer.W[...] -= learning_rate * dW
            layer.b[...] -= learning_rate * db


@pytest.mark.parametrize("batch_size", [1, 2, 3, 4, 10])
def test_unshuffled_batches_are_consecutive_slices_keeping_the_remainder(batch_size):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(7, 2)), rng.uniform(size=(7, 1))
    net = Network.from_sizes([2, 3, 1], seed=1)
    reference = net.copy()
    history = net.fit(X, y, epochs=2, learning_rate=0.5, batch_size=batch_size, shuffle=False)
    for epoch in range(2):
        manual_sgd_epoch(reference, X, y, 0.5, batch_size)
        if epoch == 0:
            assert history[0] == pytest.approx(reference.loss(X, y), rel=1e-12)
    np.testing.assert_allclose(net.params, reference.params, rtol=1e-12)
    assert history[1] == pytest.approx(reference.loss(X, y), rel=1e-12)


def test_shuffled_fit_is_reproducible_from_its_seed():
    def run(seed):
        net = Network.from_sizes([2, 3, 1], seed=0)
        return net.fit(data.X, data.y, epochs=5, learning_rate=0.5, batch_size=1, seed=seed), net

    (h1, a), (h2, b), (_, c) = run(7), run(7), run(8)
    assert np.array_equal(h1, h2) and np.array_equal(a.params, b.params)
    assert not np.array_equal(a.params, c.params)


def test_shuffled_fit_visits_every_sample_once_per_epoch():
    # With one sample per step and a linear model the order only permutes
    # the updates; all samples being used shows in the gradient directions.
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(5, 2)), rng.normal(size=5)
    net = Network([Dense(np.zeros((1, 2)), [0.0], "identity")])
    net.fit(X, y, epochs=1, learning_rate=1e-9, batch_size=1, seed=0)
    step = -net.params / 1e-9
    full = np.concatenate([g.ravel() for pair in net.gradients(X, y) for g in pair])
    # For an infinitesimal rate each per-sample gradient is taken at the start,
    # so their sum is n times the full-batch gradient.
    np.testing.assert_allclose(step, 5 * full, rtol=1e-6)


def test_fit_history_is_the_loss_after_each_epoch(net):
    history = net.fit(data.X, data.y, epochs=3, learning_rate=0.1, batch_size=4, shuffle=False)
    assert history.loss.shape == (3,) and len(history) == 3
    assert history[-1] == net.loss(data.X, data.y)


def test_zero_epochs_change_nothing(net):
    before = net.params.copy()
    assert net.fit(data.X, data.y, epochs=0, learning_rate=0.1, batch_size=1).loss.shape == (0,)
    assert np.array_equal(net.params, before)


def test_fit_prints_the_documents_log_lines(net, capsys):
    net.fit(data.X, data.y, epochs=25, learning_rate=0.1, batch_size=1, shuffle=False,
            log_every=10)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" loss: ")[0] for line in lines] == ["Epoch 0", "Epoch 10", "Epoch 20"]
    assert all(len(line.split(" loss: ")[1]) == 5 for line in lines)  # %.3f


def test_document_session_learns_emily_and_frank():
    net = Network.from_sizes([2, 2, 1], seed=0)
    net.fit(data.X, data.y, epochs=1000, learning_rate=0.1, batch_size=1, shuffle=False)
    emily, frank = net.predict([data.EMILY, data.FRANK])[:, 0]
    assert emily > 0.5 > frank
