"""How many threads matnn's large computations use, and the pool that runs them.

numpy runs each elementwise function on one core, but releases the GIL
inside it and inside its BLAS calls. So a large batch is split into blocks
of rows, and a large ensemble into groups of members, and those run on a
pool of threads (:func:`run_tasks`). Small work (the lesson's batch-1
training, a small batch) is never split: it runs on the calling thread.

Results never depend on the number of threads: what is split, and where,
depends only on the work (its rows, its members), and partial results are
combined in task order, one at a time. One thread or many compute the same
blocks and add them up in the same order, so they agree to the last bit.

Inside a parallel region BLAS runs on one thread (through
``threadpoolctl``): the region's own threads already fill the cores, and
BLAS threads on top would only wait on each other. The calling thread takes
part in the work, so ``n`` threads are the caller and ``n - 1`` pool
workers.

The number of threads is, in order of precedence, what
:func:`set_num_threads` set, the ``MATNN_NUM_THREADS`` environment variable,
or the number of cores this process may run on. The variable is read when
matnn is imported, so a bad value fails the import, naming the variable and
the value, rather than the first large computation, partway through a run;
``set_num_threads(None)`` reads it again.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import functools
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterable, Iterator, TypeVar

from .validation import check_int

if TYPE_CHECKING:
    from threadpoolctl import ThreadpoolController

T = TypeVar("T")

__all__ = ["ENVIRONMENT_VARIABLE", "available_cores", "blas_on_one_thread", "get_num_threads", "in_region",
           "run_tasks", "set_num_threads", "single_threaded"]

ENVIRONMENT_VARIABLE = "MATNN_NUM_THREADS"

# _state_lock guards _num_threads and _pool; _blas_lock the BLAS limit, which
# is process-wide in OpenBLAS, so it is set when the first region starts and
# restored when the last one ends.
_state_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_workers = 0
_blas_lock = threading.Lock()
_regions = 0
# threadpoolctl's limit while a region runs (threadpoolctl has no annotations).
_limiter: Any = None
_controller: ThreadpoolController | None = None
_local = threading.local()


def available_cores() -> int:
    """The number of cores this process may run on (its CPU affinity, where known)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def _from_environment() -> int:
    value = os.environ.get(ENVIRONMENT_VARIABLE, "").strip()
    if not value:
        return available_cores()
    try:
        n = int(value)
    except ValueError:
        raise ValueError(
            f"the environment variable {ENVIRONMENT_VARIABLE} must be a whole number of "
            f"threads >= 1, got {value!r}"
        ) from None
    if n < 1:
        raise ValueError(
            f"the environment variable {ENVIRONMENT_VARIABLE} must be >= 1, got {n}"
        )
    return n


# Read at import, so that a bad value fails at once, not mid-run.
_num_threads = _from_environment()


def set_num_threads(n: int | None) -> None:
    """Set how many threads matnn's large computations use.

    Parameters
    ----------
    n : int >= 1, or None
        ``1`` keeps all work on the calling thread (and BLAS on one thread
        for work that would otherwise be split). None goes back to the
        default: ``MATNN_NUM_THREADS`` if it is set, else the cores this
        process may use.

    Results are the same, bit for bit, for every ``n``.
    """
    global _num_threads
    n = _from_environment() if n is None else check_int(n, "n", 1)
    with _state_lock:
        _num_threads = n


def get_num_threads() -> int:
    """The number of threads matnn's large computations use.

    Returns
    -------
    int
        What :func:`set_num_threads` set, else ``MATNN_NUM_THREADS``, else
        the cores this process may use.
    """
    with _state_lock:
        return _num_threads


def _submit(n: int, calls: Iterable[Callable[[], object]]) -> list[Future[object]]:
    """Hand ``calls`` to a pool of at least ``n - 1`` workers (the caller is the n-th thread).

    The pool is made on first use. A region hands it only as many calls as
    it has threads, so a pool that grew for a larger count serves smaller
    ones as it is; only a larger count replaces it, and work already handed
    to the old pool finishes there. Submitting under the lock keeps another
    thread from shutting a pool down between this one's choosing it and
    handing it work.

    Returns
    -------
    list of concurrent.futures.Future
        One per call, in order.
    """
    global _pool, _pool_workers
    with _state_lock:
        if _pool is None or _pool_workers < n - 1:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=n - 1, thread_name_prefix="matnn",
                                       initializer=_limit_this_thread)
            _pool_workers = n - 1
        return [_pool.submit(call) for call in calls]


def _limit_this_thread() -> None:
    # Per-thread BLAS settings (OpenMP builds, MKL) need setting in the worker
    # itself; the process-wide OpenBLAS one is held by the region.
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


@contextlib.contextmanager
def blas_on_one_thread() -> Iterator[None]:
    """BLAS on one thread, process-wide, for as long as any such block runs.

    Every parallel region holds it; a caller about to run many regions in a
    row (a training run) may hold it around all of them, which saves
    setting and restoring the limit each time.
    """
    global _regions, _limiter, _controller
    with _blas_lock:
        if _regions == 0:
            if _controller is None:
                from threadpoolctl import ThreadpoolController

                _controller = ThreadpoolController()
            _limiter = _controller.limit(limits=1, user_api="blas")
        _regions += 1
    try:
        yield
    finally:
        with _blas_lock:
            _regions -= 1
            if _regions == 0:
                _limiter.restore_original_limits()
                _limiter = None


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """matnn's work in this block runs on the calling thread alone, BLAS on one thread.

    For code that is itself one of many tasks running in parallel, such as
    a Dask task: the tasks already fill the cores, so threads of their own
    would only compete. Other threads keep their setting, and results are
    the same bits as with any number of threads.
    """
    outer = in_region()
    _local.inside = True
    try:
        with blas_on_one_thread():
            yield
    finally:
        _local.inside = outer


def in_region() -> bool:
    """Whether the calling thread is already working for a parallel region."""
    return getattr(_local, "inside", False)


def run_tasks(
    n_tasks: int,
    work: Callable[[Any, int], T],
    combine: Callable[[int, T], object] | None = None,
    local: Callable[[int], Any] | None = None,
) -> None:
    """Run ``work`` for tasks ``0 .. n_tasks - 1`` on the pool, combining in task order.

    Parameters
    ----------
    n_tasks : int >= 1
    work : callable ``(state, i) -> value``
        Task ``i``. ``state`` is the running thread's own ``local(j)``.
    combine : callable ``(i, value)``, optional
        Called with every task's value in the order ``i = 0, 1, ...``, one
        call at a time, before the thread that ran task ``i`` takes another
        task (so a value may be a buffer the thread reuses).
    local : callable ``(j) -> state``, optional
        The private state (workspace, buffers) of the ``j``-th thread taking
        part; ``j = 0`` is the caller.

    The tasks run with BLAS on one thread, on ``min(get_num_threads(),
    n_tasks)`` threads, the caller among them; inside a region (a task that
    calls this again) they run on the calling thread alone.
    """
    local = local or (lambda j: None)
    if in_region():
        state = local(0)
        for i in range(n_tasks):
            value = work(state, i)
            if combine is not None:
                combine(i, value)
        return
    # Read once: another thread may set a new count while this one runs.
    n_threads = get_num_threads()
    n = min(n_threads, n_tasks)
    queue = _Tasks(n_tasks, work, combine, local)
    with blas_on_one_thread():
        if n == 1:
            queue.serve(0)
        else:
            # Each worker runs in a copy of the caller's context, so that
            # numpy's error state (np.errstate) holds in the workers too.
            futures = _submit(n_threads, [functools.partial(contextvars.copy_context().run,
                                                            queue.serve, j)
                                          for j in range(1, n)])
            queue.serve(0)
            try:
                for future in futures:
                    future.result()
            except BaseException as exc:
                # The caller was interrupted (Ctrl-C) while workers ran: no
                # task starts now, and the running ones finish before this
                # returns, so no caller's cleanup meets one half done.
                queue.fail(exc)
                concurrent.futures.wait(futures)
                raise
    if queue.error is not None:
        raise queue.error


class _Tasks(Generic[T]):
    """The shared state of one :func:`run_tasks`: the next task, the next to combine."""

    def __init__(
        self,
        n_tasks: int,
        work: Callable[[Any, int], T],
        combine: Callable[[int, T], object] | None,
        local: Callable[[int], Any],
    ) -> None:
        self.n_tasks, self.work, self.combine, self.local = n_tasks, work, combine, local
        self.next_task = 0
        self.next_combine = 0
        self.error: BaseException | None = None
        self.taking = threading.Lock()
        self.turn = threading.Condition()

    def take(self) -> int | None:
        with self.taking:
            if self.error is not None or self.next_task == self.n_tasks:
                return None
            i = self.next_task
            self.next_task += 1
            return i

    def serve(self, j: int) -> None:
        _local.inside = True
        try:
            state = self.local(j)
            while (i := self.take()) is not None:
                value = self.work(state, i)
                if self.combine is not None:
                    with self.turn:
                        self.turn.wait_for(lambda: self.next_combine == i or self.error is not None)
                        if self.error is not None:
                            return
                        self.combine(i, value)
                        self.next_combine += 1
                        self.turn.notify_all()
        except BaseException as exc:  # re-raised by the caller of run_tasks
            self.fail(exc)
        finally:
            _local.inside = False

    def fail(self, exc: BaseException) -> None:
        """Record the first error: no task is taken, and no value combined, after it."""
        with self.turn:
            if self.error is None:
                self.error = exc
            self.turn.notify_all()
