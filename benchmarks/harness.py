"""The benchmark harness: timing, agreement checks, results, discovery.

Run the suite with ``python -m benchmarks`` (``--quick`` for a smoke run of a
few seconds, ``--out DIR`` for where the JSON and the plot go).

How a case works
----------------
A case is one module ``benchmarks/case_<name>.py``. It is found by its file
name alone (no registry to edit) and must define

``TITLE : str``
    One line for the table's heading.
``ORDER : int``
    Where the case runs and prints among the others (lower first).
``run(bench) -> iterable of Result``
    Builds its own inputs, and for each comparison

    1. computes both sides once and checks they agree with
       :meth:`Bench.agree` *before* timing;
    2. times both sides with :meth:`Bench.time_pair` (one side with
       :meth:`Bench.time`, more with :meth:`Bench.time_sides`), which uses
       :mod:`timeit`: a calibrated number of calls per run, several runs
       alternating between the sides, the median of each (sides that run
       on several threads pass ``settle=True``, see :meth:`Bench.time_sides`);
    3. yields a :class:`Result`. ``a`` is the reference side (the scalar
       shim) and ``b`` the side measured against it, so ``ratio = a / b``
       reads "how many times faster b is". (The lower-bound case puts the
       real pass in ``a`` and the bound in ``b``, so its ratio is a cost.)
       Pass ``target=(">=", 200)`` or ``("<=", 1.15)`` to have the table
       say whether the ratio meets a goal; a row with nothing timed can
       instead put the number its target is about in ``metrics["value"]``.
       The runner sets ``Result.case`` to the module's name without
       ``case_``.

    ``bench.quick`` says whether this is the smoke run: use small sizes and
    few epochs then, so the whole quick suite stays within seconds.
    ``bench.dtypes`` lists the float dtypes: every case must yield rows
    for each of them (``tests/test_benchmarks_quick.py`` checks this, and
    that every row agreed).

A minimal case::

    TITLE = "dot product, python loop vs numpy"
    ORDER = 90

    def run(bench):
        x = np.arange(1000.0)
        loop = lambda: sum(v * v for v in x)
        vec = lambda: float(x @ x)
        ok, how = bench.agree(loop(), vec(), rtol=1e-12)
        a, b = bench.time_pair(loop, "python", vec, "numpy")
        yield Result("dot", "float64", "N=1000", ok, how, n_samples=1000, a=a, b=b)

A case that cannot agree yields its Result with ``agreed=False`` and no
timings; the run then still prints everything but exits with status 1.
"""

from __future__ import annotations

import importlib
import pkgutil
import statistics
import time
import timeit
from dataclasses import asdict, dataclass, field

import numpy as np

__all__ = ["Bench", "Result", "Timing", "discover_cases"]


@dataclass
class Timing:
    """One side of a comparison, timed.

    Attributes
    ----------
    label : str
        What was timed ("scalar shim", "Network.gradients", ...).
    median : float
        Median seconds per call over ``runs``.
    runs : list of float
        Seconds per call of each timed run.
    number : int
        Calls per run.
    """

    label: str
    median: float
    runs: list
    number: int


@dataclass
class Result:
    """One row of the results table.

    Attributes
    ----------
    case : str
        The case's short name (its module name without ``case_``).
    dtype : str
        "float64" or "float32".
    size : str
        What was varied, e.g. "N=4096" or "784-256-128-10, batch 512".
    agreed : bool
        Whether both sides computed the same result before timing.
    agreement : str
        How that was checked, with the measured difference.
    n_samples : int or None
        Samples processed per call, for per-sample times.
    a, b : Timing or None
        The reference side and the measured side.
    target : tuple (op, value) or None
        A goal for ``ratio``: ``(">=", 200)`` or ``("<=", 1.15)``.
    metrics : dict
        Anything else measured (peak memory, ...), JSON-serialisable.
    note : str
    """

    case: str
    dtype: str
    size: str
    agreed: bool
    agreement: str
    n_samples: int | None = None
    a: Timing | None = None
    b: Timing | None = None
    target: tuple | None = None
    metrics: dict = field(default_factory=dict)
    note: str = ""

    @property
    def ratio(self):
        """``a.median / b.median``, or None unless both sides were timed."""
        if self.a is None or self.b is None:
            return None
        return self.a.median / self.b.median

    @property
    def met(self):
        """Whether ``ratio`` (or ``metrics["value"]``) meets ``target``; None without one."""
        if self.target is None:
            return None
        value = self.ratio if self.ratio is not None else self.metrics.get("value")
        if value is None:
            return None
        op, goal = self.target
        return value >= goal if op == ">=" else value <= goal

    def to_json(self):
        d = asdict(self)
        d["ratio"] = self.ratio
        d["met"] = self.met
        return d


class Bench:
    """What a case gets: the run's mode and the timing and checking tools.

    Parameters
    ----------
    quick : bool
        Smoke mode: tiny sizes, short runs, one repeat.
    """

    def __init__(self, quick=False):
        self.quick = quick
        self.dtypes = (np.dtype(np.float64), np.dtype(np.float32))
        # Seconds one timed run should last at least, and runs per side.
        self.min_time = 0.002 if quick else 0.1
        self.repeat = 1 if quick else 5
        # Seconds to wait before each run of a side timed with settle=True:
        # OpenBLAS's threads (and OpenMP's) spin for about 0.1 s after their
        # work before they sleep, and a side timed right after another's
        # threaded work would share the cores with them.
        self.settle = 0.0 if quick else 0.2

    def time(self, fn, label, *, repeat=None):
        """Median seconds per call of ``fn()``, with :class:`timeit.Timer`.

        The number of calls per run is calibrated like
        :meth:`timeit.Timer.autorange` (1, 2, 5, 10, 20, ... calls until a
        run lasts ``min_time``); a calibration run that already lasts that
        long with a single call counts as the first timed run, so slow calls
        are not paid for twice.
        """
        return self.time_pair(fn, label, repeat=repeat)[0]

    def time_pair(self, fn_a, label_a, fn_b=None, label_b=None, *, repeat=None, settle=False):
        """Time two sides the way :meth:`time` does, alternating their runs.

        Run ``i`` of ``a`` is followed by run ``i`` of ``b``, so both medians
        come from the same stretch of time: a burst of other work on the
        machine slows both sides instead of skewing their ratio.

        Returns
        -------
        (Timing, Timing or None)
        """
        sides = [(fn_a, label_a)] + ([(fn_b, label_b)] if fn_b is not None else [])
        timings = self.time_sides(sides, repeat=repeat, settle=settle)
        return timings[0], (timings[1] if len(timings) > 1 else None)

    def time_sides(self, sides, *, repeat=None, settle=False):
        """Time any number of sides, alternating their runs as :meth:`time_pair` does.

        Parameters
        ----------
        sides : list of (callable, str)
            Each side's function and label.
        settle : bool
            Wait :attr:`settle` seconds before every run (and calibration),
            so that no side is timed beside the threads that another side's
            BLAS or OpenMP left spinning. For sides that run on several
            threads.

        Returns
        -------
        list of Timing, in the order of ``sides``
        """
        repeat = self.repeat if repeat is None else repeat
        pause = self.settle if settle else 0.0
        timers, numbers, runs = [], [], []
        for fn, _ in sides:
            timer = timeit.Timer(fn)
            time.sleep(pause)
            number, first = self._calibrate(timer)
            timers.append(timer)
            numbers.append(number)
            runs.append([] if first is None else [first])
        for _ in range(repeat):
            for timer, number, r in zip(timers, numbers, runs):
                if len(r) < repeat:
                    time.sleep(pause)
                    r.append(timer.timeit(number) / number)
        return [Timing(label, statistics.median(r), r, number)
                for (_, label), r, number in zip(sides, runs, numbers)]

    def _calibrate(self, timer):
        """Calls per run, and the seconds per call of a run worth keeping."""
        number = 1
        while True:
            for k in (1, 2, 5):
                n = number * k
                elapsed = timer.timeit(n)
                if elapsed >= self.min_time:
                    return n, (elapsed if n == 1 else None)
            number *= 10

    @staticmethod
    def agree(expected, actual, *, rtol, atol=0.0):
        """Compare two results elementwise with ``|a - e| <= atol + rtol |e|``.

        Returns
        -------
        ok : bool
        how : str
            The worst difference and the tolerance, for the table.
        """
        e = np.asarray(expected, dtype=np.float64)
        a = np.asarray(actual, dtype=np.float64)
        if e.shape != a.shape:
            return False, f"shapes differ: {e.shape} vs {a.shape}"
        err = np.abs(a - e)
        ok = bool(np.all(err <= atol + rtol * np.abs(e)))
        return ok, f"max|diff| {float(np.max(err, initial=0)):.1e} (rtol {rtol:g}, atol {atol:g})"


def discover_cases(names=None):
    """Import every ``benchmarks/case_*.py`` module, sorted by ``ORDER``.

    Parameters
    ----------
    names : iterable of str, optional
        Only these cases (module names without ``case_``).

    Returns
    -------
    list of (str, module)
    """
    package = importlib.import_module(__package__)
    found = sorted(
        m.name[len("case_"):]
        for m in pkgutil.iter_modules(package.__path__)
        if m.name.startswith("case_")
    )
    if names is not None:
        names = list(names)
        unknown = sorted(set(names) - set(found))
        if unknown:
            raise ValueError(f"unknown case(s) {unknown}; choose from {found}")
        found = [n for n in found if n in names]
    modules = [(n, importlib.import_module(f"{__package__}.case_{n}")) for n in found]
    return sorted(modules, key=lambda nm: (nm[1].ORDER, nm[0]))
