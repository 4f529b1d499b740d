"""The training loop's callback record, its shuffle strategy and extra per-row arrays."""

import numpy as np
import pytest

import matnn
from matnn import LBFGS, Ensemble, EpochRecord, Network, data
from matnn.network_run import _NetworkRun
from matnn.training import Loop, RandomPermutation


def people(n, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype(float)


# -- the callback's record --------------------------------------------------------

def test_the_record_holds_what_the_history_holds_and_the_model_at_that_epoch():
    X, y = people(40, seed=0)
    Xv, yv = people(20, seed=1)
    net = Network.from_sizes([2, 4, 1], seed=0, loss="binary_cross_entropy")
    twin = net.copy()
    records, params = [], []

    def keep(record):
        records.append(record)
        params.append(record.model.params.copy())

    history = net.fit(X, y, epochs=6, learning_rate=0.5, batch_size=8, seed=2,
                      validation_data=(Xv, yv), callback=keep)
    assert all(isinstance(r, EpochRecord) and r.model is net for r in records)
    assert [r.epoch for r in records] == list(range(6))
    for field in ("loss", "val_loss", "accuracy", "val_accuracy"):
        values = [getattr(r, field) for r in records]
        assert all(isinstance(v, float) for v in values)
        assert values == getattr(history, field).tolist()
    # Epoch 2's model is the network after three epochs.
    twin.fit(X, y, epochs=3, learning_rate=0.5, batch_size=8, seed=2)
    np.testing.assert_array_equal(params[2], twin.params)
    assert records[-1].accuracy == net.accuracy(X, y)
    with pytest.raises(AttributeError):
        records[0].loss = 0.0


def test_the_record_says_none_for_what_was_not_computed():
    net = Network.from_sizes([2, 2, 1], seed=0)
    records = []
    net.fit(data.X, data.y, epochs=2, learning_rate=0.1, callback=records.append)
    assert [(r.val_loss, r.accuracy, r.val_accuracy) for r in records] == [(None,) * 3] * 2


def test_true_and_none_go_on_and_a_false_on_the_last_epoch_is_no_early_stop():
    for answer in (None, True, np.True_):
        net = Network.from_sizes([2, 2, 1], seed=0)
        history = net.fit(data.X, data.y, epochs=3, learning_rate=0.1,
                          callback=lambda record: answer)
        assert len(history) == 3 and not history.stopped_early
    net = Network.from_sizes([2, 2, 1], seed=0)
    history = net.fit(data.X, data.y, epochs=3, learning_rate=0.1,
                      callback=lambda record: record.epoch != 2)
    assert len(history) == 3 and not history.stopped_early


@pytest.mark.parametrize("answer, shown", [(1, "int 1"), ("stop", "str 'stop'"),
                                           (np.array([True, False]), "ndarray array")])
def test_any_other_answer_is_refused_naming_it(answer, shown):
    net = Network.from_sizes([2, 2, 1], seed=0)
    with pytest.raises(TypeError, match=f"callback must return None or True .* got {shown}"):
        net.fit(data.X, data.y, epochs=3, learning_rate=0.1, callback=lambda record: answer)


def test_an_ensemble_callback_gets_arrays_and_a_per_member_answer_is_refused():
    X, y = people(30, seed=0)
    Xv, yv = people(10, seed=1)
    ensemble = Ensemble.from_sizes([2, 3, 1], 3, seed=0, loss="binary_cross_entropy")
    twin = Ensemble.from_sizes([2, 3, 1], 3, seed=0, loss="binary_cross_entropy")
    records, params = [], []

    def keep(record):
        records.append(record)
        params.append([layer.W.copy() for layer in record.model.layers])

    history = ensemble.fit(X, y, epochs=4, learning_rate=[0.1, 0.5, 1.0], batch_size=5,
                           seed=3, validation_data=(Xv, yv), callback=keep)
    for field in ("loss", "val_loss", "accuracy", "val_accuracy"):
        np.testing.assert_array_equal(np.array([getattr(r, field) for r in records]).T,
                                      getattr(history, field))
    # The compact copy the run trains is written back before the callback sees the model.
    twin.fit(X, y, epochs=2, learning_rate=[0.1, 0.5, 1.0], batch_size=5, seed=3)
    for W, layer in zip(params[1], twin.layers):
        np.testing.assert_array_equal(W, layer.W)
    with pytest.raises(TypeError, match="callback must return .* got ndarray"):
        ensemble.fit(X, y, epochs=3, learning_rate=0.1, callback=lambda r: r.loss < 1)


def test_the_lbfgs_callback_sees_every_iteration_and_can_stop():
    X, y = people(30, seed=0)
    start = Network.from_sizes([2, 3, 1], seed=0)
    records, params = [], []

    def stop_after_three(record):
        records.append(record)
        params.append(record.model.params.copy())
        return record.epoch < 2

    net = start.copy()
    history = net.fit(X, y, optimizer=LBFGS(max_iter=50), callback=stop_after_three)
    assert [r.epoch for r in records] == [0, 1, 2] and history.stopped_early
    assert [r.loss for r in records] == history.loss.tolist()
    assert all(r.val_loss is None and r.accuracy is None for r in records)
    # scipy's iterates do not depend on the run's length: three iterations are the same.
    three = start.copy()
    three.fit(X, y, optimizer=LBFGS(max_iter=3))
    np.testing.assert_array_equal(params[2], three.params)
    np.testing.assert_array_equal(net.params, three.params)


# -- restore_best for an ensemble ------------------------------------------------------

def test_an_ensemble_restores_each_members_best_epoch():
    X, y = people(50, seed=0)
    Xv, yv = people(20, seed=1)
    rates = [0.5, 5.0, 10.0]
    ensemble = Ensemble.from_sizes([2, 4, 1], 3, seed=1)
    history = ensemble.fit(X, y, epochs=30, learning_rate=rates, batch_size=5, seed=1,
                           validation_data=(Xv, yv), restore_best=True)
    best = history.val_loss[np.arange(3), history.best_epoch]
    assert (best < history.val_loss[:, -1]).any()  # some member got worse after its best
    np.testing.assert_allclose(ensemble.loss(Xv, yv), best, rtol=1e-12)
    for k, rate in enumerate(rates):
        alone = Ensemble.from_sizes([2, 4, 1], 3, seed=1).network(k)
        alone.fit(X, y, epochs=int(history.best_epoch[k]) + 1, learning_rate=rate,
                  batch_size=5, seed=1)
        # Members equal their solo runs to rounding (see matnn.ensemble).
        np.testing.assert_allclose(ensemble.network(k).params, alone.params, rtol=1e-12, atol=1e-13)


# -- the loop's order and per-row arrays ----------------------------------------------

class Recorder(_NetworkRun):
    """A run whose step records each batch (a third array: per-row weights) and then steps."""

    def make_step(self, batch_size):
        plain = super().make_step(batch_size)
        self.seen = []

        def step(Xb, Yb, wb):
            self.seen.append((Xb.copy(), wb.copy()))
            plain(Xb, Yb)

        return step


def loop_fit(net, X, y, order, weights, epochs=3, batch_size=4):
    X, Y = net._prepare(X, y)
    loop = Loop(X.shape[0], epochs=epochs, batch_size=batch_size, order=order)
    run = Recorder(net, matnn.SGD(0.1), loop.batch_size, X.shape[0])
    history = loop.run(run, (X, Y, weights))
    return run, history


def test_the_default_order_is_fits_shuffle_and_extra_arrays_travel_with_their_rows():
    X, y = people(10, seed=0)
    weights = np.arange(10.0)
    net, twin = Network.from_sizes([2, 3, 1], seed=0), Network.from_sizes([2, 3, 1], seed=0)
    run, history = loop_fit(net, X, y, RandomPermutation(7), weights)
    expected = twin.fit(X, y, epochs=3, learning_rate=0.1, batch_size=4, seed=7)
    np.testing.assert_array_equal(history.loss, expected.loss)
    np.testing.assert_array_equal(net.params, twin.params)
    assert len(run.seen) == 3 * 3
    for Xb, wb in run.seen:
        # Each weight is its row's number, so the weights name the rows the batch holds.
        np.testing.assert_array_equal(Xb, X[wb.astype(int)])
    first_epoch = np.concatenate([wb for _, wb in run.seen[:3]])
    np.testing.assert_array_equal(first_epoch, np.random.default_rng(7).permutation(10))


def test_a_custom_order_is_followed_and_checked():
    X, y = people(6, seed=0)
    reverse = lambda n: np.arange(n)[::-1]  # noqa: E731
    run, _ = loop_fit(Network.from_sizes([2, 3, 1], seed=0), X, y, reverse, np.arange(6.0),
                      epochs=1, batch_size=6)
    np.testing.assert_array_equal(run.seen[0][1], np.arange(6.0)[::-1])
    for bad in (lambda n: np.zeros(n, int), lambda n: np.arange(n + 1),
                lambda n: np.arange(n) - 1, lambda n: np.arange(n) * 1.0):
        with pytest.raises(ValueError, match=r"permutation of range\(6\)"):
            loop_fit(Network.from_sizes([2, 3, 1], seed=0), X, y, bad, np.arange(6.0))


def test_extra_arrays_must_have_the_rows_of_x():
    X, y = people(6, seed=0)
    with pytest.raises(ValueError, match="must have 6 rows each"):
        loop_fit(Network.from_sizes([2, 3, 1], seed=0), X, y, None, np.arange(5.0))


# -- a loop that does not diagnose, and a sparse X -------------------------------------

class Counting(_NetworkRun):
    """A run that counts the passes the loop asks of it over the training data."""

    def __init__(self, *args):
        super().__init__(*args)
        self.evaluated = self.stuck_checked = 0

    def evaluate(self, X, Y, truth):
        self.evaluated += 1
        return super().evaluate(X, Y, truth)

    def stuck(self, X, Y):
        self.stuck_checked += 1
        return super().stuck(X, Y)


@pytest.mark.parametrize("diagnose", [True, False])
def test_without_diagnose_the_loop_asks_no_start_loss_no_stuck_check_and_never_warns(diagnose):
    X, y = people(20, seed=0)
    net = Network.from_sizes([2, 3, 1], seed=1)
    X, Y = net._prepare(X, y)
    # A rate this large makes this network clearly worse, which the loop
    # reports only when it diagnoses.
    loop = Loop(20, epochs=3, batch_size=5, diagnose=diagnose)
    run = Counting(net, matnn.SGD(200.0), loop.batch_size, 20)
    if diagnose:
        with pytest.warns(matnn.LossIncreasedWarning):
            loop.run(run, (X, Y))
    else:
        loop.run(run, (X, Y))
    # Every epoch evaluates its loss; diagnosing adds the start and the stuck check.
    assert (run.evaluated, run.stuck_checked) == ((4, 1) if diagnose else (3, 0))


def test_a_sparse_x_is_shuffled_and_batched_by_its_rows():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    X = np.arange(12.0).reshape(6, 2)
    sparse = scipy_sparse.csr_matrix(X)
    seen = []

    class Rows(_NetworkRun):
        def epoch(self, batches, X, Y, truth):
            seen.extend((Xb.toarray(), Yb.copy()) for Xb, Yb in batches)
            return 0.0, None, False

    net = Network.from_sizes([2, 1], seed=0)
    Y = np.arange(6.0)[:, None]
    loop = Loop(6, epochs=2, batch_size=4, order=RandomPermutation(3), diagnose=False)
    loop.run(Rows(net, matnn.SGD(0.1), 4, 6), (sparse, Y))
    assert [b[0].shape[0] for b in seen] == [4, 2, 4, 2]
    for Xb, Yb in seen:
        # Y's value is its row's number: each X row travelled with its Y.
        np.testing.assert_array_equal(Xb, X[Yb[:, 0].astype(int)])
    rng = np.random.default_rng(3)
    for epoch in range(2):
        order = np.concatenate([Yb[:, 0] for _, Yb in seen[2 * epoch:2 * epoch + 2]])
        np.testing.assert_array_equal(order, rng.permutation(6))
