"""`yuliao tokenizer encode` with its run folder on an object store (a local moto server): the dataset
and tokenizer are read from s3://, the shards, markers, owner file and manifest written there are
the bytes a local encode writes, and a rerun writes nothing."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import boto3
import fsspec
import pytest
from typer.testing import CliRunner

from pipeline.cli.main import app
from tests.s3_server import BUCKET, objects, s3_server
from tests.tokenization.test_encode import SHARDS, all_texts, make_dataset
from tokenization.config import TokenizerConfig
from tokenization.train import train_tokenizer

runner = CliRunner()


@pytest.fixture(scope="module")
def s3():
    with pytest.MonkeyPatch.context() as mp, s3_server(mp) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def local_run(tmp_path_factory) -> Path:
    """A run folder holding a dataset and a tokenizer, as `pipeline run` and `tokenizer train` leave it."""
    root = tmp_path_factory.mktemp("run")
    make_dataset(root / "dataset")
    train_tokenizer(iter(all_texts()), TokenizerConfig(vocab_size=700), root / "tokenizer")
    return root


def _put(local: Path, url: str) -> None:
    fs, path = fsspec.core.url_to_fs(url)
    fs.put(f"{local}/", path, recursive=True)


def _encode(output: str) -> None:
    r = runner.invoke(app, ["tokenizer", "encode", "--output", output])
    assert r.exit_code == 0, r.output


def _modified(prefix: str) -> dict[str, object]:
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return {o["Key"]: o["LastModified"] for page in pages for o in page.get("Contents", [])}


def test_encode_to_s3_writes_the_bytes_of_a_local_encode_and_a_rerun_writes_nothing(s3, local_run, tmp_path):
    prefix = f"enc-{uuid.uuid4().hex[:8]}/run"
    remote = f"s3://{BUCKET}/{prefix}"
    _put(local_run / "dataset", f"{remote}/dataset")
    _put(local_run / "tokenizer", f"{remote}/tokenizer")
    local = tmp_path / "run"
    shutil.copytree(local_run, local)

    _encode(str(local))
    _encode(remote)

    stored = {k: body for k, (_, body) in objects(f"{prefix}/tokens/").items()}
    shards = [f"shard-{i:05d}.arrow" for i in range(SHARDS)]
    assert sorted(stored) == sorted(
        [*shards, "manifest.json", ".yuliao/owner.json", *(f".yuliao/done/{s}" for s in shards)]
    )  # the lock is gone, nothing else was left behind
    for name in [*shards, ".yuliao/owner.json"]:
        assert stored[name] == (local / "tokens" / name).read_bytes(), name
    manifest = json.loads(stored["manifest.json"])
    expected = json.loads((local / "tokens" / "manifest.json").read_text())
    assert manifest["tokenizer"].pop("path") == f"{remote}/tokenizer"  # where it read them: the URLs
    assert manifest["dataset"].pop("path") == f"{remote}/dataset"
    expected["tokenizer"].pop("path"), expected["dataset"].pop("path")
    assert manifest == expected and manifest["rows"] > 0

    before, modified = objects(f"{prefix}/"), _modified(f"{prefix}/tokens/")
    _encode(remote)  # every shard is done with the same input and tokenizer: reused, not rewritten
    assert objects(f"{prefix}/") == before
    again = _modified(f"{prefix}/tokens/")
    assert {k: again[k] for k in again if not k.endswith("manifest.json")} == {
        k: modified[k] for k in modified if not k.endswith("manifest.json")
    }
