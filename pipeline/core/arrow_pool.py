"""Which allocator Arrow buffers come from in our processes: the system one (glibc malloc).

pyarrow's default pool is mimalloc, whose segments are backed by transparent huge pages, and
where a huge-page fault is slow every fresh segment stalls the task that touches it (figures:
bench/results/2026-12-07-measurements-moved-from-code.md).  glibc keeps freed memory in the
heap under the worker settings of pipeline/core/executor.py, so buffers are reused.
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
