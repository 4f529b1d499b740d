"""``matnn.memory``: what the process may still allocate, and refusing more up front."""

import subprocess
import sys

import pytest

from matnn.memory import available_memory, check_memory

resource = pytest.importorskip("resource", reason="address-space limits are POSIX")


def test_an_address_space_limit_caps_the_available_memory():
    # A child under `ulimit -v 3 GiB`: whatever the machine has, the process
    # cannot have more than its limit.
    limit = 3 * 2**30
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, ({0}, {0})); "
            "from matnn.memory import available_memory; print(available_memory())").format(limit)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert 0 < int(done.stdout) <= limit


def test_a_request_beyond_the_available_memory_is_refused_with_its_size():
    available = available_memory()
    if available is None:
        pytest.skip("this system reports no available memory")
    check_memory(1, "one byte")
    with pytest.raises(MemoryError, match=r"^ten times too much needs about [0-9.]+ (GiB|MiB) "
                                          r"of memory, more than the [0-9.]+ (GiB|MiB) available$"):
        check_memory(10 * available, "ten times too much")
