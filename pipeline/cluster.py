"""Where partition tasks run: a Dask LocalCluster by default, any Dask scheduler by address.

`inline` runs tasks one after another in this process (tests, debugging); it is the same
code path minus the scheduler, so results are identical.
"""

from __future__ import annotations

import contextlib
import logging
import os
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
        n = workers or os.cpu_count() or 1
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


def map_tasks(
    client: Any, fn: Callable[..., Any], items: Sequence[Any], desc: str, **kwargs: Any
) -> list[Any]:
    """Run `fn(item, **kwargs)` for every item; results in input order, with a progress bar."""
    results: list[Any] = [None] * len(items)
    bar = tqdm(total=len(items), desc=desc, unit="part", disable=None)
    try:
        if client is None:
            for i, item in enumerate(items):
                results[i] = fn(item, **kwargs)
                bar.update()
        else:
            from distributed import as_completed

            futures = client.map(fn, items, pure=False, **kwargs)
            index = {f.key: i for i, f in enumerate(futures)}
            for fut in as_completed(futures):
                results[index[fut.key]] = fut.result()
                bar.update()
    finally:
        bar.close()
    return results
