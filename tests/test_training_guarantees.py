"""What ``fit`` promises when something goes wrong (issue 20, part B).

A best epoch is restored on every path, a subclass's malformed gradients
are refused by name, an optimizer stays with the network it trained, a run
that diverges or is interrupted leaves the parameters and the optimizer's
state of one and the same step, and the settings ``fit`` cannot honour are
refused. Each test compares with a run written independently: a manual
loop over ``net.gradients`` and ``optimizer.step``, a fresh fit, the
history's own records.
"""

import signal
import threading
import time

import numpy as np
import pytest

import matnn
from matnn import SGD, Adam, Ensemble, Network, data
from matnn.ensemble import splits


def people(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(float)


# -- restore_best restores, on both of an ensemble's paths ---------------------------------

@pytest.mark.parametrize("members", [3, 128], ids=["stacked", "grouped"])
def test_each_member_ends_at_the_validation_loss_of_its_best_epoch(members):
    X, y = people(50, seed=0)
    Xv, yv = people(20, seed=1)
    assert splits(members, len(X)) == (members > 3)  # the path under test
    ensemble = Ensemble.from_sizes([2, 4, 1], members, seed=1)
    history = ensemble.fit(X, y, epochs=30, learning_rate=np.geomspace(0.5, 10, members),
                           batch_size=5, seed=1, validation_data=(Xv, yv), restore_best=True)
    best = history.val_loss[np.arange(members), history.best_epoch]
    assert (best < history.val_loss[:, -1]).any()  # some member got worse after its best
    np.testing.assert_array_equal(ensemble.loss(Xv, yv), best)


# -- a subclass's gradients are checked before they step -----------------------------------

class SummedBias(Network):
    """A student's backward pass that sums the last bias gradient to one number."""

    def gradients(self, X, y):
        grads = super().gradients(X, y)
        dW, db = grads[-1]
        return grads[:-1] + [(dW, db.sum())]


class Transposed(Network):
    def gradients(self, X, y):
        (dW1, db1), *rest = super().gradients(X, y)
        return [(dW1.T, db1), *rest]


class Integer(Network):
    def gradients(self, X, y):
        return [(dW.astype(int), db) for dW, db in super().gradients(X, y)]


class OneLayerShort(Network):
    def gradients(self, X, y):
        return super().gradients(X, y)[:-1]


@pytest.mark.parametrize("cls, error, message", [
    (SummedBias, ValueError,
     r"SummedBias.gradients\(\)\[1\] gives db of shape \(\) but layers\[1\].b has shape \(2,\)"),
    (Transposed, ValueError,
     r"Transposed.gradients\(\)\[0\] gives dW of shape \(2, 3\) but "
     r"layers\[0\].W has shape \(3, 2\)"),
    (Integer, TypeError, r"Integer.gradients\(\)\[0\] gives dW of dtype int64"),
    (OneLayerShort, ValueError, r"returned 1 items but the network has 2 layers"),
])
@pytest.mark.parametrize("how", [{"epochs": 2, "learning_rate": 0.1},
                                 {"optimizer": matnn.LBFGS(max_iter=5)}], ids=["sgd", "lbfgs"])
def test_malformed_gradients_are_refused_by_layer_and_array_and_change_nothing(
        cls, error, message, how):
    net = cls.from_sizes([2, 3, 2], seed=0)
    start = net.params.copy()
    X, y = data.X, np.column_stack([data.y, 1 - data.y])
    with pytest.raises(error, match=message):
        net.fit(X, y, **how)
    np.testing.assert_array_equal(net.params, start)
    # gradcheck refuses the same network with the same words.
    with pytest.raises(error, match=message.replace(cls.__name__ + ".", "net.")):
        matnn.gradcheck(net, X, y)


# -- one optimizer, one model --------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: Network.from_sizes([2, 3, 1], seed=0),
                                  lambda: Ensemble.from_sizes([2, 3, 1], 4, seed=0)],
                         ids=["network", "ensemble"])
def test_an_optimizer_refuses_a_second_model_of_the_same_shape(make):
    X, y = people(20, seed=0)
    first, second = make(), make()
    optimizer = Adam(0.05)
    first.fit(X, y, epochs=2, optimizer=optimizer, batch_size=5, seed=0)
    state = optimizer.state_dict()
    start = second.predict(X)
    with pytest.raises(ValueError, match=r"another model's training .* call reset\(\) to start "
                                         r"afresh, or make a new optimizer"):
        second.fit(X, y, epochs=2, optimizer=optimizer, batch_size=5, seed=0)
    np.testing.assert_array_equal(second.predict(X), start)
    assert optimizer.state_dict()["step"] == pytest.approx(state["step"])
    np.testing.assert_array_equal(optimizer.state_dict()["exp_avg"], state["exp_avg"])
    # reset() starts afresh: the run of a new optimizer.
    optimizer.reset()
    fresh = make()
    second.fit(X, y, epochs=2, optimizer=optimizer, batch_size=5, seed=0)
    fresh.fit(X, y, epochs=2, optimizer=Adam(0.05), batch_size=5, seed=0)
    np.testing.assert_array_equal(second.predict(X), fresh.predict(X))


def test_the_same_network_continues_and_a_copy_continues_with_a_copied_optimizer():
    X, y = people(20, seed=0)
    net, optimizer = Network.from_sizes([2, 3, 1], seed=0), Adam(0.05)
    net.fit(X, y, epochs=2, optimizer=optimizer, batch_size=5, seed=0)
    twin, twin_optimizer = net.copy(), optimizer.copy()
    net.fit(X, y, epochs=2, optimizer=optimizer, batch_size=5, seed=1)
    twin.fit(X, y, epochs=2, optimizer=twin_optimizer, batch_size=5, seed=1)
    np.testing.assert_array_equal(net.params, twin.params)
    # One long run of four epochs, written as a manual loop, is where both ended.
    manual, steps = Network.from_sizes([2, 3, 1], seed=0), Adam(0.05)
    for seed in (0, 1):
        rng = np.random.default_rng(seed)
        for _ in range(2):
            order = rng.permutation(20)
            for s in range(0, 20, 5):
                rows = order[s:s + 5]
                grad = np.concatenate([np.concatenate([dW.ravel(), db])
                                       for dW, db in manual.gradients(X[rows], y[rows])])
                steps.step(manual.params, grad)
    np.testing.assert_allclose(net.params, manual.params, rtol=1e-12, atol=1e-15)


# -- divergence rolls the optimizer back with the parameters -------------------------------

def flat(grads):
    return np.concatenate([np.concatenate([dW.ravel(), db]) for dW, db in grads])


def last_finite_step(net, optimizer, X, y, batch_size):
    """Step ``net`` by hand, in dataset order, until a step breaks it; undo that step.

    Returns the steps taken, and leaves ``net`` and ``optimizer`` after the last finite one.
    """
    steps = 0
    while True:
        for s in range(0, len(X), batch_size):
            params, state = net.params.copy(), optimizer.state_dict()
            with np.errstate(all="ignore"):
                optimizer.step(net.params, flat(net.gradients(X[s:s + batch_size],
                                                              y[s:s + batch_size])))
            if not np.isfinite(net.params).all():
                net.params[...] = params
                optimizer.load_state_dict(state)
                return steps
            steps += 1


def test_after_divergence_the_optimizer_is_at_the_step_of_the_parameters():
    # A line through the origin, and one row far enough out that its
    # gradient overflows while the loss the run starts from stays finite.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12, 1))
    y = 2 * X[:, 0]
    X[6, 0], y[6] = 1e158, 0.0
    net = Network([matnn.Dense([[1e-5]], [0.0], "identity")])
    start = net.copy()
    optimizer = SGD(0.1, momentum=0.5)
    with pytest.raises(matnn.TrainingDiverged) as info:
        net.fit(X, y, epochs=3, optimizer=optimizer, batch_size=2, shuffle=False)
    by_hand, by_hand_optimizer = start.copy(), SGD(0.1, momentum=0.5)
    steps = last_finite_step(by_hand, by_hand_optimizer, X, y, batch_size=2)
    assert steps == 3 and (info.value.epoch, info.value.batch) == (0, 3)
    np.testing.assert_allclose(net.params, by_hand.params, rtol=1e-12)
    state = optimizer.state_dict()
    assert state["step"] == steps
    np.testing.assert_allclose(state["momentum_buffer"],
                               by_hand_optimizer.state_dict()["momentum_buffer"], rtol=1e-12)
    # Without that row and at a smaller rate, training continues from that
    # state as a fresh run from the hand-made state does.
    clean = np.arange(12) != 6
    slower = SGD(0.05, momentum=0.5)
    slower.load_state_dict(state)
    fresh = Network([matnn.Dense(by_hand.layers[0].W, by_hand.layers[0].b, "identity")])
    fresh_optimizer = SGD(0.05, momentum=0.5)
    fresh_optimizer.load_state_dict(by_hand_optimizer.state_dict())
    net.fit(X[clean], y[clean], epochs=5, optimizer=slower, batch_size=2, shuffle=False)
    fresh.fit(X[clean], y[clean], epochs=5, optimizer=fresh_optimizer, batch_size=2,
              shuffle=False)
    np.testing.assert_allclose(net.params, fresh.params, rtol=1e-12)
    assert slower.state_dict()["step"] == fresh_optimizer.state_dict()["step"] == 3 + 5 * 6


def test_a_failed_member_freezes_with_its_optimizer_state_as_a_network_alone_does():
    rates = np.array([1e-4, 0.5, 1e-3])
    ensemble = Ensemble.from_sizes([2, 2, 1], 3, "identity", seed=0)
    alone = ensemble.network(1)
    optimizer = SGD(rates, momentum=0.5)
    ensemble.fit(data.X, data.y, epochs=20, optimizer=optimizer, batch_size=2, shuffle=False)
    assert ensemble.failed.tolist() == [False, True, False]
    alone_optimizer = SGD(0.5, momentum=0.5)
    with pytest.raises(matnn.TrainingDiverged):
        alone.fit(data.X, data.y, epochs=20, optimizer=alone_optimizer, batch_size=2,
                  shuffle=False)
    state, alone_state = optimizer.state_dict(), alone_optimizer.state_dict()
    assert state["step"].tolist() == [40, alone_state["step"], 40]
    # The ensemble's buffer orders a member's entries its own way: read it as parameters.
    momentum = Ensemble.from_sizes([2, 2, 1], 3, seed=0)
    momentum._flat[...] = state["momentum_buffer"]
    np.testing.assert_allclose(momentum.network(1).params, alone_state["momentum_buffer"],
                               rtol=1e-12)
    np.testing.assert_allclose(ensemble.network(1).params, alone.params, rtol=1e-12)


# -- an interrupted step leaves the last completed one -------------------------------------

def steps_by_hand(net, optimizer, X, y, batch_size, steps):
    """``steps`` steps of ``optimizer`` on ``net``, batches in dataset order."""
    starts = [s for _ in range(steps) for s in range(0, len(X), batch_size)][:steps]
    for s in starts:
        optimizer.step(net.params, flat(net.gradients(X[s:s + batch_size], y[s:s + batch_size])))


@pytest.mark.parametrize("how", ["adam, between its moments and the parameters",
                                 "plain SGD, after its step count",
                                 "a subclass's gradients"])
def test_ctrl_c_inside_a_step_leaves_the_parameters_and_state_of_the_last_completed_step(
        monkeypatch, interrupt_numpy, how):
    X, y = people(24, seed=0)
    net = Network.from_sizes([2, 3, 1], seed=0)
    start = net.copy()
    make = (lambda: Adam(0.05)) if how.startswith("adam") else (lambda: SGD(0.1))
    optimizer = make()
    if how.startswith("adam"):
        interrupt_numpy("sqrt", 11)  # Adam's one sqrt, on step 11
    elif how.startswith("plain"):
        interrupt_numpy("subtract", 11, only=lambda a, *rest: a is net.params)
    else:
        calls = []

        class Interrupted(Network):
            def gradients(self, X, y):
                calls.append(None)
                if len(calls) == 11:
                    raise KeyboardInterrupt
                return super().gradients(X, y)

        net = Interrupted(start.layers)
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, y, epochs=3, optimizer=optimizer, batch_size=4, shuffle=False)
    monkeypatch.undo()
    by_hand, by_hand_optimizer = start.copy(), make()
    steps_by_hand(by_hand, by_hand_optimizer, X, y, batch_size=4, steps=10)
    np.testing.assert_allclose(net.params, by_hand.params, rtol=1e-12)
    state, expected = optimizer.state_dict(), by_hand_optimizer.state_dict()
    assert state.keys() == expected.keys() and state["step"] == 10
    for name in expected:
        np.testing.assert_allclose(state[name], expected[name], rtol=1e-12)
    # And training continues from there as from the hand-made state.
    net.fit(X, y, epochs=1, optimizer=optimizer, batch_size=4, shuffle=False)
    steps_by_hand(by_hand, by_hand_optimizer, X, y, batch_size=4, steps=6)
    np.testing.assert_allclose(net.params, by_hand.params, rtol=1e-12)


def test_ctrl_c_inside_an_ensembles_step_leaves_each_member_at_its_last_completed_step(
        monkeypatch, interrupt_numpy):
    X, y = people(24, seed=0)
    ensemble = Ensemble.from_sizes([2, 3, 1], 3, seed=0)
    members = ensemble.networks()
    rates = np.array([0.01, 0.05, 0.1])
    optimizer = Adam(rates)
    interrupt_numpy("sqrt", 8)
    with pytest.raises(KeyboardInterrupt):
        ensemble.fit(X, y, epochs=3, optimizer=optimizer, batch_size=4, shuffle=False)
    monkeypatch.undo()
    assert optimizer.state_dict()["step"].tolist() == [7, 7, 7]
    for k, net in enumerate(members):
        steps_by_hand(net, Adam(rates[k]), X, y, batch_size=4, steps=7)
        np.testing.assert_allclose(ensemble.network(k).params, net.params, rtol=1e-12)


# -- L-BFGS fails as the loop does ---------------------------------------------------------

def overflowing():
    """A network whose output is inf - inf = NaN on every row."""
    return Network([matnn.Dense([[1e200], [1e200]], [0.0, 0.0], "identity"),
                    matnn.Dense([[1e200, -1e200]], [0.0], "identity")])


NAN_LOSS = matnn.Loss("nan", lambda Y, P: float("nan"), lambda Y, P: np.zeros_like(P))


@pytest.mark.parametrize("make", [overflowing,
                                  lambda: Network.from_sizes([1, 2, 1], seed=0, loss=NAN_LOSS)],
                         ids=["overflow", "nan-loss"])
def test_lbfgs_refuses_a_loss_that_is_nan_from_the_start_and_keeps_the_parameters(make):
    net = make()
    start = net.params.copy()
    X, y = [[1.0], [2.0]], [0.0, 1.0]
    with pytest.raises(matnn.TrainingDiverged, match="the loss is (nan|inf) at the starting"):
        net.fit(X, y, optimizer=matnn.LBFGS(max_iter=5))
    np.testing.assert_array_equal(net.params, start)


def test_sgd_refuses_the_same_nan_loss():
    net = Network.from_sizes([1, 2, 1], seed=0, loss=NAN_LOSS)
    with pytest.raises(matnn.TrainingDiverged):
        net.fit([[1.0], [2.0]], [0.0, 1.0], epochs=2, learning_rate=0.1)


def test_ctrl_c_inside_lbfgs_leaves_its_last_iterate():
    X, y = people(30, seed=0)
    start = Network.from_sizes([2, 3, 1], seed=0)
    three = start.copy()
    three.fit(X, y, optimizer=matnn.LBFGS(max_iter=3))
    armed = []

    class Interrupted(Network):
        def loss(self, X, y):
            # The first evaluation after the third iteration: a trial point.
            if armed:
                raise KeyboardInterrupt
            return super().loss(X, y)

    def arm_after_the_third(record):
        if record.epoch == 2:
            armed.append(True)

    net = Interrupted(start.layers)
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, y, optimizer=matnn.LBFGS(max_iter=50), callback=arm_after_the_third)
    # scipy's iterates do not depend on max_iter: the third is where three iterations end.
    np.testing.assert_array_equal(net.params, three.params)


def test_lbfgs_prints_its_iterations_with_log_every(capsys):
    X, y = people(30, seed=0)
    losses = []
    Network.from_sizes([2, 3, 1], seed=0).fit(X, y, optimizer=matnn.LBFGS(max_iter=5),
                                              log_every=2,
                                              callback=lambda r: losses.append(r.loss))
    expected = "".join("Iteration %d loss: %.3f\n" % (i, losses[i]) for i in (0, 2, 4))
    assert capsys.readouterr().out == expected


# -- settings fit cannot honour are refused; best_epoch is the lowest loss -----------------

def test_bad_validation_targets_are_named_as_validation_data_1():
    net = Network.from_sizes([2, 2, 1], seed=0)
    Xv = [[0.0, 1.0], [1.0, 0.0]]
    with pytest.raises(ValueError, match=r"validation_data\[1\]"):
        net.fit(data.X, data.y, epochs=1, learning_rate=0.1, validation_data=(Xv, [[1, 0, 1]]))
    bce = Network.from_sizes([2, 2, 1], seed=0, loss="binary_cross_entropy")
    with pytest.raises(ValueError, match=r"validation_data\[1\] at index \(1, 0\) is -1"):
        bce.fit(data.X, data.y, epochs=1, learning_rate=0.1, validation_data=(Xv, [1, -1]))


@pytest.mark.parametrize("model", [lambda: Network.from_sizes([2, 2, 1], seed=0),
                                   lambda: Ensemble.from_sizes([2, 2, 1], 2, seed=0)],
                         ids=["network", "ensemble"])
def test_min_delta_without_validation_data_is_refused(model):
    with pytest.raises(ValueError, match="min_delta needs validation_data"):
        model().fit(data.X, data.y, epochs=1, learning_rate=0.1, min_delta=0.01)


@pytest.mark.parametrize("seed", [-1, "0", 1.5])
def test_a_bad_seed_is_refused_without_shuffling_too(seed):
    net = Network.from_sizes([2, 2, 1], seed=0)
    start = net.params.copy()
    with pytest.raises((TypeError, ValueError), match="seed"):
        net.fit(data.X, data.y, epochs=1, learning_rate=0.1, shuffle=False, seed=seed)
    np.testing.assert_array_equal(net.params, start)


@pytest.mark.parametrize("setting", [{"seed": 0}, {"min_delta": 0.1}])
def test_lbfgs_refuses_what_it_would_ignore(setting):
    with pytest.raises(ValueError, match=f"takes no {next(iter(setting))}"):
        Network.from_sizes([2, 2, 1], seed=0).fit(data.X, data.y, optimizer=matnn.LBFGS(),
                                                  **setting)


@pytest.mark.parametrize("members", [None, 3])
def test_best_epoch_is_the_lowest_validation_loss_whatever_min_delta(members):
    X, y = people(40, seed=0)
    Xv, yv = people(40, seed=1)
    model = (Network.from_sizes([2, 4, 1], seed=0) if members is None
             else Ensemble.from_sizes([2, 4, 1], members, seed=0))
    # No later epoch improves on the first by min_delta, yet later ones are lower.
    history = model.fit(X, y, epochs=15, learning_rate=0.5, batch_size=8, seed=0,
                        validation_data=(Xv, yv), min_delta=10.0, restore_best=True)
    lowest = np.argmin(history.val_loss, axis=-1)
    assert np.all(lowest > 0)
    np.testing.assert_array_equal(history.best_epoch, lowest)
    np.testing.assert_array_equal(model.loss(Xv, yv), np.min(history.val_loss, axis=-1))


# -- a network stuck from the start says it could not train --------------------------------

def saturated():
    """Sigmoid units pinned at exactly 1: a zero gradient, and a loss of 0.5 on the lesson's data."""
    return Network([matnn.Dense(np.zeros((2, 2)), [1000.0, 1000.0]),
                    matnn.Dense([[100.0, 100.0]], [100.0])])


@pytest.mark.parametrize("how", [{"epochs": 3, "learning_rate": 0.1},
                                 {"optimizer": matnn.LBFGS(max_iter=5)}], ids=["sgd", "lbfgs"])
def test_a_network_stuck_from_the_start_warns_that_it_could_not_train(how):
    net = saturated()
    flat_grad = flat(net.gradients(data.X, data.y))
    assert not flat_grad.any() and net.loss(data.X, data.y) == 0.5
    with pytest.warns(matnn.LossIncreasedWarning,
                      match=r"the network could not train: its gradient was exactly 0 from the "
                            r"start, with the loss at 0.5.* start from other parameters"):
        net.fit(data.X, data.y, **how)


def test_an_ensemble_says_how_many_members_were_stuck_from_the_start():
    ensemble = Ensemble([saturated(), saturated(), Network.from_sizes([2, 2, 1], seed=0)])
    with pytest.warns(matnn.LossIncreasedWarning,
                      match=r"could not train: 2 of 3 members ended with a gradient of exactly 0 "
                            r"and a loss above 0 \(2 of them from the start\)"):
        ensemble.fit(data.X, data.y, epochs=3, learning_rate=0.1)


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs signal.pthread_kill")
def test_ctrl_c_while_the_groups_train_on_the_threads_waits_for_them(monkeypatch):
    # Ctrl-C reaches the main thread while it waits for a worker that is
    # inside an Adam step (between the moments and the parameters).
    X, y = people(64, seed=0)
    ensemble = Ensemble.from_sizes([2, 3, 1], 128, seed=0)
    assert splits(128, 64)
    main, real_sqrt, calls = threading.main_thread().ident, np.sqrt, []
    worker_started = threading.Event()

    def slow_sqrt(*args, **kwargs):
        if threading.get_ident() != main:
            worker_started.set()
            calls.append(None)
            if len(calls) == 3:
                signal.pthread_kill(main, signal.SIGINT)
            time.sleep(0.05)
        else:
            # The caller serves tasks too, and on a busy machine it could take
            # every group before the worker wakes: it waits for the worker.
            worker_started.wait(timeout=30)
        return real_sqrt(*args, **kwargs)

    monkeypatch.setattr(np, "sqrt", slow_sqrt)
    optimizer = Adam(0.05)
    before = matnn.get_num_threads()
    matnn.set_num_threads(2)
    try:
        with pytest.raises(KeyboardInterrupt):
            ensemble.fit(X, y, epochs=4, optimizer=optimizer, batch_size=8, shuffle=False)
    finally:
        matnn.set_num_threads(before)
    monkeypatch.undo()
    assert len(calls) >= 3  # the interrupt came from a worker
    steps = optimizer.state_dict()["step"]
    for count in np.unique(steps):
        # Each member is where count steps by itself take it.
        full, part = divmod(int(count), 8)
        reference, reference_optimizer = Ensemble.from_sizes([2, 3, 1], 128, seed=0), Adam(0.05)
        if full:
            reference.fit(X, y, epochs=full, optimizer=reference_optimizer, batch_size=8,
                          shuffle=False)
        if part:
            reference.fit(X[:8 * part], y[:8 * part], epochs=1, optimizer=reference_optimizer,
                          batch_size=8, shuffle=False)
        members = np.flatnonzero(steps == count)
        for k in members[:: max(1, len(members) // 4)]:
            np.testing.assert_allclose(ensemble.network(k).params,
                                       reference.network(k).params, rtol=1e-10, atol=1e-12)
