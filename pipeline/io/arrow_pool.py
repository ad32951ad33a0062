"""Which allocator Arrow buffers come from in our processes: the system one (glibc malloc).

pyarrow's default pool is mimalloc, whose segments are backed by transparent huge pages.
Where THP faults are slow (our 2-vCPU VM: the host backs each fresh 2 MB page, ~5-10 ms)
every fresh segment stalls the task that touches it.  Measured on the dedup bench's verify
step (gathering ~2 MB of candidate texts, take + concat): mimalloc 100-370 ms with 26 THP
faults, system 3 ms, jemalloc 4-13 ms.  glibc keeps freed memory in the heap under the
worker settings of pipeline/cluster.py, so buffers are reused instead of faulted in again.
ARROW_DEFAULT_MEMORY_POOL, when set, wins (Arrow reads it itself).
"""

from __future__ import annotations

import os

ENV = "ARROW_DEFAULT_MEMORY_POOL"
POOL = "system"


def use_system_pool() -> None:
    """Make the system allocator this process's default Arrow pool, unless the user chose one."""
    if os.environ.get(ENV):
        return
    import pyarrow as pa

    pa.set_memory_pool(pa.system_memory_pool())
