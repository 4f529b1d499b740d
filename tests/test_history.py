"""A History must serve every use the old return value of fit (the loss array) had."""

import numpy as np
import pytest

from matnn import Ensemble, History, Network, backprop, data


@pytest.fixture
def losses():
    net = Network.from_sizes([2, 2, 1], seed=0)
    return net.fit(data.X, data.y, epochs=6, learning_rate=0.1, batch_size=1, shuffle=False).loss


def test_indexing_length_iteration_and_slicing_act_on_the_loss(losses):
    history = History(losses)
    assert len(history) == len(losses) == history.epochs == 6
    assert history[-1] == losses[-1] and history[0] == losses[0]
    np.testing.assert_array_equal(history[1:4], losses[1:4])
    np.testing.assert_array_equal(history[[0, 5]], losses[[0, 5]])
    assert list(history) == list(losses)
    assert history.shape == (6,) and history.ndim == 1


def test_numpy_sees_the_loss_array(losses):
    history = History(losses)
    np.testing.assert_array_equal(np.asarray(history), losses)
    np.testing.assert_array_equal(np.array(history, copy=True), losses)
    assert np.asarray(history, np.float32).dtype == np.float32
    assert not np.isnan(history).any()
    np.testing.assert_array_equal(history < losses[2], losses < losses[2])
    np.testing.assert_array_equal(history - losses, np.zeros(6))
    np.testing.assert_array_equal(2 * history, 2 * losses)
    assert np.min(history) == losses.min()


def test_an_ensemble_history_indexes_like_its_member_by_epoch_array():
    curves = np.arange(12.0).reshape(3, 4)
    curves[1, 2:] = np.nan
    history = History(curves)
    assert len(history) == 3 and history.shape == (3, 4) and history.epochs == 4
    np.testing.assert_array_equal(history[1, :2], curves[1, :2])
    np.testing.assert_array_equal(history[:, -1], curves[:, -1])
    assert np.isnan(history[1, 2:]).all()


def test_the_record_of_how_a_run_ended():
    history = History([0.5, 0.4, 0.45], val_loss=[0.6, 0.5, 0.55], accuracy=[0.5, 0.75, 0.75],
                      val_accuracy=[0.5, 1.0, 0.5], stopped_early=True, best_epoch=1)
    np.testing.assert_array_equal(history.val_loss, [0.6, 0.5, 0.55])
    assert history.val_loss.dtype == np.float64
    assert history.stopped_early and history.best_epoch == 1
    assert history.converged is None and history.message is None
    assert repr(history) == (
        "History(epochs=3, loss[-1]=0.45, val_loss[-1]=0.55, best_epoch=1, stopped_early=True)")


def test_without_validation_the_validation_fields_are_none():
    history = History(np.array([1.0, 0.5]))
    assert history.val_loss is None and history.accuracy is None
    assert history.val_accuracy is None and history.best_epoch is None
    assert not history.stopped_early


def test_an_lbfgs_history_says_whether_scipy_converged():
    history = History([3.0, 1.0, 0.5], converged=False, message="STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT")
    assert history.converged is False and "LIMIT" in history.message
    assert repr(history).endswith("stopped_early=False, converged=False)")


def test_an_empty_run_is_an_empty_history():
    history = History(np.empty(0))
    assert len(history) == 0 and history.shape == (0,)
    assert repr(history) == "History(epochs=0, stopped_early=False)"


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(loss=[[[1.0]]]), ValueError, r"loss must have shape \(n_epochs,\)"),
    (dict(loss=["a"]), TypeError, "loss must be an array of numbers"),
    (dict(loss=[1.0, 2.0], val_loss=[1.0]), ValueError, r"val_loss has shape \(1,\) but loss has shape \(2,\)"),
    (dict(loss=[1.0], accuracy=[1.0, 1.0]), ValueError, "accuracy has shape"),
    (dict(loss=[1.0, 2.0], best_epoch=2), ValueError, r"best_epoch must be in \[0, 2\)"),
    (dict(loss=[1.0], best_epoch=0.0), TypeError, "best_epoch must be an integer"),
    (dict(loss=[1.0], best_epoch=True), TypeError, "best_epoch must be an integer"),
    (dict(loss=[1.0], stopped_early=1), TypeError, "stopped_early must be True or False"),
    (dict(loss=[1.0], converged="yes"), TypeError, "converged must be True, False or None"),
    (dict(loss=[1.0], message=3), TypeError, "message must be a str"),
])
def test_inconsistent_records_are_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        History(**kwargs)


# -- what fit records is what the network reports ------------------------------------------

def _classifier(kind):
    """A network (fused softmax/cross-entropy, fused sigmoid/BCE, or unfused) and its
    number of classes: labels are drawn from them, or None for one-hot rows."""
    if kind == "softmax, cross_entropy":
        return Network.from_sizes([4, 6, 3], ["tanh", "softmax"], seed=1,
                                  loss="cross_entropy"), 3
    if kind == "sigmoid, binary_cross_entropy":
        return Network.from_sizes([4, 6, 1], ["tanh", "sigmoid"], seed=1,
                                  loss="binary_cross_entropy"), 2
    # A softmax output under binary_cross_entropy is not fused.
    return Network.from_sizes([4, 6, 2], ["tanh", "softmax"], seed=1,
                              loss="binary_cross_entropy"), None


def _data(classes, n, seed=2):
    rng = np.random.default_rng(seed)
    X, Xv = rng.normal(0, 2, (n, 4)), rng.normal(0, 2, (n // 2, 4))
    if classes is None:
        return X, Xv, *(np.eye(2)[rng.integers(0, 2, m)] for m in (n, n // 2))
    return X, Xv, *(rng.integers(0, classes, m) for m in (n, n // 2))


KINDS = ["softmax, cross_entropy", "sigmoid, binary_cross_entropy", "softmax, binary_cross_entropy"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("n, block_rows", [(40, None), (700, None), (700, 64)])
def test_the_loss_and_accuracy_fit_records_are_the_networks_own(kind, n, block_rows, monkeypatch):
    # fit evaluates a fused loss from the logits, 700 rows take the long-row
    # path of the softmax's maximum, and blocks of 64 rows count the right
    # answers block by block: all must give what loss() and accuracy() give.
    if block_rows:
        monkeypatch.setattr(backprop, "BLOCK_ROWS", block_rows)
    net, classes = _classifier(kind)
    X, Xv, y, yv = _data(classes, n)
    history = net.fit(X, y, epochs=2, learning_rate=0.5, batch_size=16, seed=3,
                      validation_data=(Xv, yv))
    assert net._engine.fused == (classes is not None)
    assert history.loss[-1] == net.loss(X, y)
    assert history.val_loss[-1] == net.loss(Xv, yv)
    if classes is None:
        # binary_cross_entropy counts every output's yes/no answer.
        right = (net.predict(X) >= 0.5) == (y >= 0.5)
        assert history.accuracy[-1] == right.mean()
    else:
        assert history.accuracy[-1] == net.accuracy(X, y)
        assert history.val_accuracy[-1] == net.accuracy(Xv, yv)


@pytest.mark.parametrize("kind", KINDS)
def test_an_ensembles_recorded_accuracy_is_each_members_own(kind, monkeypatch):
    monkeypatch.setattr(backprop, "BLOCK_ROWS", 64)
    net, classes = _classifier(kind)
    others = [net.copy(), net.copy()]
    for k, other in enumerate(others):
        other.params += np.random.default_rng(k).normal(0, 0.5, other.params.size)
    ensemble = Ensemble([net, *others])
    X, Xv, y, yv = _data(classes, 300)
    history = ensemble.fit(X, y, epochs=2, learning_rate=0.5, batch_size=16, seed=3,
                           validation_data=(Xv, yv))
    for k in range(3):
        member = ensemble.network(k)
        assert history.loss[k, -1] == pytest.approx(member.loss(X, y), rel=1e-12)
        if classes is not None:
            assert history.accuracy[k, -1] == member.accuracy(X, y)
            assert history.val_accuracy[k, -1] == member.accuracy(Xv, yv)
