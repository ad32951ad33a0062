"""A finished output loads the way users load it: `pandas.read_parquet(out/"ledger")`,
`pyarrow.dataset`, `datasets.load_dataset(out)` and the ledger folder, whole (issue 21)."""

import json
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pytest

from pipeline.config import ExtractConfig, PipelineConfig, SourceConfig
from pipeline.records import ledger
from pipeline.run import run_pipeline

SAMPLE = Path(__file__).resolve().parents[2] / "pipeline" / "sample_data"
# resiliparse: fast on the sample; small shards so data/ holds several files
CFG = PipelineConfig(shard_rows=40, extract=ExtractConfig(extractor="resiliparse"))


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("loading") / "dataset"
    sources = [
        SourceConfig(name="mirror", paths=[str(SAMPLE / "mirror.jsonl.gz")], weight=0.5),
        SourceConfig(name="poems", paths=[str(SAMPLE / "poems.warc.gz")], weight=0.5),
    ]
    run_pipeline(sources, CFG, out, client=None, base_dir=SAMPLE)
    return out


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def _load(path: str, tmp_path: Path, *args: str, **kwargs):
    import datasets

    return datasets.load_dataset(path, *args, split="train", cache_dir=str(tmp_path / "hf"), **kwargs)


def test_pandas_and_pyarrow_read_the_ledger_folder_whole(out: Path) -> None:
    manifest = _manifest(out)
    assert len(list((out / "ledger").glob("*.parquet"))) == 2  # one per input file, each with a marker
    frame = pd.read_parquet(out / "ledger")
    assert len(frame) == manifest["ledger"]["rows"] > 300
    assert frame["decision"].value_counts().to_dict() == {
        d: n for d, n in manifest["ledger"]["decisions"].items() if n
    }
    assert pads.dataset(out / "ledger").count_rows() == manifest["ledger"]["rows"]


def test_load_dataset_on_the_output_gives_the_documents(out: Path, tmp_path: Path) -> None:
    manifest = _manifest(out)
    assert len(manifest["shards"]) > 2 and (out / "_work").is_dir()  # intermediates are still there
    docs = _load(str(out), tmp_path)
    assert len(docs) == manifest["rows"]
    led = ledger.read(out / "ledger")
    kept = led.filter(pc.equal(led["decision"], "kept"))["id"].to_pylist()
    assert sorted(docs["id"]) == sorted(kept)
    assert all(isinstance(t, str) and t for t in docs["text"][:20])


@pytest.mark.parametrize("how", ["folder", "parquet-data-dir"])
def test_load_dataset_on_the_ledger_folder_gives_the_ledger(out: Path, tmp_path: Path, how: str) -> None:
    if how == "folder":
        rows = _load(str(out / "ledger"), tmp_path)
    else:  # the line: datasets.load_dataset("parquet", data_dir=...)
        rows = _load("parquet", tmp_path, data_dir=str(out / "ledger"))
    assert len(rows) == _manifest(out)["ledger"]["rows"]
    assert set(rows.column_names) >= {"id", "source", "decision", "reason"}
