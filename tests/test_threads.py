"""Threads: the controls, the pool, and results independent of the thread count.

Blocks and groups are made small here (``BLOCK_ROWS``, ``GROUP_MEMBERS``
and ``GROUP_WORK`` patched), so that batches of a few hundred rows span many
blocks and ensembles of a few members split, and the tests stay fast.
"""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import matnn
from matnn import SGD, Adam, Ensemble, Network, backprop, ensemble, threads

THREAD_COUNTS = (1, 2, 4)


@pytest.fixture(autouse=True)
def restore_threads():
    before = matnn.get_num_threads()
    yield
    matnn.set_num_threads(before)


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(backprop, "BLOCK_ROWS", 64)


@pytest.fixture
def small_groups(monkeypatch):
    monkeypatch.setattr(ensemble, "GROUP_MEMBERS", 2)
    monkeypatch.setattr(ensemble, "GROUP_WORK", 1)


def data(n, n_in, n_out, seed=0, labels=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in))
    if labels:
        return X, rng.integers(0, n_out, n)
    return X, (rng.random((n, n_out)) < 0.5).astype(np.float64)


def flat(grads):
    return np.concatenate([np.concatenate([np.ravel(dW), np.ravel(db)]) for dW, db in grads])


def on_each_thread_count(compute):
    """``compute()`` with 1, 2 and 4 threads."""
    results = {}
    for n in THREAD_COUNTS:
        matnn.set_num_threads(n)
        results[n] = compute()
    return results


def assert_bitwise_equal(results):
    """Every thread count's results equal the first's, bit for bit."""
    first, *others = THREAD_COUNTS
    for n in others:
        for name, value in results[first].items():
            assert np.array_equal(results[n][name], value, equal_nan=True), \
                f"{name} differs between 1 and {n} threads"


# -- the controls ------------------------------------------------------------


def test_set_num_threads_is_what_get_num_threads_returns():
    for n in (1, 3, 2):
        matnn.set_num_threads(n)
        assert matnn.get_num_threads() == n


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-2, ValueError), (1.5, TypeError),
                                        (True, TypeError), ("2", TypeError)])
def test_set_num_threads_refuses_bad_counts_by_name(bad, error):
    with pytest.raises(error, match=r"\bn must"):
        matnn.set_num_threads(bad)


def test_the_default_is_the_cores_this_process_may_use(monkeypatch):
    monkeypatch.delenv("MATNN_NUM_THREADS", raising=False)
    matnn.set_num_threads(None)
    expected = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert matnn.get_num_threads() == expected


def test_the_environment_variable_sets_the_default(monkeypatch):
    monkeypatch.setenv("MATNN_NUM_THREADS", " 3 ")
    matnn.set_num_threads(None)
    assert matnn.get_num_threads() == 3


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_environment_variable_is_named_in_the_error(monkeypatch, value):
    monkeypatch.setenv("MATNN_NUM_THREADS", value)
    with pytest.raises(ValueError, match="MATNN_NUM_THREADS"):
        matnn.set_num_threads(None)


def test_a_new_process_reads_the_environment_variable():
    env = dict(os.environ, MATNN_NUM_THREADS="3")
    out = subprocess.run([sys.executable, "-c", "import matnn; print(matnn.get_num_threads())"],
                         env=env, capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "3"


# -- the pool -------------------------------------------------------------------


def blas_threads():
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


def test_tasks_run_on_that_many_threads_at_once():
    # Each task waits until all of them are running: that only returns if
    # each one has its own thread.
    matnn.set_num_threads(3)
    barrier = threading.Barrier(3, timeout=20)
    names = [None] * 3

    def work(_, i):
        barrier.wait()
        names[i] = threading.current_thread().name

    threads.run_tasks(3, work)
    assert len(set(names)) == 3


def test_a_worker_runs_blas_on_one_thread_and_the_caller_gets_its_setting_back():
    matnn.set_num_threads(2)
    with threadpool_limits(limits=2, user_api="blas"):
        before = blas_threads()
        seen = {}
        barrier = threading.Barrier(2, timeout=20)

        def work(_, i):
            barrier.wait()
            seen[threading.current_thread().name] = blas_threads()

        threads.run_tasks(2, work)
        assert len(seen) == 2
        assert all(counts and set(counts) == {1} for counts in seen.values())
        assert blas_threads() == before


def test_values_are_combined_in_task_order_whatever_finishes_first():
    matnn.set_num_threads(4)
    order = []

    def work(_, i):
        # Later tasks finish first.
        threading.Event().wait(0.002 * (12 - i))
        return i

    threads.run_tasks(12, work, lambda i, value: order.append((i, value)))
    assert order == [(i, i) for i in range(12)]


def test_an_error_in_a_task_reaches_the_caller_and_the_pool_keeps_working():
    matnn.set_num_threads(2)

    def work(_, i):
        if i == 5:
            raise ZeroDivisionError("task 5")
        return i

    with pytest.raises(ZeroDivisionError, match="task 5"):
        threads.run_tasks(8, work, lambda i, value: None)
    total = []
    threads.run_tasks(4, lambda _, i: i, lambda i, value: total.append(value))
    assert total == [0, 1, 2, 3]


def test_each_thread_gets_its_own_state():
    matnn.set_num_threads(2)
    barrier = threading.Barrier(2, timeout=20)
    owners = {}

    def work(state, i):
        barrier.wait()
        owners[i] = (state, threading.current_thread().name)

    threads.run_tasks(2, work, local=lambda j: f"state {j}")
    assert sorted(s for s, _ in owners.values()) == ["state 0", "state 1"]
    assert len({name for _, name in owners.values()}) == 2


# -- a network: row blocks ---------------------------------------------------------


@pytest.mark.parametrize("sizes, activation, loss", [
    ((3, 5, 2), "sigmoid", "mse"),
    ((6, 7, 4), ["tanh", "softmax"], "cross_entropy"),
])
def test_a_network_computes_the_same_bits_on_1_2_and_4_threads(small_blocks, sizes, activation,
                                                               loss):
    net = Network.from_sizes(sizes, activation, seed=1, loss=loss)
    X, y = data(1000, sizes[0], sizes[-1], labels=loss == "cross_entropy")
    Xv, yv = data(300, sizes[0], sizes[-1], seed=1, labels=loss == "cross_entropy")

    def compute():
        trained = net.copy()
        # batch 300 spans 5 blocks of 64 rows: every step is split.
        history = trained.fit(X, y, epochs=3, learning_rate=0.2, batch_size=300, seed=4,
                              validation_data=(Xv, yv))
        # Random 0/1 rows are no classes for MSE's accuracy: labels only.
        accuracy = net.accuracy(X, y) if loss == "cross_entropy" else np.nan
        return {"predict": net.predict(X), "loss": net.loss(X, y),
                "gradients": flat(net.gradients(X, y)), "accuracy": accuracy,
                "fit": trained.params, "history": history.loss,
                "val_loss": history.val_loss}

    assert_bitwise_equal(on_each_thread_count(compute))


@pytest.mark.parametrize("n", [1, 100, 16384, 16385, 3 * 16384 + 1, 7 * 16384 - 5, 10**6])
@pytest.mark.parametrize("sizes", [(2, 2, 1), (64, 128, 10), (784, 256, 128, 10)])
def test_a_large_batch_is_cut_into_an_even_number_of_nearly_equal_blocks(n, sizes):
    rows = backprop.block_rows(n, sizes)
    cut = [len(range(n)[i:i + rows]) for i in range(0, n, rows)]
    assert sum(cut) == n
    assert rows <= backprop.BLOCK_ROWS and rows * sum(sizes[1:]) <= backprop.BLOCK_ACTIVATIONS \
        or rows == n == 1
    if len(cut) > 1:
        # Two threads take the same number of blocks, each nearly as long.
        assert len(cut) % 2 == 0 and max(cut) - min(cut) <= len(cut)
        assert rows > n // (len(cut) + 2)


def test_blocks_on_threads_compute_the_gradient_of_the_whole_batch(monkeypatch):
    # Against the same network done in one block: equal to rounding.
    net = Network.from_sizes((4, 6, 3), "tanh", seed=2)
    X, y = data(700, 4, 3)
    whole = (net.predict(X), net.loss(X, y), flat(net.gradients(X, y)))
    monkeypatch.setattr(backprop, "BLOCK_ROWS", 64)
    matnn.set_num_threads(2)
    blocked = (net.predict(X), net.loss(X, y), flat(net.gradients(X, y)))
    for a, b in zip(whole, blocked):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("sizes, activation, loss, n", [
    ((3, 5, 2), "sigmoid", "mse", 40),
    ((3, 5, 2), "sigmoid", "mse", 1000),
    ((6, 7, 4), ["tanh", "softmax"], "cross_entropy", 1000),
])
def test_an_evaluation_gives_the_output_layers_gradient_bit_for_bit(small_blocks, sizes,
                                                                    activation, loss, n):
    # fit's last evaluation computes the output layer's part of the gradient
    # for the end check: it must be gradient()'s own, on any thread count.
    net = Network.from_sizes(sizes, activation, seed=1, loss=loss)
    X, Y = net._prepare(*data(n, sizes[0], sizes[-1], labels=loss == "cross_entropy"))
    engine = net._engine
    ws = engine.workspace(backprop.block_rows(n, sizes), net.dtype)

    def compute():
        flat, grads = backprop.Products().flat(sizes, net.dtype)
        total = backprop.loss_total(engine, X, Y, ws, None, grads)
        full, _ = net._gradients(X, Y)
        return {"total": total, "output": np.concatenate([g.ravel() for g in grads[-1]]),
                "full": full[-sizes[-1] * (sizes[-2] + 1):],
                "plain total": backprop.loss_total(engine, X, Y, ws)}

    results = on_each_thread_count(compute)
    assert_bitwise_equal(results)
    for got in results.values():
        assert np.array_equal(got["output"], got["full"])
        assert got["total"] == got["plain total"]


def test_float32_blocks_stay_float32_and_agree_on_every_thread_count(small_blocks):
    net = Network.from_sizes((3, 4, 1), seed=3, dtype=np.float32)
    X, y = data(500, 3, 1)
    X, y = X.astype(np.float32), y.astype(np.float32)

    def compute():
        return {"predict": net.predict(X), "gradients": flat(net.gradients(X, y))}

    results = on_each_thread_count(compute)
    assert results[1]["gradients"].dtype == np.float32
    assert_bitwise_equal(results)


def test_the_same_call_twice_gives_the_same_bits(small_blocks):
    matnn.set_num_threads(2)
    net = Network.from_sizes((3, 5, 2), seed=4)
    X, y = data(900, 3, 2)
    first, second = flat(net.gradients(X, y)), flat(net.gradients(X, y))
    assert np.array_equal(first, second)


# -- an ensemble: groups of members -------------------------------------------------


def member_networks(sizes, activation, k, seed):
    return [Network.from_sizes(sizes, activation, seed=seed + i) for i in range(k)]


def test_an_ensemble_computes_the_same_bits_on_1_2_and_4_threads(small_blocks, small_groups):
    # 4 inputs and 5 hidden units: products over the member axis take the
    # matmul path as well as the unrolled one.
    networks = member_networks((6, 5, 2), "tanh", 9, seed=10)
    X, y = data(400, 6, 2)
    Xv, yv = data(100, 6, 2, seed=2)

    def compute():
        ens = Ensemble(networks)
        trained = Ensemble(networks)
        optimizer = Adam(learning_rate=np.linspace(0.01, 0.05, 9))
        history = trained.fit(X, y, epochs=3, batch_size=50, optimizer=optimizer, seed=5,
                              validation_data=(Xv, yv))
        return {"predict": ens.predict(X), "loss": ens.loss(X, y),
                "gradients": flat(ens.gradients(X, y)), "fit": trained._flat,
                "history": history.loss, "val_loss": history.val_loss,
                "adam": optimizer.state_dict()["exp_avg_sq"]}

    assert_bitwise_equal(on_each_thread_count(compute))


def test_members_trained_in_groups_equal_the_same_networks_trained_alone(small_groups):
    matnn.set_num_threads(2)
    networks = member_networks((3, 6, 2), "sigmoid", 6, seed=20)
    X, y = data(60, 3, 2)
    ens = Ensemble(networks)
    ens.fit(X, y, epochs=4, learning_rate=0.3, batch_size=7, seed=1)
    for k, net in enumerate(networks):
        alone = net.copy()
        alone.fit(X, y, epochs=4, learning_rate=0.3, batch_size=7, seed=1)
        np.testing.assert_allclose(ens.network(k).params, alone.params, rtol=1e-10, atol=1e-12)


def test_diverging_members_freeze_the_same_way_on_every_thread_count(small_groups):
    # Members 1 and 6 get a rate that overflows; the others train on.
    networks = member_networks((2, 4, 1), "identity", 8, seed=30)
    X, y = data(40, 2, 1)
    X = X * 50
    rates = np.full(8, 1e-5)
    rates[[1, 6]] = 10.0

    def compute():
        ens = Ensemble(networks)
        history = ens.fit(X, y, epochs=3, learning_rate=rates, batch_size=8, shuffle=False)
        return {"params": ens._flat, "failed": ens.failed, "loss": history.loss,
                "failed_at": np.array([(k, e, -1 if b is None else b)
                                       for k, (e, b) in sorted(ens.failed_at.items())])}

    results = on_each_thread_count(compute)
    assert_bitwise_equal(results)
    assert results[1]["failed"].tolist() == [k in (1, 6) for k in range(8)]
    assert np.isfinite(results[1]["params"]).all()


def test_the_optimizer_state_after_a_grouped_fit_is_the_ungrouped_fits(monkeypatch):
    # The ungrouped fit (one _EnsembleRun) is the reference; member 4
    # diverges and keeps the state it had before the fit (none: zeros).
    matnn.set_num_threads(2)
    networks = member_networks((2, 4, 1), "identity", 6, seed=40)
    X, y = data(40, 2, 1)
    X = X * 50
    rates = np.full(6, 1e-5)
    rates[4] = 10.0
    states = {}
    for label, group_work in (("ungrouped", 10**9), ("grouped", 1)):
        monkeypatch.setattr(ensemble, "GROUP_MEMBERS", 2)
        monkeypatch.setattr(ensemble, "GROUP_WORK", group_work)
        optimizer = SGD(learning_rate=rates, momentum=0.9)
        ens = Ensemble(networks)
        ens.fit(X, y, epochs=2, batch_size=8, optimizer=optimizer, seed=3)
        states[label] = (optimizer.state_dict(), ens.failed.copy())
    (ungrouped, failed), (grouped, grouped_failed) = states["ungrouped"], states["grouped"]
    assert failed.tolist() == grouped_failed.tolist() == [k == 4 for k in range(6)]
    assert grouped["step"].tolist() == ungrouped["step"].tolist()
    np.testing.assert_allclose(grouped["momentum_buffer"], ungrouped["momentum_buffer"],
                               rtol=1e-10, atol=1e-14)


def test_member_groups_cover_every_member_once_whatever_the_thread_count():
    for members in (0, 1, 127, 128, 129, 300, 1000):
        groups = {}
        for n in THREAD_COUNTS:
            matnn.set_num_threads(n)
            groups[n] = ensemble.member_groups(members)
        assert groups[1] == groups[2] == groups[4]
        covered = [k for a, b in groups[1] for k in range(a, b)]
        assert covered == list(range(members))
        assert len(groups[1]) <= ensemble.MAX_GROUPS
        if len(groups[1]) > 1:
            assert min(b - a for a, b in groups[1]) >= ensemble.GROUP_MEMBERS


def test_the_callers_numpy_error_state_holds_in_the_workers():
    matnn.set_num_threads(2)
    barrier = threading.Barrier(2, timeout=20)
    seen = []

    def work(_, i):
        barrier.wait()
        seen.append(np.geterr()["over"])

    with np.errstate(over="ignore"):
        threads.run_tasks(2, work)
    assert seen == ["ignore", "ignore"]
