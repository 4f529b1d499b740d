"""What ``fit`` promises when something goes wrong (issue 20, part B).

A best epoch is restored on every path, a subclass's malformed gradients
are refused by name, an optimizer stays with the network it trained, a run
that diverges or is interrupted leaves the parameters and the optimizer's
state of one and the same step, and the settings ``fit`` cannot honour are
refused. Each test compares with a run written independently: a manual
loop over ``net.gradients`` and ``optimizer.step``, a fresh fit, the
history's own records.
"""

import numpy as np
import pytest

import matnn
from matnn import SGD, Adam, Ensemble, Network, data
from matnn.ensemble import splits


def people(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(float)


# -- restore_best restores, on both of an ensemble's paths ------------------------------

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


# -- a subclass's gradients are checked before they step ---------------------------------

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
     r"Transposed.gradients\(\)\[0\] gives dW of shape \(2, 3\) but layers\[0\].W has shape \(3, 2\)"),
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


# -- one optimizer, one model ---------------------------------------------------------------

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
