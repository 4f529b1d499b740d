"""100,000 runs of the seeds study: one process vs a Dask LocalCluster of 2 processes.

Both sides call :func:`matnn.seeds.train_seeds` on seeds 0 .. RUNS-1 at
learning rate 0.1. The local side trains them as one ensemble in this
process, on matnn's threads. The cluster side passes the Client of a
LocalCluster of 2 worker processes with one thread each (what
``matnn seeds --workers 2`` starts), started before timing, and lets
``train_seeds`` choose the chunks. Before timing, every run's final loss
must agree within 1e-10 relative and the successes must be the same runs.

The second row measures what Dask adds per chunk: CHUNKS chunks of one run
and one epoch go through :func:`matnn.cluster.map_chunks`; their wall time
times the worker threads, over CHUNKS, less what such a chunk takes in this
process, is each chunk's overhead in worker time. Against it stands the
time of the smallest chunk ``train_seeds`` chooses at 1000 epochs
(``MIN_CHUNK_WORK`` runs x epochs) trained here on one thread: the row's value is the overhead as a
fraction of that chunk, and its target says whether the constant keeps the
overhead under 5%.

The seeds study trains the document's float64 networks, so the float32 rows
say that and time nothing; so do all rows without dask.distributed.
"""

import importlib.util
import math
import time

import numpy as np

from matnn import cluster, seeds
from matnn.threads import single_threaded

from .harness import Result, Timing

TITLE = "100,000 seed runs: one process vs a 2-process Dask LocalCluster"
ORDER = 38

RUNS, EPOCHS, CHUNKS = 100_000, 100, 200
QUICK_RUNS, QUICK_EPOCHS, QUICK_CHUNKS = 2000, 5, 8
#: Epochs of the smallest chosen chunk the overhead is set against: the study's
#: default (a quick run takes a chunk of a hundredth of the work).
CHUNK_EPOCHS = 1000
WORKERS = 2
#: The largest overhead per chunk, as a fraction of the smallest chosen chunk's time.
OVERHEAD_SHARE = 0.05


def run(bench):
    if importlib.util.find_spec("distributed") is None:
        for dtype in bench.dtypes:
            yield Result("sweep", dtype.name, "not run", True, "not compared",
                         note=f"dask.distributed is not installed: {cluster.INSTALL_HINT}")
        return
    runs, epochs, n_tiny = ((QUICK_RUNS, QUICK_EPOCHS, QUICK_CHUNKS) if bench.quick
                            else (RUNS, EPOCHS, CHUNKS))
    started = time.perf_counter()
    with cluster.local_cluster(WORKERS) as client:
        startup = time.perf_counter() - started
        yield from _sweep(bench, client, runs, epochs, startup)
        yield _overhead(bench, client, n_tiny)
    for dtype in bench.dtypes[1:]:
        yield Result("sweep", dtype.name, "not run", True, "not compared",
                     note="the seeds study trains the document's float64 networks")


def _sweep(bench, client, runs, epochs, startup):
    def local():
        return seeds.train_seeds(range(runs), (0.1,), epochs)

    def on_cluster():
        return seeds.train_seeds(range(runs), (0.1,), epochs, client=client)

    (expected,), (got,) = local(), on_cluster()
    ok, how = bench.agree(expected.final_loss, got.final_loss, rtol=1e-10)
    ok = ok and np.array_equal(expected.correct, got.correct)
    n_runs = math.ceil(seeds.MIN_CHUNK_WORK / epochs)
    chunks = cluster.plan_chunks(client, runs, seeds.run_bytes(epochs), n_runs)
    a, b = (bench.time_pair(local, "one process", on_cluster, f"LocalCluster, {WORKERS} processes",
                            repeat=1) if ok else (None, None))
    yield Result(
        "sweep", "float64", f"{runs} runs x {epochs} epochs", ok, how,
        n_samples=4 * epochs * runs, a=a, b=b,
        metrics={"chunks": len(chunks), "runs_per_chunk": chunks[0][1] - chunks[0][0],
                 "cluster_start_s": round(startup, 2)},
    )


def _overhead(bench, client, n_tiny):
    tiny = [(np.array([s]), np.array([0.1]), 1) for s in range(n_tiny)]
    epochs = CHUNK_EPOCHS // 100 if bench.quick else CHUNK_EPOCHS
    n_runs = math.ceil(seeds.MIN_CHUNK_WORK / CHUNK_EPOCHS)
    smallest = (np.arange(n_runs), np.full(n_runs, 0.1), epochs)

    def on_cluster():
        return cluster.map_chunks(client, seeds._train_runs, tiny)

    def here(args):
        with single_threaded():
            return seeds._train_runs(*args)

    expected = np.concatenate([here(args)[1] for args in tiny])
    got = np.concatenate([result[1] for result in on_cluster()])
    ok, how = bench.agree(expected, got, rtol=1e-12)
    if not ok:
        return Result("chunk overhead", "float64", f"{n_tiny} chunks", ok, how)
    cluster_time, tiny_time = bench.time_pair(on_cluster, f"{n_tiny} chunks on the cluster",
                                              lambda: here(tiny[0]), "one such chunk here")
    chunk_time = bench.time(lambda: here(smallest), "smallest chosen chunk here",
                            repeat=None if bench.quick else 3)
    threads = sum(w["nthreads"] for w in client.scheduler_info(n_workers=-1)["workers"].values())
    overhead = cluster_time.median * threads / n_tiny - tiny_time.median
    share = overhead / chunk_time.median
    return Result(
        "chunk overhead", "float64",
        f"{n_runs} runs x {epochs} epochs a chunk", ok, how,
        a=Timing("Dask per chunk", overhead, [overhead], cluster_time.number), b=chunk_time,
        target=("<=", OVERHEAD_SHARE),
        metrics={"overhead_ms": round(overhead * 1e3, 2),
                 "min_chunk_work": seeds.MIN_CHUNK_WORK,
                 "min_chunk_work_for_5pct": math.ceil(
                     seeds.MIN_CHUNK_WORK * share / OVERHEAD_SHARE)},
    )
