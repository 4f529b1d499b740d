"""How much memory this process may still allocate, and refusing more up front.

A request that cannot fit is refused in milliseconds with the sizes in the
message, instead of swapping for minutes or being killed by the kernel.
:func:`available_memory` reads what the OS reports as available, the
address-space limit (``ulimit -v``) and the cgroup's memory limit, and
takes the least; :func:`fit_bytes` estimates what training a network needs.
"""

from __future__ import annotations

import os
from typing import Sequence

from .backprop import n_params

__all__ = ["available_memory", "check_memory", "fit_bytes"]

#: Bytes per float64 number.
_FLOAT = 8


def available_memory() -> int | None:
    """Bytes this process could still allocate: the least of what the OS, its
    address-space limit (``ulimit -v``) and its cgroup allow, or None if
    none can be read.

    The system-wide estimate alone is not enough: under a ``ulimit -v`` or a
    container's memory limit, an allocation fails (or the process is killed)
    long before the machine runs out.
    """
    limits = [x for x in (_meminfo_available(), _rlimit_headroom(), _cgroup_headroom())
              if x is not None]
    return min(limits) if limits else None


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _rlimit_headroom() -> int | None:
    """The address-space limit minus the address space already in use."""
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
        if limit == resource.RLIM_INFINITY:
            return None
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return max(0, limit - int(line.split()[1]) * 1024)
    except (ImportError, OSError, ValueError):
        pass
    return None


def _cgroup_headroom() -> int | None:
    """The memory limit of this process's cgroup (v2, else v1) minus its usage."""
    try:
        with open("/proc/self/cgroup") as f:
            entries = [line.rstrip("\n").split(":", 2) for line in f]
    except OSError:
        return None
    for _, controllers, path in entries:
        if controllers == "":
            files = (f"/sys/fs/cgroup{path}/memory.max", f"/sys/fs/cgroup{path}/memory.current")
        elif "memory" in controllers.split(","):
            base = f"/sys/fs/cgroup/memory{path}"
            files = (f"{base}/memory.limit_in_bytes", f"{base}/memory.usage_in_bytes")
        else:
            continue
        try:
            with open(files[0]) as f:
                limit = f.read().strip()
            with open(files[1]) as f:
                used = int(f.read())
        except (OSError, ValueError):
            continue
        # "max" (v2) or a huge number (v1) means no limit.
        if limit.isdigit() and int(limit) < 2**60:
            return max(0, int(limit) - used)
    return None


def check_memory(nbytes: int, what: str) -> None:
    """Raise ``MemoryError`` at once when ``what`` needs more than the available memory.

    Checked before allocating, so an impossible request fails in
    milliseconds with the sizes in the message, not after minutes of swapping.

    Parameters
    ----------
    nbytes : int
        The estimated need.
    what : str
        What needs it, for the message (``"a network of sizes (2, 2, 1)"``).

    Raises
    ------
    MemoryError
        ``"{what} needs about X GiB of memory, more than the Y GiB available"``.
        Nothing is raised when the available memory cannot be read.
    """
    available = available_memory()
    if available is not None and nbytes > available:
        raise MemoryError(
            f"{what} needs about {_gib(nbytes)} of memory, more than the "
            f"{_gib(available)} available"
        )


def _gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB" if n >= 2**30 else f"{n / 2**20:.3g} MiB"


def fit_bytes(sizes: Sequence[int], n_rows: int, epochs: int) -> int:
    """Estimated bytes for ``fit`` to train a float64 network of ``sizes`` on ``n_rows`` rows.

    Parameters, gradient, the epoch's starting copy and ``from_sizes``'
    temporaries; every layer's activations and deltas for all rows (the
    largest a batch or evaluation block can be) and the shuffled copy of the
    data; one loss per epoch.

    Parameters
    ----------
    sizes : sequence of int, shape (n_layers + 1,)
    n_rows, epochs : int

    Returns
    -------
    int
    """
    return _FLOAT * (6 * n_params(sizes) + 6 * n_rows * sum(sizes) + epochs)
