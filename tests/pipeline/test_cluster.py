"""The LocalCluster we start: workers with our malloc thresholds (not Dask's 65536), quieter monitoring."""

from __future__ import annotations

import os

import dask
import distributed  # noqa: F401  (registers the distributed.* config defaults)

from pipeline.core.executor import _local_config, map_tasks, open_client


def _environ_of_worker(_: int) -> dict[str, str | None]:
    import pyarrow as pa

    keys = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "OMP_NUM_THREADS")
    return {**{k: os.environ.get(k) for k in keys}, "arrow pool": pa.default_memory_pool().backend_name}


def test_local_workers_keep_partition_sized_arrays_in_the_heap():
    with open_client(None, 1) as client:
        (env,) = map_tasks(client, _environ_of_worker, [0], "env")
        monitoring = client.run(_monitoring_of_worker)
    assert env == {
        "MALLOC_TRIM_THRESHOLD_": str(128 << 20),  # not Dask's 65536
        "MALLOC_MMAP_THRESHOLD_": str(32 << 20),
        "OMP_NUM_THREADS": "1",  # the rest of Dask's env stays
        "arrow pool": "system",  # not mimalloc's huge-page segments (pipeline/core/arrow_pool.py)
    }
    assert list(monitoring.values()) == [("100ms", "500ms", "500ms")]


def _monitoring_of_worker() -> tuple[str, str, str]:
    keys = ("profile.interval", "memory.monitor-interval")
    return (
        *(dask.config.get(f"distributed.worker.{k}") for k in keys),
        dask.config.get("distributed.admin.tick.interval"),
    )


def test_monitoring_intervals_the_user_chose_are_kept():
    with dask.config.set({"distributed.admin.tick.interval": "50ms"}):
        config = _local_config()
    assert "distributed.admin.tick.interval" not in config
    assert config["distributed.worker.memory.monitor-interval"] == "500ms"


def test_malloc_settings_the_user_chose_are_kept():
    chosen = {"MALLOC_TRIM_THRESHOLD_": 1 << 20, "MALLOC_MMAP_THRESHOLD_": 1 << 18}
    with dask.config.set({f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in chosen.items()}):
        env = _local_config()["distributed.nanny.pre-spawn-environ"]
    assert {k: env[k] for k in chosen} == chosen
    assert _local_config()["distributed.nanny.pre-spawn-environ"]["MALLOC_TRIM_THRESHOLD_"] == 128 << 20


def test_arrow_pool_is_the_system_allocator_unless_the_user_chose_one(monkeypatch):
    import pyarrow as pa

    from pipeline.core.arrow_pool import use_system_pool

    before = pa.default_memory_pool()
    try:
        monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")
        use_system_pool()
        assert pa.default_memory_pool().backend_name == before.backend_name
        assert (
            _local_config()["distributed.nanny.pre-spawn-environ"]["ARROW_DEFAULT_MEMORY_POOL"] == "jemalloc"
        )
        monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL")
        use_system_pool()
        assert pa.default_memory_pool().backend_name == "system"
    finally:
        pa.set_memory_pool(before)
