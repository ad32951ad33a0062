"""End to end over the bundled sample: ledger balance, determinism, resume, damaged input."""

import json
from pathlib import Path

import pyarrow.compute as pc
import pytest

from pipeline.config import PipelineConfig, SourceConfig
from pipeline.core.atomic import done_marker, read_arrow, sha256_file
from pipeline.records import ledger
from pipeline.run import OutputConflict, run_pipeline

SAMPLE = Path(__file__).resolve().parents[2] / "pipeline" / "sample_data"
CFG = PipelineConfig(shard_rows=100)


def _sources() -> list[SourceConfig]:
    return [
        SourceConfig(
            name="web", paths=[str(SAMPLE / "web-zh.warc.gz"), str(SAMPLE / "mirror.jsonl.gz")], weight=0.7
        ),
        SourceConfig(name="poems", paths=[str(SAMPLE / "poems.warc.gz")], weight=0.3),
    ]


def _tree_bytes(out: Path) -> dict[str, bytes]:
    files = [
        *sorted((out / "data").glob("*.arrow")),
        *sorted((out / "ledger").glob("*.parquet")),
        out / "manifest.json",
    ]
    return {str(p.relative_to(out)): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    run_pipeline(_sources(), CFG, out, client=None, base_dir=SAMPLE)
    return out


def test_ledger_balances_and_decisions_make_sense(run_dir):
    manifest = json.loads((run_dir / "manifest.json").read_text())
    led = ledger.read(run_dir / "ledger")
    stats = [json.loads(p.read_text()) for p in (run_dir / "_work" / "stage1").glob("*.stats.json")]
    records = sum(s["input_records"] for s in stats)
    assert records == 135 + 51 + 300  # web-zh + mirror + poems records in the sample
    assert led.num_rows == records == manifest["ledger"]["rows"]
    counts = ledger.decision_counts(led)
    assert counts["kept"] == manifest["rows"] > 300
    assert sum(counts.values()) == records
    # the sample repeats pages and poems: dedup must find some, each pointing at a kept id
    dups = led.filter(pc.equal(led["decision"], "duplicate")).to_pylist()
    assert dups, "expected duplicates in the sample"
    kept_ids = set(led.filter(pc.equal(led["decision"], "kept"))["id"].to_pylist())
    assert all(d["duplicate_of"] in kept_ids for d in dups)
    assert {d["reason"] for d in dups} <= {"exact", "near"}
    filtered = led.filter(pc.equal(led["decision"], "filtered")).to_pylist()
    assert all(r["reason"] for r in filtered)


def test_shards_match_manifest_and_contract(run_dir):
    manifest = json.loads((run_dir / "manifest.json").read_text())
    total = 0
    for shard in manifest["shards"]:
        path = run_dir / shard["path"]
        assert sha256_file(path) == shard["sha256"]
        t = read_arrow(path)
        assert t.num_rows == shard["rows"] <= CFG.shard_rows
        assert {"id", "text", "source", "url", "lang"} <= set(t.column_names)
        assert "minhash" not in t.column_names
        total += t.num_rows
    assert total == manifest["rows"]
    docs = [r for s in manifest["shards"] for r in read_arrow(run_dir / s["path"]).to_pylist()]
    gb = [d for d in docs if (d["charset"] or "").lower() in ("gb18030", "gbk", "gb2312")]
    assert len(gb) > 20  # GIMP pages, many of them near copies of each other
    assert not any("\ufffd" in d["text"] for d in gb), "GBK/GB18030 pages must decode cleanly"
    langs = {d["lang"] for d in docs}
    assert "zh" in langs


def test_dataset_loads_with_hf_datasets(run_dir):
    from datasets import load_dataset

    manifest = json.loads((run_dir / "manifest.json").read_text())
    files = [str(run_dir / s["path"]) for s in manifest["shards"]]
    ds = load_dataset("arrow", data_files=files, split="train", cache_dir=str(run_dir.parent / "hf-cache"))
    assert len(ds) == manifest["rows"]
    assert isinstance(ds[0]["text"], str)


def test_rerun_is_byte_identical_and_resume_skips_done(run_dir, tmp_path):
    again = tmp_path / "again"
    run_pipeline(_sources(), CFG, again, client=None, base_dir=SAMPLE)
    assert _tree_bytes(again) == _tree_bytes(run_dir)

    # simulate a job killed midway: some partitions unfinished, no manifest yet; rerun
    done_marker(again / "ledger" / "part-00002.parquet").unlink()
    (again / "manifest.json").unlink()
    (again / "_work" / "stage1" / "part-00000.arrow").unlink()
    done_marker(again / "_work" / "stage1" / "part-00000.arrow").unlink()
    run_pipeline(_sources(), CFG, again, client=None, base_dir=SAMPLE)
    assert _tree_bytes(again) == _tree_bytes(run_dir)


def test_changed_config_refuses_to_mix_outputs(run_dir):
    other = PipelineConfig(shard_rows=50)
    with pytest.raises(OutputConflict, match="--overwrite"):
        run_pipeline(_sources(), other, run_dir, client=None, base_dir=SAMPLE)


def test_truncated_warc_is_quarantined_and_job_completes(tmp_path, capsys):
    raw = (SAMPLE / "poems.warc.gz").read_bytes()
    damaged = tmp_path / "poems-truncated.warc.gz"
    damaged.write_bytes(raw[: int(len(raw) * 0.6)])
    sources = [SourceConfig(name="poems", paths=[str(damaged)], weight=1.0)]
    out = tmp_path / "out"
    result = run_pipeline(sources, CFG, out, client=None, base_dir=tmp_path)
    assert any("poems-truncated.warc.gz" in w for w in result.warnings)
    assert "poems-truncated.warc.gz" in capsys.readouterr().out
    led = ledger.read(out / "ledger")
    quarantined = led.filter(pc.equal(led["decision"], "quarantined")).to_pylist()
    assert len(quarantined) == 1 and quarantined[0]["reason"].startswith("read_error")
    readable = led.num_rows - 1
    assert 100 < readable < 300  # the readable part of the file was processed
    assert result.manifest["ledger"]["rows"] == led.num_rows


def test_dask_scheduler_address_gives_the_same_result(run_dir, tmp_path):
    """--scheduler ADDRESS: an existing Dask cluster (here a 2-worker LocalCluster) runs the job."""
    from distributed import LocalCluster

    from pipeline.core.executor import open_client

    out = tmp_path / "dask"
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster,
        open_client(cluster.scheduler_address) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        run_pipeline(_sources(), CFG, out, client=client, base_dir=SAMPLE)
    assert _tree_bytes(out) == _tree_bytes(run_dir)


def test_cluster_size_accounts_for_every_duplicate(run_dir):
    led = ledger.read(run_dir / "ledger")
    duplicates = pc.sum(pc.equal(led["decision"], "duplicate")).as_py()
    assert duplicates > 0
    sizes = [
        s
        for p in sorted((run_dir / "data").glob("*.arrow"))
        for s in read_arrow(p).column("cluster_size").to_pylist()
    ]
    kept = len(sizes)
    assert min(sizes) >= 1 and sum(sizes) == kept + duplicates  # each duplicate stands behind one kept doc


def test_line_dedup_strips_site_wide_lines(tmp_path):
    from pipeline.config import DedupConfig
    from pipeline.config.dedup import LineDedupConfig

    cfg = PipelineConfig(shard_rows=100, dedup=DedupConfig(lines=LineDedupConfig(enabled=True, min_count=5)))
    out = tmp_path / "out"
    result = run_pipeline(_sources(), cfg, out, client=None, base_dir=SAMPLE)
    tables = [read_arrow(p) for p in sorted((out / "data").glob("*.arrow"))]
    removed = sum(sum(t.column("lines_removed").to_pylist()) for t in tables)
    assert removed > 0
    led = ledger.read(out / "ledger")
    assert led.num_rows == result.manifest["ledger"]["rows"]
    kept_texts = [x for t in tables for x in t.column("text").to_pylist()]
    assert all(x.strip() for x in kept_texts)  # documents emptied by stripping are filtered, not kept
