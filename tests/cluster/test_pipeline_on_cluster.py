"""`pipeline run` on the multi-process cluster (tests/cluster/conftest.py), S3 in and out: the same
bytes as a run on one machine, with a worker SIGKILLed mid-job, and across a scheduler crash."""

from __future__ import annotations

import gzip
import json
import os
import random
import socket
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from tests.cluster import faults
from tests.cluster.conftest import BUCKET, REPO, Cluster

pytestmark = pytest.mark.cluster

SEED = 22
PARTITIONS = 6


@pytest.fixture(scope="module")
def manifest(cluster: Cluster) -> tuple[Path, int]:
    """Six JSONL inputs on S3 (the bundled mirror crawl dealt round-robin, so near copies land in
    different partitions and dedup has to look across them); the manifest; the input record count."""
    lines = (
        gzip.decompress((REPO / "pipeline/sample_data/mirror.jsonl.gz").read_bytes()).decode().splitlines()
    )
    fs = cluster.fs()
    for i in range(PARTITIONS):
        fs.pipe(f"{BUCKET}/crawl/in-{i}.jsonl", ("\n".join(lines[i::PARTITIONS]) + "\n").encode())
    path = cluster.driver / "crawl.yaml"
    data = {
        "sources": [{"name": "web", "weight": 1.0, "paths": [f"s3://{BUCKET}/crawl/*.jsonl"]}],
        "pipeline": {"shard_rows": 4, "langid": {"languages": ["en", "zh"]}},
    }
    path.write_text(yaml.safe_dump(data))
    return path, len(lines)


def _output(name: str) -> str:
    return f"s3://{BUCKET}/{name}"


def _files(cluster: Cluster, folder: str) -> dict[str, bytes]:
    """Every file of the dataset a user reads (shards, ledger, manifest, card), by relative path."""
    if folder.startswith("s3://"):
        fs, root = cluster.fs(), folder.removeprefix("s3://")
        names = [n.removeprefix(root + "/") for n in fs.find(root)]
        read = lambda n: fs.cat_file(f"{root}/{n}")  # noqa: E731
    else:
        base = Path(folder)
        names = [str(p.relative_to(base)) for p in base.rglob("*") if p.is_file()]
        read = lambda n: (base / n).read_bytes()  # noqa: E731
    return {n: read(n) for n in sorted(names) if not n.startswith(("_work/", ".yuliao/"))}


def _run(cluster: Cluster, manifest: Path, output: str, scheduler: str, timeout: float = 120):
    return cluster.run(
        "pipeline", "run", str(manifest), "--output", output, "--scheduler", scheduler, timeout=timeout
    )


@pytest.fixture(scope="module")
def reference(cluster: Cluster, manifest: tuple[Path, int]) -> dict[str, bytes]:
    """The same manifest run on the driver alone (no Dask), into the driver's own folder."""
    out = str(cluster.driver / "reference")
    done = _run(cluster, manifest[0], out, "inline")
    assert done.returncode == 0, done.stderr[-3000:]
    files = _files(cluster, out + "/dataset")
    assert any(n.startswith("data/") for n in files) and "manifest.json" in files
    return files


def _check(cluster: Cluster, output: str, reference: dict[str, bytes], records: int) -> None:
    """Byte-identical to the reference; the ledger read back from the store accounts for every
    input record once, and its kept rows are the shards' rows."""
    files = _files(cluster, output + "/dataset")
    assert sorted(files) == sorted(reference)
    assert [n for n in files if files[n] != reference[n]] == []
    parts = [b for n, b in files.items() if n.startswith("ledger/part-")]  # not its .yuliao/ markers
    led = pa.concat_tables(pq.read_table(pa.BufferReader(b)) for b in parts)
    assert led.num_rows == records
    assert len(set(led["id"].to_pylist())) == records
    kept = led.filter(pa.compute.equal(led["decision"], "kept")).num_rows
    assert kept == json.loads(files["manifest.json"])["rows"] > 0


def test_workers_are_hosts_apart(cluster, manifest):
    """Each worker works in its own folder; isolated, it sees neither the driver's folder nor a port
    the driver listens on that is not the scheduler's or the S3 server's."""
    assert manifest[0].exists()
    with cluster.client() as c, socket.socket() as service:
        service.bind(("127.0.0.1", 0))
        service.listen()
        cwds = c.run(os.getcwd)
        seen = c.run(os.path.exists, str(manifest[0]))
        if cluster.isolated:
            reach = c.run(
                socket.create_connection, ("127.0.0.1", service.getsockname()[1]), on_error="return"
            )
    assert len(set(cwds.values())) == len(cwds) == 2
    assert all(Path(d).parent == cluster.root and Path(d).name.startswith("worker") for d in cwds.values())
    if not cluster.isolated:
        pytest.skip("no unprivileged user namespaces here: workers share the driver's network and disk")
    assert not any(seen.values()), "a worker sees the driver's folder"
    assert all(isinstance(r, ConnectionRefusedError) for r in reach.values()), reach


def test_run_on_the_cluster_matches_one_machine(cluster, manifest, reference):
    out = _output("clean")
    done = _run(cluster, manifest[0], out, cluster.address)
    assert done.returncode == 0, done.stderr[-3000:] + cluster.log_tail()
    _check(cluster, out, reference, manifest[1])


@pytest.mark.parametrize("point", faults.POINTS)
def test_a_worker_killed_mid_job_is_recomputed(cluster, manifest, reference, point):
    """Dask reruns the dead worker's tasks elsewhere; what the killed task left (an uncommitted
    upload, an object without its marker) never counts as done, so the bytes are a clean run's."""
    rng = random.Random(f"{SEED}-{point}")
    victim, k = rng.randrange(2), rng.randint(1, 3)
    with cluster.client() as c:
        c.run(faults.arm, point, k, workers=[cluster.worker_address(victim)])
    out = _output(f"killed-{point}")
    done = _run(cluster, manifest[0], out, cluster.address)
    died = cluster.procs[f"worker{victim}"].poll()
    cluster.restart_worker(victim)  # two workers again for the next test
    assert died in (137, -9), f"worker {victim} was not killed at {point} #{k} (exit {died})"
    assert done.returncode == 0, done.stderr[-3000:] + cluster.log_tail()
    _check(cluster, out, reference, manifest[1])


def _stage1_done(cluster: Cluster, output: str) -> dict[str, float]:
    """Stage-1 outputs that have their done marker → when they were written."""
    fs, work = cluster.fs(), output.removeprefix("s3://") + "/dataset/_work/stage1"
    done = [n.rsplit("/", 1)[1] for n in fs.find(f"{work}/.yuliao/done")]
    return {n: fs.info(f"{work}/{n}")["LastModified"].timestamp() for n in done}


def test_a_scheduler_killed_mid_job_fails_it_cleanly_and_a_rerun_resumes(cluster, manifest, reference):
    """The job cannot outlive its scheduler: it fails; the same command against a fresh cluster
    skips the partitions whose markers exist (their objects are not rewritten) and ends identical."""
    k = random.Random(f"{SEED}-scheduler").randint(2, 4)
    with cluster.client() as c:
        c.run_on_scheduler(faults.arm_scheduler, k)
    out = _output("scheduler-killed")
    first = _run(cluster, manifest[0], out, cluster.address)
    died = cluster.procs["scheduler"].poll()
    done_before = _stage1_done(cluster, out)
    cluster.restart()  # a fresh scheduler and workers, as after the crash
    assert died == -9, f"the scheduler was not killed after result #{k}"
    assert first.returncode != 0 and "scheduler" in first.stderr.lower(), first.stderr[-3000:]
    assert 0 < len(done_before) < PARTITIONS, "killed too early or too late to test resume"

    second = _run(cluster, manifest[0], out, cluster.address)
    assert second.returncode == 0, second.stderr[-3000:] + cluster.log_tail()
    done_after = _stage1_done(cluster, out)
    assert {n: done_after[n] for n in done_before} == done_before, "finished partitions were redone"
    assert len(done_after) == PARTITIONS
    _check(cluster, out, reference, manifest[1])
    assert "Traceback" not in first.stderr and "rerun the same command" in first.stderr, first.stderr[-3000:]
