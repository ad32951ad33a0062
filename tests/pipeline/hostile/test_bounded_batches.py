"""A partition is processed batch by batch as its reader streams, so a compressed file that
inflates to gigabytes is never held whole (issue 20, item 3, job level; the readers' own
bounds are in test_decompression_bombs.py), and a record that makes a step raise costs only
that record ("every failure local")."""

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pipeline.config import PipelineConfig, ReadConfig, SourceConfig
from pipeline.records import ledger
from pipeline.run import run_pipeline

SAMPLE = Path(__file__).resolve().parents[3] / "pipeline" / "sample_data"


def _outputs(out: Path) -> dict[str, bytes]:
    files = [*sorted((out / "data").glob("*.arrow")), *sorted((out / "ledger").glob("*.parquet"))]
    return {str(p.relative_to(out)): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def crawl(tmp_path_factory) -> Path:
    """The bundled JSONL sample, gzipped: one unsplittable partition."""
    d = tmp_path_factory.mktemp("crawl")
    (d / "mirror.jsonl.gz").write_bytes((SAMPLE / "mirror.jsonl.gz").read_bytes())
    return d


def _run(crawl: Path, out: Path, batch_bytes: int):
    cfg = PipelineConfig(read=ReadConfig(batch_bytes=batch_bytes))
    source = SourceConfig(name="m", paths=[str(crawl / "mirror.jsonl.gz")], weight=1.0)
    return run_pipeline([source], cfg, out, client=None, base_dir=crawl)


def test_small_batches_give_the_same_dataset_as_one_batch(crawl: Path, tmp_path: Path, unchanged) -> None:
    unchanged(crawl)
    whole = _run(crawl, tmp_path / "whole", 64 << 20)
    small = _run(crawl, tmp_path / "small", 32 << 10)
    assert len(whole.stats) == len(small.stats) == 1  # one task either way
    stage1 = tmp_path / "small" / "_work" / "stage1" / "part-00000.arrow"
    with pa.memory_map(str(stage1)) as f:
        batches = pa.ipc.open_file(f).num_record_batches
    assert batches > 5  # the steps ran on several batches, one after another
    assert small.stats[0]["input_records"] == whole.stats[0]["input_records"] == 51
    assert _outputs(tmp_path / "small") == _outputs(tmp_path / "whole")


def test_a_record_that_makes_a_step_raise_is_quarantined_alone(
    crawl: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipeline.steps.clean as clean_module

    real_clean = clean_module.clean
    with gzip.open(crawl / "mirror.jsonl.gz", "rt", encoding="utf-8") as fh:
        victim = json.loads(fh.readline())["text"][:40]

    def fragile_clean(batch, cfg):
        if any(t.startswith(victim) for t in batch.column("text").to_pylist()):
            raise RecursionError("a pathological record")
        return real_clean(batch, cfg)

    monkeypatch.setattr(clean_module, "clean", fragile_clean)
    result = _run(crawl, tmp_path / "out", 64 << 20)
    led = ledger.read(tmp_path / "out" / "ledger")
    assert led.num_rows == result.stats[0]["input_records"] == 51
    bad = led.filter(pc.equal(led["decision"], "quarantined")).to_pylist()
    assert [(r["stage"], r["reason"]) for r in bad] == [("clean", "step_error:clean:RecursionError")]
    assert ledger.decision_counts(led)["kept"] >= 25  # the other 50 went on


def test_a_batch_whose_every_record_fails_a_step_keeps_the_steps_schema(
    crawl: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of one record each, and the first one fails `decode`: the batch left empty must
    still have decode's columns, or the file's schema (taken from the first batch) would not
    fit the batches after it."""
    import pipeline.steps.decode as decode_module

    real_decode = decode_module.decode
    with gzip.open(crawl / "mirror.jsonl.gz", "rt", encoding="utf-8") as fh:
        victim = json.loads(fh.readline())["text"][:40]

    def fragile_decode(batch):
        if any(t and t.startswith(victim) for t in batch.column("text").to_pylist()):
            raise ValueError("a pathological record")
        return real_decode(batch)

    monkeypatch.setattr(decode_module, "decode", fragile_decode)
    result = _run(crawl, tmp_path / "out", 1)
    led = ledger.read(tmp_path / "out" / "ledger")
    assert led.num_rows == result.stats[0]["input_records"] == 51
    bad = led.filter(pc.equal(led["decision"], "quarantined")).to_pylist()
    assert [(r["stage"], r["reason"]) for r in bad] == [("decode", "step_error:decode:ValueError")]
    assert ledger.decision_counts(led)["kept"] >= 25
