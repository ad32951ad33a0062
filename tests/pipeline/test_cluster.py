"""The LocalCluster we start: workers without Dask's malloc trim setting, quieter monitoring."""

from __future__ import annotations

import os

import dask
import distributed  # noqa: F401  (registers the distributed.* config defaults)

from pipeline.cluster import _local_config, map_tasks, open_client


def _environ_of_worker(_: int) -> dict[str, str | None]:
    return {k: os.environ.get(k) for k in ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS")}


def test_local_workers_run_without_dasks_malloc_trim_threshold():
    with open_client(None, 1) as client:
        (env,) = map_tasks(client, _environ_of_worker, [0], "env")
        profile = client.run(lambda: dask.config.get("distributed.worker.profile.interval"))
    assert env == {"MALLOC_TRIM_THRESHOLD_": None, "OMP_NUM_THREADS": "1"}  # the rest of Dask's env stays
    assert set(profile.values()) == {"100ms"}


def test_a_trim_threshold_the_user_chose_is_kept():
    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": 1 << 20}):
        env = _local_config()["distributed.nanny.pre-spawn-environ"]
    assert env["MALLOC_TRIM_THRESHOLD_"] == 1 << 20
    assert "MALLOC_TRIM_THRESHOLD_" not in _local_config()["distributed.nanny.pre-spawn-environ"]
