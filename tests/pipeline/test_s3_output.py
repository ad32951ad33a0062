"""Outputs on an object store: atomic writes, done markers, the output lock and whole pipeline runs
against a local S3 server (moto), compared with the same work done on local disk."""

from __future__ import annotations

import json
import socket
import uuid

import boto3
import pyarrow as pa
import pytest

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
from pipeline.core.ownership import OutputLocked, OutputRefused, claim_output
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
