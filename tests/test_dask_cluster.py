"""Seed sweeps on a real Dask LocalCluster of two worker processes.

The reference is the local run, one Ensemble in this process (itself checked
against the scalar shim in test_ensemble.py): a cluster's result must match
it run by run, so a chunk lost, repeated or put back in the wrong place
shows. The cluster is started once for the module and closed after it; a
watchdog ends the process with every thread's traceback should anything
hang.
"""

import faulthandler
import os
import signal
import threading
import time

import numpy as np
import pytest

from matnn import cluster
from matnn.seeds import run_bytes, train_seeds

if os.environ.get("CI"):
    import distributed
else:
    distributed = pytest.importorskip("distributed", reason="pip install 'matnn[dask]'")

pytestmark = pytest.mark.slow

#: Seconds after which the watchdog ends the test process.
WATCHDOG = 240

SEEDS = range(300)
RATES = (0.1, 0.01)
EPOCHS = 40


@pytest.fixture(scope="module", autouse=True)
def watchdog():
    faulthandler.dump_traceback_later(WATCHDOG, exit=True)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="module")
def client(watchdog):
    with cluster.local_cluster(2) as client:
        yield client


@pytest.fixture(scope="module")
def local():
    runs = train_seeds(SEEDS, RATES, EPOCHS)
    # Every run ends at its own loss, so a run in the wrong place cannot go unseen.
    losses = np.concatenate([r.final_loss for r in runs])
    assert np.unique(losses).size == losses.size
    return runs


def assert_same_runs(got, expected):
    assert [r.learning_rate for r in got] == [r.learning_rate for r in expected]
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(g.seeds, e.seeds)
        np.testing.assert_allclose(g.final_loss, e.final_loss, rtol=1e-10, atol=0)
        np.testing.assert_allclose(g.history, e.history, rtol=1e-10, atol=0)
        np.testing.assert_allclose(g.predictions, e.predictions, rtol=1e-10, atol=0)
        np.testing.assert_allclose(g.output_weights, e.output_weights, rtol=1e-10, atol=0)
        np.testing.assert_array_equal(g.failed, e.failed)
        # The study's counts and tables.
        np.testing.assert_array_equal(g.correct, e.correct)
        np.testing.assert_array_equal(g.split, e.split)
        np.testing.assert_array_equal(g.epochs_to(), e.epochs_to())
        np.testing.assert_array_equal(g.slowest(10), e.slowest(10))


def test_a_sweep_on_the_cluster_equals_the_local_run(client, local, capsys):
    # 600 runs in chunks of 70: uneven chunks, one across the change of learning rate.
    got = train_seeds(SEEDS, RATES, EPOCHS, client=client, chunk_size=70, progress=True)
    assert_same_runs(got, local)
    bar = capsys.readouterr().err
    assert "chunks done" in bar and "9/9" in bar


def test_the_chosen_chunks_cover_every_run_once_a_few_per_worker_thread(client):
    workers = client.scheduler_info(n_workers=-1)["workers"]
    threads = sum(w["nthreads"] for w in workers.values())
    chunks = cluster.plan_chunks(client, 1000, 100)
    assert len(chunks) == cluster.CHUNKS_PER_THREAD * threads, (chunks, workers)
    assert [a for a, _ in chunks] == [0] + [b for _, b in chunks[:-1]]
    assert chunks[-1][1] == 1000
    assert max(b - a for a, b in chunks) - min(b - a for a, b in chunks) <= 1
    # Chunks big enough to be worth a task win over chunks per thread.
    assert len(cluster.plan_chunks(client, 1000, 100, min_items=400)) == 2


def test_chunks_too_big_for_a_worker_are_refused_before_anything_is_submitted(client):
    limit = min(w["memory_limit"] for w in client.scheduler_info(n_workers=-1)["workers"].values())
    with pytest.raises(MemoryError, match="chunk_size 100 needs about .* use chunk_size <= "):
        cluster.plan_chunks(client, 1000, limit // 100, chunk_size=100)
    with pytest.raises(MemoryError, match="one run needs about"):
        cluster.plan_chunks(client, 1000, limit, item="run")
    # The default chunks shrink to fit instead.
    item = limit // 1000
    chunks = cluster.plan_chunks(client, 100_000, item, min_items=10_000)
    assert max(b - a for a, b in chunks) * item <= cluster.MEMORY_SHARE * limit


def test_a_scheduler_without_workers_is_a_connection_error_not_a_wait():
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as empty, \
            distributed.Client(empty, set_as_default=False) as client:
        address = client.scheduler.address
        with pytest.raises(ConnectionError, match=f"the Dask scheduler at {address} has no workers "
                                                  f"after 0.5 s; start some with `dask worker {address}`"):
            cluster.plan_chunks(client, 10, 100, timeout=0.5)


def test_a_sweep_too_big_for_the_workers_fails_at_once(client):
    limit = min(w["memory_limit"] for w in client.scheduler_info(n_workers=-1)["workers"].values())
    runs = int(limit // run_bytes(100_000)) + 1
    with pytest.raises(MemoryError, match=f"chunk_size {runs} needs about"):
        train_seeds(range(runs), epochs=100_000, client=client, chunk_size=runs)


def test_connect_reaches_the_running_scheduler_and_names_a_worker_as_such(client):
    address = client.scheduler.address
    with cluster.connect(address, timeout=10) as other:
        assert other.scheduler_info()["address"] == address
    worker = next(iter(client.scheduler_info(n_workers=-1)["workers"]))
    with pytest.raises(ConnectionError, match=f"what answers at {worker} is a Dask Worker, not a "
                                              "Dask scheduler"):
        cluster.connect(worker, timeout=10)


def test_each_task_runs_matnn_and_blas_on_one_thread(client):
    from threadpoolctl import threadpool_info

    from matnn.threads import get_num_threads, in_region

    (blas, region, n) = cluster.map_chunks(
        client, _probe, [(threadpool_info, in_region, get_num_threads)])[0]
    assert blas and all(info["num_threads"] == 1 for info in blas)
    assert region
    assert n == 1


def _probe(threadpool_info, in_region, get_num_threads):
    return ([i for i in threadpool_info() if i["user_api"] == "blas"], in_region(),
            get_num_threads())


def test_a_worker_killed_mid_sweep_loses_no_run(client, local):
    # Chunks of 20 runs: 30 tasks, so many are still to run after the first one finishes.
    killer = _Killer(client)
    killer.start()
    got = train_seeds(SEEDS, RATES, EPOCHS, client=client, chunk_size=20)
    killer.join(timeout=30)
    assert killer.error is None
    # The kill came after a chunk had finished and while the victim ran another.
    assert killer.state is not None
    finished, total = killer.state
    assert 1 <= finished < total
    assert_same_runs(got, local)
    # The nanny starts a new worker process; wait for it so later tests have two.
    client.wait_for_workers(2, timeout=60)
    assert killer.pid not in client.run(os.getpid).values()


class _Killer(threading.Thread):
    """Kills the worker process of a busy worker as soon as the sweep's first chunk is done."""

    def __init__(self, client):
        super().__init__(daemon=True)
        self.client, self.state, self.pid, self.error = client, None, None, None

    def run(self):
        try:
            # Chunks of earlier sweeps the scheduler has not forgotten yet are not this one's.
            earlier = self.client.run_on_scheduler(_chunk_keys)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and self.state is None:
                finished, busy, total = self.client.run_on_scheduler(_sweep_state, earlier)
                if finished >= 1 and busy:
                    self.pid = self.client.run(os.getpid, workers=[busy])[busy]
                    os.kill(self.pid, signal.SIGKILL)
                    self.state = (finished, total)
                time.sleep(0.005)
        except Exception as exc:  # reported by the test
            self.error = exc


def _chunk_keys(dask_scheduler):
    return [key for key in dask_scheduler.tasks if str(key).startswith("_on_one_thread")]


def _sweep_state(earlier, dask_scheduler):
    """(chunks finished, a worker running a chunk or None, chunks in all) of the sweep running now."""
    chunks = [ts for key, ts in dask_scheduler.tasks.items()
              if str(key).startswith("_on_one_thread") and key not in earlier]
    finished = sum(ts.state == "memory" for ts in chunks)
    busy = next((ts.processing_on.address for ts in chunks if ts.state == "processing"), None)
    return finished, busy, len(chunks)


# -- scikit-learn's searches under joblib's Dask backend ------------------------

SEARCH_GRID = {"alpha": [1e-4, 1e-1], "learning_rate_init": [1e-3, 3e-2]}


def search_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 3))
    y = (X[:, 0] + X[:, 1] ** 2 > 0.8).astype(int)
    return X, y


def estimator():
    from matnn.sklearn import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=(6,), max_iter=40, random_state=0)


def grid_search(**kwargs):
    from sklearn.model_selection import GridSearchCV

    return GridSearchCV(estimator(), SEARCH_GRID, cv=3, **kwargs)


def randomized_search(**kwargs):
    from scipy.stats import loguniform
    from sklearn.model_selection import RandomizedSearchCV

    return RandomizedSearchCV(estimator(), {"alpha": loguniform(1e-5, 1),
                                            "learning_rate_init": loguniform(1e-4, 1e-1)},
                              n_iter=4, cv=3, random_state=0, **kwargs)


def on_the_cluster(client, search, X, y):
    """``search.fit(X, y)`` under joblib's Dask backend; the workers that ran its tasks."""
    import joblib

    with distributed.get_task_stream(client=client) as stream, \
            joblib.parallel_config(backend="dask", client=client, n_jobs=-1):
        search.fit(X, y)
    return {task["worker"] for task in stream.data}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("make", [grid_search, randomized_search])
def test_a_search_on_the_cluster_has_the_serial_searchs_cv_results(client, make):
    X, y = search_data()
    serial = make().fit(X, y)
    search = make()
    workers = on_the_cluster(client, search, X, y)
    assert workers and workers <= set(client.scheduler_info(n_workers=-1)["workers"])
    timing = {"mean_fit_time", "std_fit_time", "mean_score_time", "std_score_time"}
    assert set(search.cv_results_) == set(serial.cv_results_)
    for key in set(serial.cv_results_) - timing:
        np.testing.assert_array_equal(search.cv_results_[key], serial.cv_results_[key], err_msg=key)
    assert search.best_params_ == serial.best_params_
    np.testing.assert_array_equal(search.predict(X), serial.predict(X))


def blas_threads(estimator, X, y):
    from threadpoolctl import threadpool_info

    return float(max(info["num_threads"] for info in threadpool_info()
                     if info["user_api"] == "blas"))


def matnn_threads(estimator, X, y):
    from matnn import get_num_threads

    return float(get_num_threads())


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_each_task_of_a_search_runs_blas_and_matnn_on_one_thread(client):
    # The scorers run in the task, right after its fit, and score what they see.
    X, y = search_data()
    search = grid_search(scoring={"blas": blas_threads, "matnn": matnn_threads}, refit=False)
    on_the_cluster(client, search, X, y)
    for name in ("blas", "matnn"):
        np.testing.assert_array_equal(search.cv_results_[f"split0_test_{name}"], 1.0)
        np.testing.assert_array_equal(search.cv_results_[f"mean_test_{name}"], 1.0)


# -- matnn seeds --scheduler / --workers ----------------------------------------

CLI_RUNS = ["seeds", "--runs", "150", "--epochs", "60", "--lr", "0.1,0.01", "--slowest", "4"]


def run_cli(capsys, *args):
    from matnn.cli import main

    status = main([*CLI_RUNS, *args])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err


@pytest.fixture(scope="module")
def local_report():
    # The report of a run here: every line but the last, which says where and how long.
    from matnn.cli import main

    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(CLI_RUNS) == 0
    return out.getvalue().splitlines()


def test_seeds_on_a_running_scheduler_prints_the_local_report(client, local_report, capsys):
    address = client.scheduler.address
    status, lines, err = run_cli(capsys, "--scheduler", address, "--progress")
    assert status == 0, err
    assert lines[:-1] == local_report[:-1]
    assert lines[-1].startswith(f"Trained 300 runs x 60 epochs on the Dask cluster at {address} in ")
    assert "chunks done" in err


def test_seeds_with_workers_starts_a_local_cluster_and_closes_it(client, local_report, capsys):
    import multiprocessing

    before = set(multiprocessing.active_children())
    status, lines, err = run_cli(capsys, "--workers", "2")
    assert status == 0, err
    assert err == ""  # no bar unless stderr is a terminal or --progress asks
    assert lines[:-1] == local_report[:-1]
    assert lines[-1].startswith("Trained 300 runs x 60 epochs on a LocalCluster of 2 worker processes")
    assert set(multiprocessing.active_children()) == before


def test_seeds_with_an_unreachable_scheduler_is_one_line_and_exit_status_2(capsys):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
    status, lines, err = run_cli(capsys, "--scheduler", f"tcp://127.0.0.1:{port}", "--timeout", "0.5")
    assert status == 2
    assert lines == []
    assert err == (f"matnn seeds: error: no Dask scheduler answered at tcp://127.0.0.1:{port} "
                   "within 0.5 s; is `dask scheduler` running there, and can this machine reach "
                   "its port?\n")
