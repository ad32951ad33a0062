"""Where partition tasks run: a Dask LocalCluster by default, any Dask scheduler by address.

`inline` runs tasks one after another in this process (tests, debugging); it is the same
code path minus the scheduler, so results are identical.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from tqdm import tqdm

INLINE = "inline"


@contextlib.contextmanager
def open_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """Yield a `distributed.Client`, or None for inline execution."""
    if scheduler == INLINE:
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler:
        client = Client(scheduler)
        cluster = None
    else:
        import dask

        n = workers or os.cpu_count() or 1
        with dask.config.set(_local_config()):
            cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                silence_logs=logging.ERROR,
            )
        client = Client(cluster)
    print(f"Dask dashboard: {client.dashboard_link}", flush=True)
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _local_config() -> dict[str, Any]:
    """Settings for the LocalCluster we start: the worker environment below, and quieter
    monitoring, so the scheduler, nannies and event loops take fewer cycles from the tasks on a
    small machine (figures: bench/results/2026-12-07-measurements-moved-from-code.md).  A value
    set in the Dask config is kept."""
    import dask

    quiet = {
        key: ours
        for key, (dask_default, ours) in _QUIET_MONITORING.items()
        if dask.config.get(key, dask_default) == dask_default
    }
    return {"distributed.nanny.pre-spawn-environ": _worker_environ(), **quiet}


# Dask config key: (Dask's default, ours)
_QUIET_MONITORING = {
    "distributed.worker.profile.interval": ("10ms", "100ms"),
    "distributed.admin.system-monitor.interval": ("500ms", "2s"),
    "distributed.admin.tick.interval": ("20ms", "500ms"),  # how often a loop checks it was not blocked
    "distributed.worker.memory.monitor-interval": ("100ms", "500ms"),  # spill / pause / kill checks
}


# glibc's own adaptive rule ends at a 32 MiB mmap threshold and a trim threshold of twice that;
# starting there (with a little more top room kept) spares every fresh worker the climb.
_MALLOC_DEFAULTS = {"MALLOC_MMAP_THRESHOLD_": 32 << 20, "MALLOC_TRIM_THRESHOLD_": 128 << 20}


def _worker_environ() -> dict[str, Any]:
    """Dask's worker environment, with malloc settings for partition-sized arrays.

    Dask's MALLOC_TRIM_THRESHOLD_=65536 also switches off glibc's adaptive mmap threshold, so
    every array over 128 KiB became fresh pages; our tasks allocate and free arrays of tens of
    MB, so they stay in the heap instead (page faults and timings: bench/results/
    2026-12-07-measurements-moved-from-code.md).  A value set in the Dask config is kept (65536
    itself cannot be told apart from Dask's default, so it is replaced too)."""
    import dask

    from pipeline.core import arrow_pool

    env = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    if env.get("MALLOC_TRIM_THRESHOLD_") == 65536:  # the value Dask ships
        env.pop("MALLOC_TRIM_THRESHOLD_")
    # Arrow buffers from that heap too (core/arrow_pool.py), unless the user picked a pool
    pool = {arrow_pool.ENV: os.environ.get(arrow_pool.ENV) or arrow_pool.POOL}
    return {**_MALLOC_DEFAULTS, **pool, **env}


def map_tasks(
    client: Any,
    fn: Callable[..., Any],
    items: Sequence[Any],
    desc: str,
    measure: Callable[[Any], tuple[int, int]] | None = None,
    **kwargs: Any,
) -> list[Any]:
    """Run `fn(item, **kwargs)` for every item; results in input order, with a progress bar (parts,
    rate and ETA; with `measure(result) -> (records, bytes)`, records and MB done and their rates)."""
    results: list[Any] = [None] * len(items)
    bar = tqdm(total=len(items), desc=desc, unit="part", disable=None)
    meter = _Meter(bar, measure)
    try:
        if client is None:
            for i, item in enumerate(items):
                results[i] = fn(item, **kwargs)
                meter.done(results[i])
        else:
            from distributed import as_completed

            futures = client.map(fn, items, pure=False, **kwargs)
            index = {f.key: i for i, f in enumerate(futures)}
            for fut in as_completed(futures):
                results[index[fut.key]] = fut.result()
                meter.done(results[index[fut.key]])
    finally:
        bar.close()
    return results


class _Meter:
    """Records and bytes finished so far, shown after the bar's parts/s and ETA."""

    def __init__(self, bar: Any, measure: Callable[[Any], tuple[int, int]] | None) -> None:
        self.bar, self.measure = bar, measure
        self.records = self.bytes = 0
        self.t0 = time.perf_counter()

    def done(self, result: Any) -> None:
        self.bar.update()
        if self.measure is None:
            return
        records, size = self.measure(result)
        self.records, self.bytes = self.records + records, self.bytes + size
        self.bar.set_postfix_str(self.postfix(time.perf_counter() - self.t0), refresh=False)

    def postfix(self, seconds: float) -> str:
        rate = 1 / seconds if seconds > 0 else 0.0
        return (
            f"{self.records:,} records ({self.records * rate:,.0f}/s), "
            f"{self.bytes / 1e6:,.1f} MB ({self.bytes / 1e6 * rate:,.1f} MB/s)"
        )
