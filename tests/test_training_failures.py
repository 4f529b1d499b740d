"""Training that fails well: divergence is reported and loses nothing, and a
callback sees every epoch and can stop training."""

import numpy as np
import pytest

import matnn
from matnn import data


def identity_net(seed=0):
    return matnn.Network.from_sizes([2, 2, 1], "identity", seed=seed)


def sgd_step(net, X, y, learning_rate):
    """One plain SGD step on a batch, written independently of fit."""
    flat = np.concatenate([np.concatenate([dW.ravel(), db]) for dW, db in net.gradients(X, y)])
    net.params -= learning_rate * flat


def test_divergence_names_epoch_and_batch_and_keeps_the_last_finite_parameters():
    net = identity_net()
    start = net.copy()
    learning_rate = 1.0
    with pytest.raises(FloatingPointError) as info:
        net.fit(data.X, data.y, epochs=100, learning_rate=learning_rate, batch_size=1,
                shuffle=False)
    exc = info.value
    assert isinstance(exc, matnn.TrainingDiverged)
    assert f"epoch {exc.epoch}, batch {exc.batch}" in str(exc)
    assert "smaller learning_rate" in str(exc)
    assert exc.batch is not None
    assert np.isfinite(net.params).all()

    # Replay the same per-sample steps up to the failing batch.
    reference = start.copy()
    n = len(data.X)
    for step in range(exc.epoch * n + exc.batch):
        i = step % n
        sgd_step(reference, data.X[i:i + 1], data.y[i:i + 1], learning_rate)
    np.testing.assert_allclose(net.params, reference.params, rtol=1e-12, atol=0)
    # ...and the failing batch really is the one that breaks the parameters.
    with np.errstate(all="ignore"):
        i = exc.batch
        sgd_step(reference, data.X[i:i + 1], data.y[i:i + 1], learning_rate)
    assert not np.isfinite(reference.params).all()


def test_the_history_holds_the_epochs_that_completed():
    net = identity_net()
    with pytest.raises(matnn.TrainingDiverged) as info:
        net.fit(data.X, data.y, epochs=100, learning_rate=1.0, batch_size=2, seed=3)
    exc = info.value
    assert exc.history.shape == (exc.epoch,)
    assert np.isfinite(exc.history).all()
    assert 0 <= exc.batch < 2


def test_a_first_step_that_overflows_leaves_the_initial_parameters():
    net = identity_net(seed=4)
    start = net.params.copy()
    with pytest.raises(matnn.TrainingDiverged, match="epoch 0, batch 0") as info:
        net.fit(data.X, data.y, epochs=5, learning_rate=1e308, batch_size=4, shuffle=False)
    np.testing.assert_array_equal(net.params, start)
    assert info.value.history.shape == (0,)


def test_a_loss_that_overflows_with_finite_parameters_is_reported_too():
    # Outputs near 1e201 square to inf, while a tiny learning rate keeps every
    # parameter finite: the loss, not a batch, is what diverged.
    net = matnn.Network([matnn.Dense([[1e200, 1e200]], [0.0], "identity")])
    with pytest.raises(FloatingPointError, match="when evaluating the loss") as info:
        net.fit(data.X, data.y, epochs=3, learning_rate=1e-300, batch_size=4, shuffle=False)
    assert info.value.batch is None
    assert info.value.epoch == 0
    assert "smaller learning_rate" in str(info.value)
    assert np.isfinite(net.params).all()


def test_parameters_too_large_to_evaluate_are_reported_as_divergence_not_numpy_warnings():
    # The start loss (for the did-training-help check) overflows; the suite
    # turns numpy's warnings into errors, so a stray one would fail here.
    net = matnn.Network.from_sizes([2, 3, 1], "relu", seed=0)
    net.params[...] *= 1e160
    start = net.params.copy()
    with pytest.raises(matnn.TrainingDiverged, match="epoch 0, batch 0"):
        net.fit(data.X, data.y, epochs=2, learning_rate=0.1)
    np.testing.assert_array_equal(net.params, start)


def test_the_callback_sees_every_epoch_and_its_loss():
    net = matnn.Network.from_sizes([2, 3, 1], seed=1)
    seen = []
    history = net.fit(data.X, data.y, epochs=25, learning_rate=0.1, batch_size=2, seed=0,
                      callback=lambda record: seen.append((record.epoch, record.loss)))
    assert [epoch for epoch, _ in seen] == list(range(25))
    assert [loss for _, loss in seen] == history.loss.tolist()
    assert seen[-1][1] == net.loss(data.X, data.y)


def test_a_callback_that_returns_false_stops_training():
    net = matnn.Network.from_sizes([2, 3, 1], seed=1)
    twin = net.copy()
    calls = []

    def stop_after_epoch_3(record):
        calls.append(record.epoch)
        return record.epoch != 3

    history = net.fit(data.X, data.y, epochs=50, learning_rate=0.1, batch_size=2, seed=0,
                      callback=stop_after_epoch_3)
    assert calls == [0, 1, 2, 3]
    assert history.loss.shape == (4,)
    expected = twin.fit(data.X, data.y, epochs=4, learning_rate=0.1, batch_size=2, seed=0)
    np.testing.assert_array_equal(history.loss, expected.loss)
    np.testing.assert_array_equal(net.params, twin.params)
    assert history.stopped_early


def test_a_callback_that_stops_when_the_loss_is_small():
    net = matnn.Network.from_sizes([2, 2, 1], seed=0)
    history = net.fit(data.X, data.y, epochs=5000, learning_rate=0.5, batch_size=1,
                      shuffle=False, callback=lambda record: record.loss >= 0.01)
    assert history[-1] < 0.01
    assert (history[:-1] >= 0.01).all()


def test_a_callback_must_be_callable():
    with pytest.raises(TypeError, match="callback must be callable"):
        identity_net().fit(data.X, data.y, epochs=1, learning_rate=0.1, batch_size=1,
                           callback="stop")


def test_a_network_saturated_by_the_last_callback_is_reported_stuck():
    # The end check looks at the parameters training ends with, also when a
    # callback changed them after the last epoch's loss was taken. With every
    # weight at 1e3 each unit's input is +-1e3 or more, so every sigmoid is
    # exactly 0 or 1: no gradient flows, and the loss is 1/2.
    net = matnn.Network.from_sizes([2, 2, 1], seed=1)

    def saturate(record):
        if record.epoch == 2:
            record.model.params = np.full(net.params.size, 1e3)

    with pytest.warns(matnn.LossIncreasedWarning, match="gradient ended exactly 0"):
        net.fit(data.X, data.y, epochs=3, learning_rate=0.1, batch_size=1, shuffle=False,
                callback=saturate)
    assert not any(g.any() for pair in net.gradients(data.X, data.y) for g in pair)
    assert net.loss(data.X, data.y) == 0.5
