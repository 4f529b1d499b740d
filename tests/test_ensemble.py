"""An ensemble is K networks trained at once: each member must be the network trained alone."""

import contextlib
import io
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matnn import ACTIVATIONS, Ensemble, Network, TrainingDiverged, data, scalar
from matnn.backprop import UNROLL_MAX
from matnn.seeds import SeedRuns, document_networks, train_seeds


def assert_close(actual, expected, rtol=1e-12):
    """Equal within ``rtol`` of the larger of 1 and the expected magnitude."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=0, atol=rtol * scale)


def random_networks(sizes, activation, n_models, seed, dtype=np.float64):
    return [Network.from_sizes(sizes, activation, seed=seed + k, dtype=dtype)
            for k in range(n_models)]


@st.composite
def training_setups(draw):
    """A small architecture, its members, data, and the fit arguments."""
    n_layers = draw(st.integers(1, 3))
    # Widths above UNROLL_MAX take the np.matmul branch of the passes.
    sizes = draw(st.lists(st.integers(1, UNROLL_MAX + 2), min_size=n_layers + 1,
                          max_size=n_layers + 1))
    activation = draw(st.lists(st.sampled_from(sorted(ACTIVATIONS)), min_size=n_layers,
                               max_size=n_layers))
    # Over one unit softmax is the constant 1, which a Dense layer refuses.
    sizes = sizes[:1] + [max(n, 2) if act == "softmax" else n
                         for n, act in zip(sizes[1:], activation)]
    n_models = draw(st.integers(1, 4))
    n = draw(st.integers(1, 2 * UNROLL_MAX + 1))
    # Moderate inputs and rates: in exploding regimes (linear layers, large
    # steps) the last-bit differences of the two summation orders grow with
    # the trajectory and the runs stop being comparable to 1e-12.
    values = st.floats(-1, 1, allow_nan=False, allow_subnormal=False)
    X = np.array(draw(st.lists(values, min_size=n * sizes[0], max_size=n * sizes[0])))
    y = np.array(draw(st.lists(values, min_size=n * sizes[-1], max_size=n * sizes[-1])))
    rates = st.floats(0.01, 0.1)
    if draw(st.booleans()):
        learning_rate = draw(rates)
    else:
        learning_rate = np.array(draw(st.lists(rates, min_size=n_models, max_size=n_models)))
    return dict(
        networks=random_networks(sizes, activation, n_models, draw(st.integers(0, 2**16))),
        X=X.reshape(n, sizes[0]), y=y.reshape(n, sizes[-1]),
        fit=dict(epochs=draw(st.integers(1, 4)), learning_rate=learning_rate,
                 batch_size=draw(st.integers(1, n + 1)), shuffle=draw(st.booleans()),
                 seed=draw(st.integers(0, 100))),
    )


# Random members and rates may train worse; equality is what is tested.
@pytest.mark.filterwarnings("ignore::matnn.LossIncreasedWarning")
@settings(max_examples=60)
@given(training_setups())
def test_each_member_equals_its_network_fitted_alone(setup):
    networks, X, y, kw = setup["networks"], setup["X"], setup["y"], setup["fit"]
    ensemble = Ensemble(networks)
    history = ensemble.fit(X, y, **kw)
    assert history.loss.shape == (len(networks), kw["epochs"])
    rates = np.broadcast_to(kw["learning_rate"], (len(networks),))
    for k, (alone, member) in enumerate(zip(networks, ensemble.networks())):
        try:
            alone_history = alone.fit(X, y, **{**kw, "learning_rate": float(rates[k])})
        except TrainingDiverged as exc:
            assert ensemble.failed_at[k] == (exc.epoch, exc.batch)
            assert_close(history[k, :exc.epoch], exc.history)
        else:
            assert not ensemble.failed[k]
            assert_close(history[k], alone_history)
        assert_close(member.params, alone.params)


def test_a_member_trains_the_same_whoever_shares_its_ensemble():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(13, 7)), rng.normal(size=(13, 3))
    networks = random_networks([7, 9, 3, 3], "tanh", 9, seed=0)
    fit = dict(epochs=5, learning_rate=0.05, batch_size=5, shuffle=True, seed=1)
    together = Ensemble(networks)
    together.fit(X, y, **fit)
    for k in (0, 4, 8):
        alone = Ensemble([networks[k]])
        alone.fit(X, y, **fit)
        assert_close(alone.networks()[0].params, together.networks()[k].params)


DOCUMENT_SEEDS = (0, 1, 7, 42, 2024)


def test_each_member_equals_the_documents_scalar_network_from_its_seed():
    epochs = 300
    ensemble = Ensemble(document_networks(DOCUMENT_SEEDS))
    ensemble.fit(data.X, data.y, epochs=epochs, learning_rate=0.1, batch_size=1, shuffle=False)
    for seed, member in zip(DOCUMENT_SEEDS, ensemble.networks()):
        np.random.seed(seed)
        doc_net = scalar.OurNeuralNetwork()
        with contextlib.redirect_stdout(io.StringIO()):
            doc_net.train(data.X, data.y, learn_rate=0.1, epochs=epochs)
        # expit and the document's 1 / (1 + exp(-x)) differ in the last bit.
        assert_close(member.params, scalar.to_network(doc_net).params)


def test_document_networks_are_the_documents_draws_and_leave_the_global_rng_alone():
    np.random.seed(123)
    expected_next = np.random.normal()
    np.random.seed(123)
    networks = document_networks([5, 0, 5])
    assert np.random.normal() == expected_next
    for seed, net in zip([5, 0, 5], networks):
        np.random.seed(seed)
        assert np.array_equal(net.params, scalar.to_network(scalar.OurNeuralNetwork()).params)


def test_document_networks_are_right_when_built_from_many_threads_at_once(race):
    """Threads that shared numpy's global state would draw each other's
    numbers (the race interleaves them as much as possible); each must get
    exactly the document's draws for its own seeds."""
    seed_lists = [range(k, 2400, 8) for k in range(8)]
    expected = {}
    for seeds in seed_lists:
        for s in seeds:
            np.random.seed(s)
            expected[s] = scalar.to_network(scalar.OurNeuralNetwork()).params
    built = {}

    def build(seeds):
        built[seeds.start] = document_networks(seeds)

    race(build, [(seeds,) for seeds in seed_lists])
    wrong = [s for seeds in seed_lists for s, net in zip(seeds, built[seeds.start])
             if not np.array_equal(net.params, expected[s])]
    assert wrong == []


def test_mismatched_architectures_name_the_member_and_what_differs():
    base = Network.from_sizes([2, 2, 1], seed=0)
    with pytest.raises(ValueError, match=r"networks\[2\] has sizes \(2, 3, 1\) but networks\[0\] has \(2, 2, 1\)"):
        Ensemble([base, base, Network.from_sizes([2, 3, 1], seed=1)])
    with pytest.raises(ValueError, match=r"networks\[1\] has activations \('tanh', 'sigmoid'\)"):
        Ensemble([base, Network.from_sizes([2, 2, 1], ["tanh", "sigmoid"], seed=1)])
    with pytest.raises(ValueError, match=r"networks\[1\] has dtype float32 but networks\[0\] has float64"):
        Ensemble([base, Network.from_sizes([2, 2, 1], seed=1, dtype=np.float32)])


def test_bad_members_are_refused():
    with pytest.raises(ValueError, match="at least one network"):
        Ensemble([])
    with pytest.raises(TypeError, match="wrap a single network in a list"):
        Ensemble(Network.from_sizes([2, 1], seed=0))
    with pytest.raises(TypeError, match=r"networks\[1\] must be a matnn.Network, got str"):
        Ensemble([Network.from_sizes([2, 1], seed=0), "net"])


def test_a_diverging_member_is_frozen_at_its_last_finite_parameters_and_the_others_train_on():
    # A linear output lets a huge step overflow the parameters mid-epoch.
    networks = random_networks([2, 3, 1], ["tanh", "identity"], 3, seed=10)
    X = np.array([[-2.0, -1.0], [25.0, 6.0], [17.0, 4.0], [-15.0, -6.0]])
    rates = np.array([0.01, 1000.0, 0.005])
    ensemble = Ensemble(networks)
    history = ensemble.fit(X, data.y, epochs=20, learning_rate=rates, batch_size=1, shuffle=False)

    assert ensemble.failed.tolist() == [False, True, False]
    with pytest.raises(TrainingDiverged) as diverged:
        networks[1].fit(X, data.y, epochs=20, learning_rate=1000.0, batch_size=1, shuffle=False)
    epoch, batch = diverged.value.epoch, diverged.value.batch
    assert epoch > 0 and batch is not None
    assert ensemble.failed_at == {1: (epoch, batch)}
    assert_close(history[1, :epoch], diverged.value.history)
    assert np.isnan(history[1, epoch:]).all()
    members = ensemble.networks()
    assert np.isfinite(members[1].params).all()
    assert_close(members[1].params, networks[1].params)
    for k in (0, 2):
        alone = networks[k].fit(X, data.y, epochs=20, learning_rate=rates[k], batch_size=1,
                                shuffle=False)
        assert_close(history[k], alone)
        assert_close(members[k].params, networks[k].params)

    frozen = members[1].params
    again = ensemble.fit(X, data.y, epochs=2, learning_rate=0.1, batch_size=2, shuffle=False)
    assert np.isnan(again[1]).all() and np.isfinite(again[[0, 2]]).all()
    assert np.array_equal(ensemble.networks()[1].params, frozen)


def test_a_member_whose_loss_overflows_keeps_its_end_of_epoch_parameters():
    # Linear units let the output, and its square, grow past float64's range.
    networks = random_networks([2, 3, 1], "identity", 2, seed=3)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(8, 2)) * 10, rng.normal(size=8) * 10
    ensemble = Ensemble(networks)
    ensemble.fit(X, y, epochs=50, learning_rate=[0.001, 5.0], batch_size=2, shuffle=False)
    with pytest.raises(TrainingDiverged) as diverged:
        networks[1].fit(X, y, epochs=50, learning_rate=5.0, batch_size=2, shuffle=False)
    assert diverged.value.batch is None
    assert ensemble.failed_at == {1: (diverged.value.epoch, None)}
    assert_close(ensemble.networks()[1].params, networks[1].params)


def test_predict_loss_and_gradients_are_each_members_own():
    networks = random_networks([3, 5, 6, 2], ["tanh", "relu", "sigmoid"], 4, seed=0)
    rng = np.random.default_rng(1)
    X, y = rng.uniform(-2, 2, size=(11, 3)), rng.uniform(0, 1, size=(11, 2))
    ensemble = Ensemble(networks)
    predictions = ensemble.predict(X)
    losses = ensemble.loss(X, y)
    gradients = ensemble.gradients(X, y)
    assert predictions.shape == (4, 11, 2)
    assert losses.shape == (4,)
    assert [(dW.shape, db.shape) for dW, db in gradients] == [
        ((4, 5, 3), (4, 5)), ((4, 6, 5), (4, 6)), ((4, 2, 6), (4, 2))]
    for k, net in enumerate(networks):
        assert_close(predictions[k], net.predict(X))
        assert_close(losses[k], net.loss(X, y))
        for (dW, db), (dW_k, db_k) in zip(gradients, net.gradients(X, y)):
            assert_close(dW[k], dW_k)
            assert_close(db[k], db_k)


def test_layers_are_views_and_networks_are_copies():
    ensemble = Ensemble(random_networks([2, 2, 1], "sigmoid", 3, seed=0))
    W1 = ensemble.layers[0].W
    assert W1.shape == (3, 2, 2) and ensemble.layers[1].b.shape == (3, 1)
    W1[2, 0, 1] = 5.0
    ensemble.layers[1].b[0, 0] = -1.0
    members = ensemble.networks()
    assert members[2].layers[0].W[0, 1] == 5.0
    assert members[0].layers[1].b[0] == -1.0
    members[2].params[:] = 0
    assert ensemble.layers[0].W[2, 0, 1] == 5.0


def test_float32_members_train_in_float32_like_networks_alone():
    networks = random_networks([2, 3, 1], "sigmoid", 3, seed=5, dtype=np.float32)
    ensemble = Ensemble(networks)
    assert ensemble.dtype == np.float32
    history = ensemble.fit(data.X, data.y, epochs=30, learning_rate=[0.1, 0.2, 0.3], batch_size=2, shuffle=False)
    assert ensemble.predict(data.X).dtype == np.float32
    assert ensemble.gradients(data.X, data.y)[0][0].dtype == np.float32
    for k, (alone, member) in enumerate(zip(networks, ensemble.networks())):
        alone_history = alone.fit(data.X, data.y, epochs=30, learning_rate=[0.1, 0.2, 0.3][k],
                                  batch_size=2, shuffle=False)
        assert member.dtype == np.float32
        assert_close(member.params, alone.params, rtol=1e-5)
        assert_close(history[k], alone_history, rtol=1e-5)


def test_from_sizes_spawns_one_seed_sequence():
    three = Ensemble.from_sizes([2, 4, 1], 3, activation="tanh", seed=9)
    five = Ensemble.from_sizes([2, 4, 1], 5, activation="tanh", seed=9)
    children = np.random.SeedSequence(9).spawn(3)
    for k, member in enumerate(three.networks()):
        expected = Network.from_sizes([2, 4, 1], "tanh", seed=np.random.default_rng(children[k]))
        assert np.array_equal(member.params, expected.params)
        assert np.array_equal(member.params, five.networks()[k].params)
    assert not np.array_equal(three.networks()[0].params, three.networks()[1].params)
    assert Ensemble.from_sizes([3, 1], 2, dtype=np.float32).dtype == np.float32
    with pytest.raises(ValueError, match="n_models must be >= 1"):
        Ensemble.from_sizes([2, 1], 0)


def test_inputs_are_checked_like_a_networks():
    ensemble = Ensemble(random_networks([2, 2, 1], "sigmoid", 2, seed=0))
    net = Network.from_sizes([2, 2, 1], seed=0)
    for X, y in [([[1, 2, 3]], [1]), ([[1, np.nan]], [1]), ([1, 2], [1]), ([[1, 2]], [[1, 2]]),
                 (np.zeros((0, 2)), np.zeros(0))]:
        with pytest.raises(ValueError) as expected:
            net.loss(X, y)
        with pytest.raises(ValueError, match=f"^{re.escape(str(expected.value))}$"):
            ensemble.loss(X, y)
    with pytest.raises(ValueError, match=r"learning_rate\[1\] must be a finite number > 0, got -0.1"):
        ensemble.fit(data.X, data.y, epochs=1, learning_rate=[0.1, -0.1], batch_size=1, shuffle=False)
    with pytest.raises(ValueError, match=r"shape \(2,\); got shape \(3,\)"):
        ensemble.fit(data.X, data.y, epochs=1, learning_rate=[0.1] * 3, batch_size=1, shuffle=False)
    with pytest.raises(ValueError, match="learning_rate must be a finite number > 0"):
        ensemble.fit(data.X, data.y, epochs=1, learning_rate=0, batch_size=1, shuffle=False)
    with pytest.raises(ValueError, match="epochs must be >= 0"):
        ensemble.fit(data.X, data.y, epochs=-1, learning_rate=0.1, batch_size=1, shuffle=False)
    with pytest.raises(TypeError, match="callback must be callable"):
        ensemble.fit(data.X, data.y, epochs=1, learning_rate=0.1, batch_size=1, callback=3, shuffle=False)


def test_callback_sees_every_members_loss_and_can_stop():
    ensemble = Ensemble(random_networks([2, 2, 1], "sigmoid", 3, seed=0))
    seen = []

    def stop_after_three(record):
        seen.append(record.loss)
        return record.epoch != 2

    history = ensemble.fit(data.X, data.y, epochs=10, learning_rate=0.1, batch_size=1,
                           callback=stop_after_three)
    assert history.loss.shape == (3, 3)
    assert_close(np.array(seen).T, history)
    assert_close(history[:, -1], ensemble.loss(data.X, data.y))


def test_seed_runs_count_successes_and_rank_the_slowest():
    runs = train_seeds([3, 1, 4], learning_rates=(0.5, 0.05), epochs=40)
    assert [r.learning_rate for r in runs] == [0.5, 0.05]
    fast, slow = runs
    assert isinstance(fast, SeedRuns) and fast.history.shape == (3, 40)
    members = Ensemble(document_networks([3, 1, 4]))
    history = members.fit(data.X, data.y, epochs=40, learning_rate=0.5, batch_size=1, shuffle=False)
    assert_close(fast.history, history)
    assert_close(fast.final_loss, members.loss(data.X, data.y))
    assert_close(fast.predictions, members.predict([data.EMILY, data.FRANK])[:, :, 0])
    assert fast.correct.tolist() == [
        bool(e > 0.5 and f < 0.5) for e, f in fast.predictions]
    epochs = fast.epochs_to(0.1)
    for k in range(3):
        below = np.flatnonzero(fast.history[k] < 0.1)
        assert epochs[k] == (below[0] + 1 if below.size else -1)
    order = fast.slowest(3, 0.1)
    never = epochs[order] < 0
    assert sorted(never, reverse=True) == list(never)
    assert all(np.diff(epochs[order][~never]) <= 0)


def test_when_every_member_diverges_training_stops_with_all_of_them_frozen():
    networks = random_networks([2, 3, 1], "identity", 2, seed=3)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(8, 2)) * 10, rng.normal(size=8) * 10
    ensemble = Ensemble(networks)
    history = ensemble.fit(X, y, epochs=30, learning_rate=1000.0, batch_size=2, shuffle=False)
    assert ensemble.failed.all() and np.isnan(history).all()
    assert sorted(ensemble.failed_at) == [0, 1]
    # The epochs run end with the one in which the last member failed.
    assert history.loss.shape == (2, max(epoch for epoch, _ in ensemble.failed_at.values()) + 1)
    assert all(np.isfinite(net.params).all() for net in ensemble.networks())
