"""matnn's Dask side without a cluster: the install hint, refused arguments,
connecting to nothing, the memory estimate, and tasks on one thread.

The sweeps on a real LocalCluster are in test_dask_cluster.py.
"""

import socket
import sys
import threading
import time
import tracemalloc

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from matnn import cluster, threads
from matnn.seeds import _train_runs, run_bytes, train_seeds

HINT = "pip install 'matnn[dask]'"


@pytest.fixture
def distributed():
    return pytest.importorskip("distributed")


@pytest.fixture
def no_dask(monkeypatch):
    # A None entry makes `import distributed` raise ImportError, as when it is not installed.
    monkeypatch.setitem(sys.modules, "distributed", None)


@pytest.mark.parametrize("call", [
    lambda: train_seeds(range(3), client=object()),
    lambda: cluster.connect("tcp://127.0.0.1:8786"),
    lambda: cluster.local_cluster(2).__enter__(),
], ids=["train_seeds", "connect", "local_cluster"])
def test_without_dask_the_cluster_options_give_the_install_hint(no_dask, call):
    with pytest.raises(ImportError) as info:
        call()
    assert str(info.value).endswith(HINT)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("option", [["--workers", "2"], ["--scheduler", "tcp://127.0.0.1:8786"]])
def test_without_dask_the_command_line_options_are_one_line_and_exit_status_2(no_dask, option,
                                                                             capsys):
    from matnn.cli import main

    assert main(["seeds", "--runs", "3", "--epochs", "2", *option]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err == f"matnn seeds: error: running on a Dask cluster needs dask.distributed: {HINT}\n"


def test_the_command_line_refuses_two_clusters_and_cluster_options_without_one(capsys):
    from matnn.cli import main

    with pytest.raises(SystemExit) as info:
        main(["seeds", "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"])
    assert info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert main(["seeds", "--runs", "3", "--timeout", "5"]) == 2
    assert capsys.readouterr().err == ("matnn seeds: error: --timeout is how long to wait for "
                                       "--scheduler; give --scheduler too\n")
    assert main(["seeds", "--runs", "3", "--progress"]) == 2
    assert capsys.readouterr().err == ("matnn seeds: error: --progress shows the chunks done on a "
                                       "cluster; give --workers or --scheduler too\n")


def test_without_dask_a_local_sweep_still_runs(no_dask):
    (runs,) = train_seeds(range(3), epochs=2)
    assert runs.final_loss.shape == (3,)


@pytest.mark.parametrize("option, value", [("chunk_size", 10), ("progress", True)])
def test_cluster_options_without_a_client_are_refused(option, value):
    with pytest.raises(ValueError, match=f"{option} .* pass client too"):
        train_seeds(range(3), epochs=2, **{option: value})


def test_a_client_that_is_not_a_client_is_refused(distributed):
    with pytest.raises(TypeError, match="client must be a distributed.Client, got str; for a "
                                        "scheduler's address, matnn.cluster.connect"):
        train_seeds(range(3), epochs=2, client="tcp://127.0.0.1:8786")


@pytest.fixture
def silent_server():
    """The address of a server that accepts connections and never says a word."""
    server = socket.create_server(("127.0.0.1", 0))
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    server.close()


@pytest.fixture
def http_server():
    """The address of a server that answers every connection with an HTTP error, as a
    dashboard port or a proxy does."""
    server = socket.create_server(("127.0.0.1", 0))

    def answer():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")

    threading.Thread(target=answer, daemon=True).start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}"
    server.close()


def _closed_port():
    with socket.create_server(("127.0.0.1", 0)) as s:
        return s.getsockname()[1]


def test_nothing_listening_is_one_clear_connection_error_within_the_timeout(distributed):
    address = f"tcp://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with pytest.raises(ConnectionError) as info:
        cluster.connect(address, timeout=0.5)
    # A bound far above the timeout: this tells an answer from a hang, it times nothing.
    assert time.monotonic() - started < 30
    assert str(info.value).startswith(f"no Dask scheduler answered at {address} within 0.5 s")
    assert "\n" not in str(info.value)


def test_a_server_that_never_answers_is_a_connection_error_not_a_hang(distributed, silent_server):
    # dask's own Client waits for such a server's handshake without any limit.
    started = time.monotonic()
    with pytest.raises(ConnectionError, match=f"no Dask scheduler answered at {silent_server}"):
        cluster.connect(silent_server, timeout=0.5)
    assert time.monotonic() - started < 30


def test_a_server_that_is_not_a_scheduler_is_named_as_such(distributed, http_server):
    with pytest.raises(ConnectionError, match=f"what answers at {http_server} does not speak "
                                              "Dask's protocol, not a Dask scheduler"):
        cluster.connect(http_server, timeout=5)


def test_an_address_that_is_no_address_is_refused(distributed):
    with pytest.raises(ValueError, match="address 'nonsense:::' is not a scheduler address"):
        cluster.connect("nonsense:::", timeout=1)
    with pytest.raises(TypeError, match="address must be a str"):
        cluster.connect(8786)
    with pytest.raises(ValueError, match="timeout"):
        cluster.connect("tcp://127.0.0.1:8786", timeout=0)


@pytest.mark.parametrize("epochs", [1, 50, 400])
def test_the_memory_estimate_of_a_run_covers_what_training_a_chunk_allocates(epochs):
    n = 300
    tracemalloc.start()
    try:
        _train_runs(np.arange(n), np.full(n, 0.1), epochs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= n * run_bytes(epochs)


def test_a_chunk_trains_the_runs_it_is_given_at_their_own_rates():
    # Runs 0 and 2 are one seed at two rates; each must equal the local study's run.
    history, final_loss, predictions, failed, weights = _train_runs(
        np.array([7, 3, 7]), np.array([0.1, 0.1, 0.5]), 30)
    slow, fast = train_seeds([7, 3], (0.1, 0.5), epochs=30)
    np.testing.assert_allclose(final_loss, [slow.final_loss[0], slow.final_loss[1], fast.final_loss[0]],
                               rtol=1e-12)
    np.testing.assert_allclose(history[2], fast.history[0], rtol=1e-12)
    assert history.shape == (3, 30) and predictions.shape == (3, 2) and weights.shape == (3, 2)
    assert not failed.any()


@pytest.fixture
def four_threads():
    threads.set_num_threads(4)
    yield
    threads.set_num_threads(None)


def test_single_threaded_keeps_matnns_tasks_and_blas_on_the_calling_thread(four_threads):
    seen = set()

    def work(_, i):
        seen.add(threading.get_ident())
        time.sleep(0.002)  # long enough for the pool's threads to take tasks, were they allowed

    before = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
    with threads.single_threaded():
        assert threads.in_region()
        assert all(info["num_threads"] == 1 for info in threadpool_info()
                   if info["user_api"] == "blas")
        threads.run_tasks(16, work)
    assert seen == {threading.get_ident()}
    assert not threads.in_region()
    assert [info["num_threads"] for info in threadpool_info()
            if info["user_api"] == "blas"] == before
