"""The driver holds no per-record state (issue 22): it checks the ledger and builds the manifest
and the report from the summaries each partition's stage 3 writes, never from the ledger or the
documents themselves."""

import gzip
import json
import shutil
from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.dataset
import pytest

import pipeline.run as run_mod
from pipeline.config import PipelineConfig, QualityConfig, ReadConfig, SourceConfig
from pipeline.core.atomic import read_arrow
from pipeline.core.layout import run_layout
from pipeline.io.splits import Split
from pipeline.partition import Partition
from pipeline.records import ledger
from pipeline.records.ledger import LedgerImbalance
from pipeline.report.collect import collect, read_summary, summary_path
from pipeline.run import run_pipeline

SAMPLE = Path(__file__).resolve().parents[2] / "pipeline" / "sample_data"
# Small byte ranges: mirror.jsonl is read as several partitions of one file.
CFG = PipelineConfig(shard_rows=10, read=ReadConfig(split_bytes=40_000), quality=QualityConfig(mode="score"))


@pytest.fixture(scope="module")
def crawl(tmp_path_factory) -> Path:
    """The sample's JSONL pages, plus an empty page (filtered) and a broken line (quarantined)."""
    root = tmp_path_factory.mktemp("crawl")
    lines = gzip.decompress((SAMPLE / "mirror.jsonl.gz").read_bytes()).decode().splitlines()
    extra = [json.dumps({"text": "  "}), '{"text": "unterminated']
    (root / "mirror.jsonl").write_text("\n".join(lines[:30] + extra + lines[30:]) + "\n")
    return root


def _run(crawl: Path, out: Path):
    source = SourceConfig(name="mirror", paths=["mirror.jsonl"], weight=1.0)
    return run_pipeline([source], CFG, out, client=None, base_dir=crawl)


def _refuse(*args, **kwargs):
    raise AssertionError("the driver read the ledger")


def test_driver_checks_and_reports_without_reading_the_ledger_or_the_documents(crawl, tmp_path, monkeypatch):
    layout = run_layout(tmp_path / "run")
    out, hidden = layout.dataset, tmp_path / "hidden"
    real_map = run_mod.map_tasks

    def map_then_hide(client, fn, items, desc, **kwargs):
        results = real_map(client, fn, items, desc, **kwargs)
        if fn is run_mod.run_stage3:  # from here on only the driver runs: take its inputs away
            hidden.mkdir()
            for name in ("ledger", "data"):
                shutil.move(out / name, hidden / name)
            monkeypatch.setattr(ledger, "read", _refuse)
            monkeypatch.setattr(ledger, "read_file", _refuse)
            monkeypatch.setattr(pyarrow.dataset, "dataset", _refuse)
        return results

    monkeypatch.setattr(run_mod, "map_tasks", map_then_hide)
    result = _run(crawl, out)
    report = collect(layout)
    monkeypatch.undo()
    for name in ("ledger", "data"):
        shutil.move(hidden / name, out / name)

    assert len(result.stats) > 1, "the input should be read as several partitions"
    records = sum(s["input_records"] for s in result.stats)
    full = ledger.read(out / "ledger")
    assert result.manifest["ledger"]["rows"] == full.num_rows == records
    assert result.manifest["ledger"]["decisions"] == ledger.decision_counts(full)
    assert {d for d, n in ledger.decision_counts(full).items() if n} >= {"kept", "filtered", "quarantined"}
    # The summed summaries give what the whole ledger and the whole dataset give.
    by_stage = (
        full.group_by(["stage", "decision", "reason"])
        .aggregate([("id", "count"), ("bytes", "sum")])
        .sort_by([("stage", "ascending"), ("decision", "ascending"), ("reason", "ascending")])
    )
    assert report["by_stage"] == by_stage.to_pylist()
    assert report["ledger_rows"] == records and report["decisions"] == ledger.decision_counts(full)
    docs = [read_arrow(out / s["path"]) for s in result.manifest["shards"]]
    kept = report["kept_docs"]
    chars = Counter(n for t in docs for n in pc.utf8_length(t["text"]).to_pylist())
    assert dict(kept["chars"]["mirror"]) == chars
    assert list(kept["values"]["lang"]) == list(
        Counter(x for t in docs for x in t["lang"].to_pylist()).items()
    )
    scores = [s for t in docs for s in t["quality_score"].to_pylist()]
    assert kept["quality_score"]["scored"] == sum(kept["quality_score"]["hist"]) == len(scores) > 0


def test_a_partition_whose_ledger_disagrees_with_its_records_fails_the_job_naming_it(
    crawl, tmp_path, monkeypatch
):
    real_stage3 = run_mod.run_stage3

    def stage3_then_skew(part, work, out, cfg):
        result = real_stage3(part, work, out, cfg)
        if part.index in (0, 1):  # one row too many here, one too few there: the total still adds up
            path = summary_path(work, part.name)
            summary = read_summary(path)
            summary["ledger"]["rows"] += 1 if part.index == 0 else -1
            summary["ledger"]["distinct_ids"] = summary["ledger"]["rows"]
            path.write_text(json.dumps(summary))
        return result

    monkeypatch.setattr(run_mod, "run_stage3", stage3_then_skew)
    with pytest.raises(
        LedgerImbalance, match=r"part-00000: its ledger has (\d+) rows but \d+ records were read"
    ):
        _run(crawl, tmp_path / "out")
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_ids_twice_in_one_partition_fail_naming_it():
    part = ledger.rows(["a", "b", "b"], ["s"] * 3, stage="output", decision="kept")
    other = ledger.rows(["c"], ["s"], stage="output", decision="kept")
    summaries = {"part-00000": ledger.summary(other), "part-00001": ledger.summary(part)}
    with pytest.raises(LedgerImbalance, match="part-00001: its ledger has 1 records with more than one"):
        ledger.check_partitions(summaries, {"part-00000": 1, "part-00001": 3})


def test_partitions_of_one_input_must_not_overlap():
    def part(i: int, start: int, end: int | None) -> Partition:
        return Partition(i, "web", "/crawl/a.jsonl", "jsonl", "text", Split("bytes", start, end))

    run_mod._check_disjoint([part(0, 0, 100), part(1, 100, 200), part(2, 200, None)])
    with pytest.raises(ValueError, match="part-00001 and part-00002 overlap"):
        run_mod._check_disjoint([part(0, 0, 100), part(1, 100, 200), part(2, 150, None)])


def test_a_run_finished_without_summaries_resumes_to_the_same_manifest(crawl, tmp_path):
    out = tmp_path / "out"
    _run(crawl, out)
    manifest = (out / "manifest.json").read_bytes()
    summaries = {p.name: p.read_bytes() for p in (out / "_work" / "summaries").glob("*.json")}
    shutil.rmtree(out / "_work" / "summaries")  # as a version that wrote none left it
    (out / "manifest.json").unlink()
    _run(crawl, out)
    assert (out / "manifest.json").read_bytes() == manifest
    assert {p.name: p.read_bytes() for p in (out / "_work" / "summaries").glob("*.json")} == summaries
