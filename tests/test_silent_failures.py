"""Issue 14: nothing silently wrong.

One regression test per way matnn used to give a wrong result, or a slow or
confusing failure, without saying so. Each compares with an independent
reference (the original network, a copy of the data, a serial run) or checks
the behaviour the issue asks for directly.
"""

import copy
import os
import pickle
import resource
import subprocess
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest

import matnn
from matnn import SGD, Adam, Dense, Ensemble, Network, data
from matnn.seeds import document_networks

REPO = Path(__file__).resolve().parents[1]
X, y = np.asarray(data.X, float), np.asarray(data.y, float)

COPIES = {
    "deepcopy": copy.deepcopy,
    "pickle": lambda obj: pickle.loads(pickle.dumps(obj)),
}


def flat_of(layers):
    """Every layer's W (row-major) then b, concatenated: the documented params order."""
    return np.concatenate([np.concatenate([layer.W.ravel(), layer.b]) for layer in layers])


# -- 1. copies train ----------------------------------------------------------

@pytest.mark.parametrize("make", [*COPIES.values(), Network.copy], ids=[*COPIES, "copy"])
def test_a_copied_network_views_its_params_and_trains_exactly_like_the_original(make):
    original = Network.from_sizes([2, 3, 1], seed=0)
    copied = make(original)
    assert not np.shares_memory(copied.params, original.params)
    for layer in copied.layers:
        assert np.shares_memory(layer.W, copied.params)
        assert np.shares_memory(layer.b, copied.params)
    before = copied.predict(X)

    fit = dict(epochs=30, learning_rate=0.5, batch_size=1, shuffle=True, seed=3)
    h_original = original.fit(X, y, **fit)
    h_copied = copied.fit(X, y, **fit)

    assert not np.array_equal(copied.predict(X), before)  # it really trained
    np.testing.assert_array_equal(h_copied.loss, h_original.loss)
    np.testing.assert_array_equal(copied.params, original.params)
    np.testing.assert_array_equal(flat_of(copied.layers), original.params)
    np.testing.assert_array_equal(copied.predict(X), original.predict(X))
    assert copied.loss(X, y) == h_copied[-1]


@pytest.mark.parametrize("make", COPIES.values(), ids=COPIES)
def test_a_copied_ensemble_trains_exactly_like_the_original(make):
    original = Ensemble.from_sizes([2, 3, 1], 3, seed=0)
    copied = make(original)
    before = copied.predict(X)
    fit = dict(epochs=30, learning_rate=[0.1, 0.5, 1.0], batch_size=2, seed=1)

    h_original = original.fit(X, y, **fit)
    h_copied = copied.fit(X, y, **fit)

    after = copied.predict(X)
    assert (np.abs(after - before).max(axis=(1, 2)) > 1e-3).all()  # every member moved
    np.testing.assert_array_equal(h_copied.loss, h_original.loss)
    np.testing.assert_array_equal(after, original.predict(X))
    # The members, read through the copy's layers, hold what its history says.
    np.testing.assert_array_equal(copied.loss(X, y), h_copied.loss[:, -1])
    for k in range(3):
        np.testing.assert_array_equal(copied.network(k).params, original.network(k).params)


# -- 2. params cannot detach ---------------------------------------------------

def test_assigning_params_copies_into_the_buffer_the_layers_view():
    net = Network.from_sizes([2, 2, 1], seed=0)
    buffer = net.params
    new = np.arange(9.0) / 10
    net.params = new
    assert net.params is buffer
    np.testing.assert_array_equal(flat_of(net.layers), new)
    new[0] = 99.0  # the network holds a copy, not the caller's array
    assert net.layers[0].W[0, 0] == 0.0
    # The lesson's network by hand: h = sigmoid(W1 x + b1), o = sigmoid(w2 . h + b3).
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    x = np.array([1.0, -2.0])
    h = sig(np.array([[0.0, 0.1], [0.2, 0.3]]) @ x + [0.4, 0.5])
    assert net.predict([x])[0, 0] == pytest.approx(sig(h @ [0.6, 0.7] + 0.8), rel=1e-14)


def test_assigning_params_of_the_wrong_shape_is_refused_and_changes_nothing():
    net = Network.from_sizes([2, 2, 1], seed=0)
    before = net.params.copy()
    with pytest.raises(ValueError, match=r"params must have shape \(9,\).*got shape \(3,\)"):
        net.params = np.zeros(3)
    with pytest.raises(ValueError, match=r"got shape \(9, 1\)"):
        net.params = np.zeros((9, 1))
    np.testing.assert_array_equal(net.params, before)


def test_params_in_place_arithmetic_moves_the_layers():
    net = Network.from_sizes([2, 2, 1], seed=0)
    buffer, start = net.params, net.params.copy()
    step = np.linspace(-1, 1, 9)
    net.params -= step
    assert net.params is buffer
    np.testing.assert_array_equal(flat_of(net.layers), start - step)


# -- 3. data that is the network's own memory ------------------------------------

def test_fitting_on_the_networks_own_weights_trains_as_on_a_copy():
    net = Network.from_sizes([2, 3, 1], seed=0)
    reference = net.copy()
    X_own, y_own = net.layers[0].W, net.layers[1].W[0]  # shapes (3, 2) and (3,)
    X_copy, y_copy = X_own.copy(), y_own.copy()
    fit = dict(epochs=20, learning_rate=0.5, batch_size=1, shuffle=False)

    history = net.fit(X_own, y_own, **fit)
    expected = reference.fit(X_copy, y_copy, **fit)

    np.testing.assert_array_equal(history.loss, expected.loss)
    np.testing.assert_array_equal(net.params, reference.params)


# -- 6. saturation is reported ---------------------------------------------------

@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_a_learning_rate_that_saturates_the_network_warns(activation):
    assert issubclass(matnn.LossIncreasedWarning, RuntimeWarning)
    net = Network.from_sizes([2, 2, 1], activation, seed=0)
    start = net.loss(X * 1e3, y)
    with pytest.warns(matnn.LossIncreasedWarning) as record:
        net.fit(X * 1e3, y, epochs=20, learning_rate=1e6, batch_size=1, shuffle=False)
    # The warning is deserved: the network got clearly worse, or no gradient
    # flows any more (saturated or dead units), with finite (huge) parameters.
    gradient = np.concatenate([g.ravel() for pair in net.gradients(X * 1e3, y) for g in pair])
    assert net.loss(X * 1e3, y) > matnn.training.WORSE_FACTOR * start or not gradient.any()
    assert np.isfinite(net.params).all()
    message = str(record[0].message)
    assert "saturated" in message and "smaller learning rate" in message


def test_the_lessons_training_run_does_not_warn():
    net = document_networks([0])[0]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        history = net.fit(data.X, data.y, epochs=1000, learning_rate=0.1, batch_size=1,
                          shuffle=False)
    assert record == []
    assert history[-1] < 0.01


def test_the_command_line_shows_the_saturation_warning():
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-m", "matnn", "seeds", "--lr", "1e308", "--runs", "20",
         "--epochs", "50"],
        env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    warned = [line for line in done.stderr.splitlines() if "warning:" in line]
    assert any("saturated" in line and "smaller learning rate" in line for line in warned), \
        done.stderr
    assert "Traceback" not in done.stderr


# -- 10. non-finite parameters --------------------------------------------------

@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_dense_refuses_non_finite_parameters(bad):
    with pytest.raises(ValueError, match=r"W contains NaN or inf \(first at index \(1, 0\)"):
        Dense([[0.0, 1.0], [bad, 1.0]], [0.0, 0.0])
    with pytest.raises(ValueError, match=r"b contains NaN or inf \(first at index \(1,\)"):
        Dense([[0.0, 1.0], [1.0, 1.0]], [0.0, bad])


def test_a_network_refuses_a_layer_edited_to_nan_naming_the_entry():
    first = Dense(np.ones((3, 2)), np.zeros(3))
    second = Dense(np.ones((2, 3)), np.zeros(2))
    second.W[1, 2] = np.nan  # after the Dense checked it
    with pytest.raises(ValueError, match=r"layers\[1\]\.W\[1, 2\] is nan"):
        Network([first, second])
    second.W[1, 2] = 0.0
    second.b[0] = np.inf
    with pytest.raises(ValueError, match=r"layers\[1\]\.b\[0\] is inf"):
        Network([first, second])


def test_a_nan_member_does_not_break_the_other_members():
    ensemble = Ensemble.from_sizes([2, 3, 1], 3, seed=0)
    healthy = [ensemble.network(k) for k in range(3)]
    ensemble.layers[0].W[1, 2, 0] = np.nan  # member 1, by hand
    for k in (0, 2):
        np.testing.assert_array_equal(ensemble.network(k).params, healthy[k].params)
    with pytest.raises(ValueError, match="NaN or inf"):
        ensemble.network(1)


# -- 11. a learning rate that is 0 in float32 -------------------------------------

@pytest.mark.parametrize("how", [
    dict(learning_rate=1e-50),
    dict(optimizer=SGD(1e-50)),
    dict(optimizer=Adam(1e-50)),
], ids=["learning_rate", "SGD", "Adam"])
def test_a_float32_rate_that_rounds_to_zero_is_refused(how):
    net = Network.from_sizes([2, 2, 1], seed=0, dtype=np.float32)
    before = net.params.copy()
    assert np.float32(1e-50) == 0  # why it must be refused: the step would be 0
    with pytest.raises(ValueError, match="learning_rate.*rounds to 0 in float32"):
        net.fit(X, y, epochs=1, **how)
    np.testing.assert_array_equal(net.params, before)
    # The same rate is fine in float64, where it is not 0.
    Network.from_sizes([2, 2, 1], seed=0).fit(X, y, epochs=1, **how)


# -- sizes too large fail fast -------------------------------------------------------

def test_an_impossible_network_fails_before_allocating():
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        with pytest.raises(MemoryError, match=r"a network of sizes \(2, 10000000000, 1\) needs"):
            Network.from_sizes([2, 10**10, 1])
        elapsed = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 2
    assert peak < 2**20


LIMITED = """
import resource, time, tracemalloc
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
import matnn
tracemalloc.start()
t0 = time.perf_counter()
try:
    matnn.Network.from_sizes({sizes})
except MemoryError as exc:
    print(time.perf_counter() - t0, tracemalloc.get_traced_memory()[1], exc)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="reads the limit from /proc/self/status")
@pytest.mark.parametrize("sizes", [[2, 10**8, 1], [2, 10**9, 1]])
def test_a_network_too_big_for_the_address_space_limit_fails_in_milliseconds(sizes):
    # 3 GiB of address space: [2, 10**8, 1] (3 GiB of float64 parameters)
    # used to draw its first layer for seconds before numpy ran out.
    limit = 3 * 2**30
    if resource.getrlimit(resource.RLIMIT_AS)[0] not in (resource.RLIM_INFINITY,) \
            and resource.getrlimit(resource.RLIMIT_AS)[0] < limit:
        pytest.skip("this process already runs under a smaller address-space limit")
    env = dict(os.environ, PYTHONPATH=str(REPO), OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", LIMITED.format(limit=limit, sizes=sizes)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    elapsed, peak, message = done.stdout.split(" ", 2)
    assert f"a network of sizes {tuple(sizes)} needs" in message
    assert float(elapsed) < 2
    assert int(peak) < 2**20


# -- one clear error for each bad input ------------------------------------------------

def test_backward_on_no_rows_is_a_value_error():
    net = Network.from_sizes([2, 2, 1], seed=0)
    cache = net.forward(np.zeros((0, 2)))
    with pytest.raises(ValueError, match="no samples"):
        net.backward(cache, np.zeros(0))


@pytest.mark.parametrize("rate", [True, [True, True], np.array([True, False])],
                         ids=["True", "list", "array"])
def test_boolean_learning_rates_are_refused_for_an_ensemble(rate):
    ensemble = Ensemble.from_sizes([2, 2, 1], 2, seed=0)
    before = ensemble.predict(X)
    with pytest.raises(TypeError, match="learning_rate must"):
        ensemble.fit(X, y, epochs=1, learning_rate=rate)
    np.testing.assert_array_equal(ensemble.predict(X), before)


def test_ensemble_from_sizes_takes_a_generator_seed_as_network_from_sizes_does():
    sizes = [2, 4, 1]
    Network.from_sizes(sizes, seed=np.random.default_rng(5))
    ensemble = Ensemble.from_sizes(sizes, 3, seed=np.random.default_rng(5))
    # As documented: member k is built from the k-th spawned generator.
    children = np.random.default_rng(5).spawn(3)
    for k, child in enumerate(children):
        np.testing.assert_array_equal(ensemble.network(k).params,
                                      Network.from_sizes(sizes, seed=child).params)
    assert not np.array_equal(ensemble.network(0).params, ensemble.network(1).params)


@pytest.mark.parametrize("model", [
    lambda: Network.from_sizes([2, 2, 1], seed=0),
    lambda: Ensemble.from_sizes([2, 2, 1], 2, seed=0),
], ids=["network", "ensemble"])
@pytest.mark.parametrize("shuffle", ["no", 0, None])
def test_shuffle_must_be_a_bool(model, shuffle):
    with pytest.raises(TypeError, match="shuffle must be True or False"):
        model().fit(X, y, epochs=1, learning_rate=0.1, shuffle=shuffle)


@pytest.mark.parametrize("build", [
    lambda **kw: Network.from_sizes([2, 2, 1], **kw),
    lambda **kw: Ensemble.from_sizes([2, 2, 1], 2, **kw),
], ids=["network", "ensemble"])
def test_errors_for_activation_none_and_a_negative_seed_name_the_argument(build):
    with pytest.raises(TypeError, match="^activation must be"):
        build(activation=None)
    with pytest.raises(TypeError, match=r"^activation\[1\] must be"):
        build(activation=["sigmoid", None])
    with pytest.raises(ValueError, match="^seed must be >= 0, got -1"):
        build(seed=-1)


# -- threads -------------------------------------------------------------------------

def test_predict_loss_and_gradients_from_many_threads_equal_the_serial_results(race):
    net = Network.from_sizes([5, 64, 32, 3], "tanh", seed=2)
    rng = np.random.default_rng(0)
    batches = [(rng.normal(size=(200, 5)), rng.normal(size=(200, 3))) for _ in range(6)]

    def work(Xb, yb):
        return net.predict(Xb), net.loss(Xb, yb), net.gradients(Xb, yb)

    expected = [work(*batch) for batch in batches]
    results = [[] for _ in batches]

    def thread(i):
        for _ in range(10):
            results[i].append(work(*batches[i]))

    race(thread, [(i,) for i in range(len(batches))])
    for got, (P, L, G) in zip(results, expected):
        assert len(got) == 10
        for p, loss, grads in got:
            np.testing.assert_array_equal(p, P)
            assert loss == L
            for (dW, db), (eW, eb) in zip(grads, G):
                np.testing.assert_array_equal(dW, eW)
                np.testing.assert_array_equal(db, eb)


def test_the_saturation_warning_points_at_the_line_that_called_fit():
    for model in (Network.from_sizes([2, 2, 1], seed=0), Ensemble.from_sizes([2, 2, 1], 2, seed=0)):
        with pytest.warns(matnn.LossIncreasedWarning) as record:
            model.fit(X * 1e3, y, epochs=20, learning_rate=1e6, batch_size=1, shuffle=False)
        assert record[0].filename == __file__


def test_an_ensemble_fits_data_that_views_its_own_parameters_as_a_copy():
    original = Ensemble.from_sizes([2, 1, 1], 1, "tanh", seed=4)
    twin = copy.deepcopy(original)
    # With one member and one hidden unit, W[0] is a contiguous (1, 2) view
    # into the parameters: a valid batch of one sample. The run trains a
    # compact copy of its members, so the data stays put until fit returns.
    X_own = original.layers[0].W[0]
    assert np.shares_memory(X_own, original.layers[0].W) and X_own.flags.c_contiguous
    X_copy = X_own.copy()
    fit = dict(epochs=5, learning_rate=0.5, batch_size=1, shuffle=False)
    original.fit(X_own, [[1.0]], **fit)
    twin.fit(X_copy, [[1.0]], **fit)
    np.testing.assert_array_equal(original.predict(X_copy), twin.predict(X_copy))
