"""Sweeps on a Dask cluster: chunks of runs go to the workers and come back in order.

A sweep (the seeds study's many seeds at many learning rates) is many
independent runs. On one machine they train as one
:class:`~matnn.Ensemble`. Past one machine, they are cut into chunks of
consecutive runs; each chunk trains as one ensemble in a task on a worker of
a `Dask <https://distributed.dask.org>`_ cluster, and the chunks' results are
put back together in the order of the runs. Dask schedules the tasks, and
when a worker dies it runs that worker's chunks again on the others, so
every run is in the result exactly once.

Chunk sizes are planned before anything is submitted, from an estimate of a
run's memory and the workers' memory limits.

Dask (``pip install 'matnn[dask]'``) is imported only when these functions
run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence, TypeVar

from .threads import single_threaded
from .validation import check_int, check_positive

if TYPE_CHECKING:
    from distributed import Client

T = TypeVar("T")

__all__ = ["CHUNKS_PER_THREAD", "INSTALL_HINT", "MEMORY_SHARE", "connect", "local_cluster",
           "map_chunks", "plan_chunks"]

INSTALL_HINT = "pip install 'matnn[dask]'"

#: The part of a worker thread's share of its worker's memory limit that one
#: chunk may need: the rest is for Dask, results waiting to be sent, and
#: their serialised copies.
MEMORY_SHARE = 0.25
#: Chunks per worker thread when the chunk size is chosen: enough to even
#: out chunks that run at different speeds, and to lose little when a
#: worker dies.
CHUNKS_PER_THREAD = 4


def require_distributed() -> ModuleType:
    """The ``distributed`` module, or ImportError with the one-line install hint."""
    try:
        import distributed
    except ImportError:
        raise ImportError(f"running on a Dask cluster needs dask.distributed: {INSTALL_HINT}") from None
    return distributed


def connect(address: str, timeout: float = 10) -> Client:
    """A :class:`distributed.Client` of the scheduler at ``address``.

    Parameters
    ----------
    address : str
        The scheduler's address, as ``dask scheduler`` prints it
        (``tcp://host:8786``).
    timeout : float > 0
        Seconds to wait for the scheduler's answer.

    Raises
    ------
    ConnectionError
        Within about ``timeout`` seconds, when nothing answers at
        ``address`` or what answers is not a Dask scheduler.
    ValueError
        When ``address`` is not an address.
    """
    distributed = require_distributed()
    if not isinstance(address, str):
        raise TypeError(f"address must be a str such as 'tcp://host:8786', got {type(address).__name__}")
    timeout = check_positive(timeout, "timeout")
    _probe(distributed, address, timeout)
    try:
        return distributed.Client(address, timeout=timeout, set_as_default=False)
    except OSError:
        raise ConnectionError(_unreachable(address, timeout)) from None


def _probe(distributed: ModuleType, address: str, timeout: float) -> None:
    """Ask the scheduler at ``address`` who it is, all within ``timeout`` seconds.

    The Client waits without a limit for the handshake of a server that
    accepts the connection but never answers; this question has a deadline.
    It runs its own event loop in a thread of its own, so it works where a
    loop is already running (Jupyter).
    """
    async def ask() -> Any:
        comm = await distributed.comm.connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    async def ask_in_time() -> Any:
        return await asyncio.wait_for(ask(), timeout)

    with ThreadPoolExecutor(1) as pool:
        try:
            identity = pool.submit(asyncio.run, ask_in_time()).result()
        except ValueError as exc:
            raise ValueError(f"address {address!r} is not a scheduler address such as "
                             f"'tcp://host:8786': {exc}") from None
        except (OSError, asyncio.TimeoutError):
            raise ConnectionError(_unreachable(address, timeout)) from None
        except Exception:  # what answered does not speak Dask's protocol
            raise ConnectionError(_not_a_scheduler(address, "does not speak Dask's protocol")) from None
    kind = identity.get("type") if isinstance(identity, dict) else None
    if kind != "Scheduler":
        raise ConnectionError(_not_a_scheduler(
            address, f"is a Dask {kind}" if isinstance(kind, str) else "does not speak Dask's protocol"))


def _unreachable(address: str, timeout: float) -> str:
    return (f"no Dask scheduler answered at {address} within {timeout:g} s; is `dask scheduler` "
            "running there, and can this machine reach its port?")


def _not_a_scheduler(address: str, what: str) -> str:
    return (f"what answers at {address} {what}, not a Dask scheduler; a scheduler listens on "
            "tcp://HOST:8786 unless told otherwise (8787 is its dashboard)")


@contextlib.contextmanager
def local_cluster(n_workers: int) -> Iterator[Client]:
    """A :class:`distributed.LocalCluster` of ``n_workers`` processes, and its Client.

    Each worker is a process with one thread and ``MATNN_NUM_THREADS=1``
    (Dask already sets BLAS to one thread there): the processes are the
    parallelism. The cluster and client are closed when the block ends.

    Yields
    ------
    distributed.Client
    """
    distributed = require_distributed()
    n_workers = check_int(n_workers, "n_workers", 1)
    # The dashboard on a free port: 8787 may be another cluster's.
    with distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=logging.ERROR,
                                  env={"MATNN_NUM_THREADS": "1"}) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        yield client


def plan_chunks(
    client: Client,
    n_items: int,
    item_bytes: int,
    min_items: int = 1,
    chunk_size: int | None = None,
    timeout: float = 10,
    item: str = "item",
) -> list[tuple[int, int]]:
    """The chunks of ``n_items`` consecutive items for ``client``'s workers.

    Parameters
    ----------
    client : distributed.Client
    n_items : int >= 1
    item_bytes : int
        Estimated memory one item needs while its chunk runs.
    min_items : int >= 1
        The fewest items a chosen chunk gets, so that Dask's cost per task
        stays a small part of a chunk's time.
    chunk_size : int >= 1, optional
        The most items per chunk. By default :data:`CHUNKS_PER_THREAD`
        chunks per worker thread, or fewer so that each has at least
        ``min_items``, or more so that each fits in memory.
    timeout : float > 0
        Seconds to wait for the scheduler to have a worker.
    item : str
        What an item is, for messages ("run").

    Returns
    -------
    list of (start, stop)
        Consecutive chunks covering ``0 .. n_items``, as even as can be
        (their sizes differ by at most one).

    Raises
    ------
    MemoryError
        Before anything is submitted, when a chunk would need more than
        :data:`MEMORY_SHARE` of a worker thread's share of the smallest
        worker memory limit.
    """
    distributed = require_distributed()
    _check_client(distributed, client)
    n_items = check_int(n_items, "n_items", 1)
    min_items = check_int(min_items, "min_items", 1)
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", 1)
    workers = _workers(client, timeout)
    threads = sum(w["nthreads"] for w in workers)
    limits = [w["memory_limit"] / w["nthreads"] for w in workers if w.get("memory_limit")]
    most = None
    if limits:
        budget = MEMORY_SHARE * min(limits)
        most = int(budget // item_bytes)
        if most < 1:
            raise MemoryError(f"one {item} needs about {_mib(item_bytes)}, more than the "
                              f"{_mib(budget)} a chunk may use on the smallest worker")
    if chunk_size is None:
        n_chunks = min(CHUNKS_PER_THREAD * threads, max(1, n_items // min_items))
        if most is not None:
            n_chunks = max(n_chunks, math.ceil(n_items / most))
    elif most is not None and chunk_size > most:
        raise MemoryError(
            f"chunk_size {chunk_size} needs about {_mib(chunk_size * item_bytes)} per chunk, "
            f"more than the {_mib(budget)} a chunk may use on the smallest worker "
            f"({MEMORY_SHARE:g} of its memory limit per thread); use chunk_size <= {most}"
        )
    else:
        n_chunks = math.ceil(n_items / chunk_size)
    bounds = [n_items * c // n_chunks for c in range(n_chunks + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def _check_client(distributed: ModuleType, client: object) -> None:
    if not isinstance(client, distributed.Client):
        hint = "; for a scheduler's address, matnn.cluster.connect(address) gives one" \
            if isinstance(client, str) else ""
        raise TypeError(f"client must be a distributed.Client, got {type(client).__name__}{hint}")


def _workers(client: Client, timeout: float) -> list[dict[str, Any]]:
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, asyncio.TimeoutError):
        # A connected client has its scheduler.
        address = getattr(client.scheduler, "address", None)
        raise ConnectionError(
            f"the Dask scheduler at {address} has no workers after "
            f"{timeout:g} s; start some with `dask worker {address}`"
        ) from None
    return list(client.scheduler_info(n_workers=-1)["workers"].values())


def _mib(n: float) -> str:
    return f"{n / 2**20:.3g} MiB"


def map_chunks(
    client: Client,
    function: Callable[..., T],
    chunks: Sequence[tuple[Any, ...]],
    progress: bool = False,
) -> list[T]:
    """``[function(*args) for args in chunks]``, each call a task on ``client``'s workers.

    Each task runs with matnn and BLAS on one thread: the worker's threads
    are the parallelism. A task whose worker dies runs again on another
    worker (Dask's doing), so every chunk's result is here exactly once.

    Parameters
    ----------
    client : distributed.Client
    function : callable
        Importable on the workers (a module-level function of an installed
        package).
    chunks : list of tuple
        Each chunk's arguments.
    progress : bool
        Show a progress bar (:mod:`tqdm.auto`) that advances as chunks finish.

    Returns
    -------
    list
        The chunks' results, in the order of ``chunks``.
    """
    distributed = require_distributed()
    _check_client(distributed, client)
    from tqdm.auto import tqdm

    futures = [client.submit(_on_one_thread, function, *args, pure=False) for args in chunks]
    index = {future.key: i for i, future in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    try:
        with tqdm(total=len(futures), unit="chunk", desc="chunks done", disable=not progress) as bar:
            for future, result in distributed.as_completed(futures, loop=client.loop, with_results=True):
                results[index[future.key]] = result
                bar.update()
    except BaseException:
        client.cancel(futures)
        raise
    return results


def _on_one_thread(function: Callable[..., T], *args: Any) -> T:
    with single_threaded():
        return function(*args)
