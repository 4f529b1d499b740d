"""Shared test set-up.

numpy warnings are errors for the whole suite (see ``filterwarnings`` in
pyproject.toml). Under ``CI=true`` hypothesis uses its built-in ``ci``
profile: derandomized, no deadline, no example database.
"""

import os
import sys
import threading

import numpy as np
import pytest
from hypothesis import settings
from threadpoolctl import threadpool_limits

settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def race():
    """``race(target, args_list)``: one thread per ``args``, racing as hard as possible.

    The threads start together behind a barrier and, with a tiny switch
    interval, the interpreter switches between them as often as it can, so a
    race that exists shows up; the interval is restored afterwards.
    """

    def run(target, args_list):
        barrier = threading.Barrier(len(args_list))

        def start(*args):
            barrier.wait()
            target(*args)

        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)
        try:
            threads = [threading.Thread(target=start, args=args) for args in args_list]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            sys.setswitchinterval(interval)

    return run


@pytest.fixture
def one_blas_thread():
    """BLAS on one thread: on the sklearn tests' small products a second one only waits."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture
def interrupt_numpy(monkeypatch):
    """``interrupt(name, call, only=...)``: ``numpy.<name>`` raises KeyboardInterrupt on
    the ``call``-th call whose arguments ``only`` accepts (a Ctrl-C inside a step).

    Undone with the test's ``monkeypatch``.
    """

    def interrupt(name, call, only=lambda *args: True):
        real, calls = getattr(np, name), []

        def cut(*args, **kwargs):
            if only(*args):
                calls.append(None)
                if len(calls) == call:
                    raise KeyboardInterrupt
            return real(*args, **kwargs)

        monkeypatch.setattr(np, name, cut)

    return interrupt
