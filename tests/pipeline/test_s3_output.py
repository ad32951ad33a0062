"""Outputs on an object store: atomic writes, done markers, the output lock and whole pipeline runs
against a local S3 server (moto), compared with the same work done on local disk."""

from __future__ import annotations

import gzip
import json
import socket
import time
import uuid
from pathlib import Path

import boto3
import pyarrow as pa
import pytest
import yaml

from pipeline.core.atomic import (
    atomic_sink,
    done_marker,
    is_done,
    mark_done,
    read_arrow,
    read_parquet,
    sha256_file,
    write_arrow,
    write_json,
    write_parquet,
)
from pipeline.core.ownership import OutputConflict, OutputLocked, OutputRefused, claim_output
from tests.s3_server import BUCKET, objects, s3_server


@pytest.fixture(scope="module")
def s3():
    with pytest.MonkeyPatch.context() as mp, s3_server(mp) as endpoint:
        yield endpoint


@pytest.fixture
def prefix(s3) -> str:
    """A fresh key prefix per test: `s3://BUCKET/<prefix>`."""
    return f"t-{uuid.uuid4().hex[:8]}/"


def url(prefix: str, *parts: str) -> str:
    return f"s3://{BUCKET}/{prefix}" + "/".join(parts)


TABLE = pa.table({"id": [f"d{i}" for i in range(500)], "text": [f"文本 {i} " * 20 for i in range(500)]})


def test_writers_give_the_bytes_of_a_local_write(prefix, tmp_path):
    write_arrow(url(prefix, "a.arrow"), TABLE)
    write_arrow(tmp_path / "a.arrow", TABLE)
    write_parquet(url(prefix, "a.parquet"), TABLE)
    write_parquet(tmp_path / "a.parquet", TABLE)
    write_json(url(prefix, "a.json"), {"b": 1, "a": "二"})
    write_json(tmp_path / "a.json", {"b": 1, "a": "二"})

    stored = objects(prefix)
    for name in ("a.arrow", "a.parquet", "a.json"):
        assert stored[name][1] == (tmp_path / name).read_bytes(), name
        assert sha256_file(url(prefix, name)) == sha256_file(tmp_path / name)
    assert read_arrow(url(prefix, "a.arrow")).equals(TABLE)
    assert read_parquet(url(prefix, "a.parquet"), TABLE.schema).equals(TABLE)


@pytest.mark.parametrize("size", [1000, 6 << 20], ids=["one-put", "multipart"])
def test_a_write_that_fails_leaves_no_object(prefix, size, monkeypatch):
    import fsspec
    import s3fs

    # parts of 5 MiB (S3's least), so 6 MiB takes the multipart path without a big upload
    monkeypatch.setitem(fsspec.config.conf, "s3", {"default_block_size": 5 << 20})
    s3fs.S3FileSystem.clear_instance_cache()
    target = url(prefix, "partial.bin")
    with pytest.raises(RuntimeError, match="killed"), atomic_sink(target) as sink:
        sink.write(b"x" * size)
        raise RuntimeError("killed mid-write")
    s3fs.S3FileSystem.clear_instance_cache()
    assert objects(prefix) == {}
    with atomic_sink(target) as sink:
        sink.write(b"y" * size)
    assert objects(prefix)["partial.bin"][1] == b"y" * size


def test_done_markers_sit_in_the_hidden_folder_and_follow_the_data(prefix):
    data = url(prefix, "work", "part-00000.arrow")
    assert str(done_marker(data)) == url(prefix, "work", ".yuliao", "done", "part-00000.arrow")
    write_arrow(data, TABLE)
    assert not is_done(data)  # the data alone, as a killed task leaves it, is not done
    mark_done(data)
    assert is_done(data)


def test_the_lock_is_exclusive_on_s3(prefix):
    out = url(prefix, "run")
    with claim_output(out, "pipeline run", "fp", ["data"]) as resumed:
        assert not resumed
        lock = json.loads(objects(prefix)["run/.yuliao/lock"][1])
        assert lock["host"] == socket.gethostname()
        with (
            pytest.raises(OutputLocked, match="is being written by"),
            claim_output(out, "pipeline run", "fp", []),
        ):
            pass
    assert "run/.yuliao/lock" not in objects(prefix)  # released
    with claim_output(out, "pipeline run", "fp", ["data"]) as resumed:
        assert resumed


def test_a_lock_of_another_host_is_respected(prefix):
    out = url(prefix, "run")
    holder = {"pid": 1, "host": "elsewhere", "kind": "pipeline run"}
    boto3.client("s3").put_object(Bucket=BUCKET, Key=f"{prefix}run/.yuliao/lock", Body=json.dumps(holder))
    with pytest.raises(OutputLocked, match="elsewhere"), claim_output(out, "pipeline run", "fp", []):
        pass


def test_overwrite_on_s3_removes_only_what_the_earlier_run_wrote(prefix):
    out = url(prefix, "run")
    with claim_output(out, "pipeline run", "config-1", ["data", "manifest.json"]):
        write_json(url(prefix, "run", "data", "a.json"), {})
        write_json(url(prefix, "run", "data", "b.json"), {})
    assert {"run/data/a.json", "run/data/b.json", "run/.yuliao/owner.json"} <= set(objects(prefix))
    with pytest.raises(OutputConflict), claim_output(out, "pipeline run", "config-2", ["data"]):
        pass
    with claim_output(out, "pipeline run", "config-2", ["data"], overwrite=True) as resumed:
        assert not resumed
    assert [k for k in objects(prefix) if not k.startswith("run/.yuliao/")] == []


def test_an_s3_output_is_refused_over_foreign_files_and_inputs(prefix):
    write_json(url(prefix, "run", "mine.json"), {})
    with pytest.raises(OutputRefused, match="mine.json"), claim_output(url(prefix, "run"), "k", "fp", []):
        pass
    inside = url(prefix, "out", "in.jsonl")
    with (
        pytest.raises(OutputRefused, match="inside the output"),
        claim_output(url(prefix, "out"), "k", "fp", [], inputs=[inside]),
    ):
        pass
    with (
        pytest.raises(OutputRefused, match="inside the input"),
        claim_output(url(prefix, "in", "out"), "k", "fp", [], inputs=[url(prefix, "in")]),
    ):
        pass


# ---- whole runs: `yuliao pipeline run MANIFEST --output s3://...` ----

SAMPLE = Path(__file__).resolve().parents[2] / "pipeline" / "sample_data"
RECORDS = 51 + 20  # mirror.jsonl.gz + its first 20 lines again (copies across partitions)


def _pipeline_run(manifest: Path, output: str) -> None:
    """`yuliao pipeline run` inline: worker processes on S3 are tests/cluster/'s (a LocalCluster here
    would double this file's time)."""
    from typer.testing import CliRunner

    from pipeline.cli.main import app

    args = ["pipeline", "run", str(manifest), "--output", output, "--scheduler", "inline"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output


def _dated(prefix: str) -> dict[str, tuple[str, object]]:
    """key → (ETag, LastModified) under s3://BUCKET/prefix."""
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return {
        o["Key"].removeprefix(prefix): (o["ETag"], o["LastModified"])
        for p in pages
        for o in p.get("Contents", [])
    }


@pytest.fixture(scope="module")
def runs(s3, tmp_path_factory) -> tuple[Path, Path]:
    """The same manifest, inputs on S3, run into a local folder and into s3://BUCKET/run."""
    tmp = tmp_path_factory.mktemp("s3runs")
    client = boto3.client("s3")
    mirror = (SAMPLE / "mirror.jsonl.gz").read_bytes()
    client.put_object(Bucket=BUCKET, Key="in/mirror.jsonl.gz", Body=mirror)
    head = b"".join(gzip.decompress(mirror).splitlines(keepends=True)[:20])
    client.put_object(Bucket=BUCKET, Key="in/head.jsonl", Body=head)
    manifest = tmp / "m.yaml"
    sources = [{"name": "web", "paths": [f"s3://{BUCKET}/in/*.jsonl*"], "weight": 1.0}]
    manifest.write_text(yaml.safe_dump({"sources": sources, "pipeline": {"shard_rows": 16}}))
    local = tmp / "local"
    _pipeline_run(manifest, str(local))
    _pipeline_run(manifest, f"s3://{BUCKET}/run")
    return manifest, local / "dataset"


def _dataset_files(local: Path) -> list[str]:
    manifest = json.loads((local / "manifest.json").read_text())
    return [
        *(s["path"] for s in manifest["shards"]),
        *(str(p.relative_to(local)) for p in sorted((local / "ledger").glob("*.parquet"))),
        "manifest.json",
        "README.md",
    ]


def test_an_s3_run_writes_what_a_local_run_writes(runs):
    _, local = runs
    stored = objects("run/dataset/")
    names = _dataset_files(local)
    assert len([n for n in names if n.startswith("data/")]) > 2
    for name in names:
        assert stored[name][1] == (local / name).read_bytes(), name
    assert {k for k in stored if k.startswith(("data/", "ledger/part"))} == {
        n for n in names if n.startswith(("data/", "ledger/"))
    }
    assert {"report/report.html", "report/report.md"} <= set(objects("run/"))


def test_the_ledger_read_back_from_s3_balances(runs):
    from pipeline.records import ledger

    led = ledger.read(f"s3://{BUCKET}/run/dataset/ledger")
    ledger.check_balanced(led, RECORDS)  # one row per record read, each id once
    assert json.loads(objects("run/dataset/")["manifest.json"][1])["ledger"]["rows"] == RECORDS
    decisions = led["decision"].to_pylist()
    assert decisions.count("duplicate") >= 20 and "kept" in decisions  # the copies across the two files


def test_a_rerun_skips_finished_work_and_changes_nothing(runs):
    manifest, _ = runs
    before, dated = objects("run/"), _dated("run/")
    time.sleep(1.1)  # S3 dates have one-second resolution: a rewrite shows as a later date
    _pipeline_run(manifest, f"s3://{BUCKET}/run")
    assert objects("run/") == before
    rewritten = {k for k, (_, when) in _dated("run/").items() if when != dated[k][1]}
    # only what every run writes at its end (and the inputs' stamps) is written again
    assert rewritten <= {"dataset/manifest.json", "dataset/README.md", "dataset/_work/inputs.json"} | {
        k for k in before if k.startswith("report/")
    }
    assert not {k for k in rewritten if k.startswith(("dataset/data/", "dataset/ledger/"))}


def test_an_object_without_its_done_marker_is_written_again(runs):
    """A task killed between its data and its marker leaves a complete but unmarked object:
    never done, so the rerun redoes it (here it is also made wrong, to see it replaced)."""
    manifest, local = runs
    client = boto3.client("s3")
    ledger_key = "run/dataset/ledger/part-00000.parquet"
    shard_key = "run/dataset/data/shard-00000-0000.arrow"
    marker_key = "run/dataset/ledger/.yuliao/done/part-00000.parquet"
    assert marker_key in {f"run/{k}" for k in objects("run/")}
    client.delete_object(Bucket=BUCKET, Key=marker_key)
    for key in (ledger_key, shard_key):
        client.put_object(Bucket=BUCKET, Key=key, Body=b"what a killed task left")
    _pipeline_run(manifest, f"s3://{BUCKET}/run")
    stored = objects("run/")
    assert marker_key.removeprefix("run/") in stored
    for name in _dataset_files(local):
        assert stored[f"dataset/{name}"][1] == (local / name).read_bytes(), name
