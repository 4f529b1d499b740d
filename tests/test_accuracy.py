"""One accuracy everywhere: ``net.accuracy``, ``Ensemble.accuracy`` and ``history.accuracy``
count right answers by the loss's own rule, and refuse the targets the loss refuses."""

import numpy as np
import pytest

from matnn import Ensemble, Network


def tags(n, seed):
    """Two independent yes/no tags per row: a multi-label problem for binary cross-entropy."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, np.column_stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0]).astype(float)


def test_a_multi_output_bce_network_counts_every_output_as_its_history_does():
    X, y = tags(60, seed=0)
    net = Network.from_sizes([3, 4, 2], seed=0, loss="binary_cross_entropy")
    history = net.fit(X, y, epochs=3, learning_rate=0.5, batch_size=10, seed=0)
    by_hand = np.mean((net.predict(X) >= 0.5) == (y >= 0.5))
    assert net.accuracy(X, y) == by_hand == history.accuracy[-1]
    # Not the argmax of classify, which the two tags are not.
    assert by_hand != np.mean(net.classify(X) == np.argmax(y, axis=1))


def test_an_ensembles_accuracy_is_each_members_and_its_historys():
    X, y = tags(60, seed=0)
    ensemble = Ensemble.from_sizes([3, 4, 2], 3, seed=0, loss="binary_cross_entropy")
    history = ensemble.fit(X, y, epochs=3, learning_rate=[0.1, 0.5, 1.0], batch_size=10, seed=0)
    accuracy = ensemble.accuracy(X, y)
    assert accuracy.shape == (3,)
    np.testing.assert_array_equal(accuracy, [m.accuracy(X, y) for m in ensemble.networks()])
    np.testing.assert_array_equal(accuracy, history.accuracy[:, -1])


def test_the_lessons_mse_network_counts_its_side_of_one_half():
    X = np.array([[-2.0, -1.0], [25.0, 6.0], [17.0, 4.0], [-15.0, -6.0]])
    net = Network.from_sizes([2, 2, 1], seed=0)
    y = np.array([1, 0, 0, 1])
    assert net.accuracy(X, y) == np.mean((net.predict(X)[:, 0] >= 0.5) == (y == 1))


@pytest.mark.parametrize("sizes, activation, loss, y, message", [
    ([2, 3], ["softmax"], "cross_entropy", [0, 7], r"y\[1\] = 7 is not a class label"),
    ([2, 3], ["softmax"], "cross_entropy", [-1, 0], r"y\[0\] = -1 is not a class label"),
    ([2, 1], ["sigmoid"], "binary_cross_entropy", [1, -1], r"needs targets in \[0, 1\]"),
    ([2, 1], ["sigmoid"], "mse", [1, -1], r"y must hold 0 or 1, but y\[1\] is -1"),
    ([2, 2], ["sigmoid"], "mse", [[1, 0], [1, 1]], r"one-hot rows .* row 1 is \[1.0, 1.0\]"),
])
@pytest.mark.parametrize("model", ["network", "ensemble"])
def test_targets_that_are_no_classes_are_refused_not_scored_as_wrong(sizes, activation, loss, y,
                                                                      message, model):
    net = Network.from_sizes(sizes, activation, seed=0, loss=loss)
    X = [[0.5, -1.0], [1.0, 2.0]]
    if loss != "mse":
        # loss() refuses them too: accuracy takes what the loss takes.
        with pytest.raises(ValueError, match=message):
            net.loss(X, y)
    scored = net if model == "network" else Ensemble([net, net.copy()])
    with pytest.raises(ValueError, match=message):
        scored.accuracy(X, y)
