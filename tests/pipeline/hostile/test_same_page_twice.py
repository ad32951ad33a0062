"""The same page in two files (or twice in one file split into byte ranges) is two records:
the later copy is an exact `duplicate` of the first, never a ledger error (issue 20, item 1)."""

import shutil
from pathlib import Path

import pyarrow.compute as pc
import pytest

from pipeline.config import ExtractConfig, PipelineConfig, ReadConfig, SourceConfig
from pipeline.records import ledger
from pipeline.run import run_pipeline

SAMPLE = Path(__file__).resolve().parents[3] / "pipeline" / "sample_data"
WARCS = sorted(p.name for p in SAMPLE.glob("*.warc.gz"))
# resiliparse: the sample's 2.5 MB contents page takes ~20 s in trafilatura; ids and dedup do
# not depend on the extractor.
CFG = PipelineConfig(shard_rows=200, extract=ExtractConfig(extractor="resiliparse"))


def _outputs(out: Path) -> dict[str, bytes]:
    files = [
        *sorted((out / "data").glob("*.arrow")),
        *sorted((out / "ledger").glob("*.parquet")),
        out / "manifest.json",
    ]
    return {str(p.relative_to(out)): p.read_bytes() for p in files}


@pytest.fixture(scope="module")
def twice(tmp_path_factory) -> tuple[Path, Path]:
    """Every sample WARC in two folders of one source (as Common Crawl segments repeat pages)."""
    root = tmp_path_factory.mktemp("crawl")
    for segment in ("seg-a", "seg-b"):
        (root / segment).mkdir()
        for name in WARCS:
            shutil.copy(SAMPLE / name, root / segment / name)
    return root, root / "out"


def _run(root: Path, out: Path):
    source = SourceConfig(name="web", paths=["seg-a/*.warc.gz", "seg-b/*.warc.gz"], weight=1.0)
    return run_pipeline([source], CFG, out, client=None, base_dir=root)


def test_two_copies_of_every_warc_complete_with_second_copies_duplicate(twice, unchanged) -> None:
    root, out = twice
    unchanged(root, out)
    result = _run(root, out)
    led = ledger.read(out / "ledger")
    records = sum(s["input_records"] for s in result.stats)
    assert led.num_rows == records == result.manifest["ledger"]["rows"]
    assert pc.count_distinct(led["id"]).as_py() == led.num_rows

    # Pair every record of seg-b with its twin in seg-a through the stage-1 stats' order: the
    # partitions of seg-a come first, so each seg-a copy is kept or dropped on its own merits
    # and no seg-b copy is kept.
    by_input = {s["input"]: s["input_records"] for s in result.stats}
    for name in WARCS:
        assert by_input[str(root / "seg-a" / name)] == by_input[str(root / "seg-b" / name)]
    kept = led.filter(pc.equal(led["decision"], "kept"))
    assert kept.num_rows > 300
    kept_ids = set(kept["id"].to_pylist())
    dups = led.filter(pc.equal(led["decision"], "duplicate")).to_pylist()
    assert len(dups) >= kept.num_rows  # at least every kept page's second copy
    assert all(d["duplicate_of"] in kept_ids for d in dups)
    assert {d["reason"] for d in dups} <= {"exact", "near"}
    stats1 = {s["input"]: s for s in result.stats}
    survivors_b = sum(stats1[str(root / "seg-b" / n)]["survivors"] for n in WARCS)
    survivors_a = sum(stats1[str(root / "seg-a" / n)]["survivors"] for n in WARCS)
    assert survivors_a == survivors_b > 0  # the copies took the same path through the filters...
    assert kept.num_rows <= survivors_a  # ...and only the first copies (at most) are kept


def test_rerun_into_a_fresh_folder_is_byte_identical(twice) -> None:
    root, out = twice
    if not (out / "manifest.json").exists():
        _run(root, out)
    again = root / "again"
    _run(root, again)
    assert _outputs(again) == _outputs(out)


def test_one_file_with_a_page_twice_split_at_the_copy(tmp_path: Path) -> None:
    """A file holding a page twice, cut into byte ranges so that each copy is in another range."""
    data = (SAMPLE / "poems.warc.gz").read_bytes()
    path = tmp_path / "twice.warc.gz"
    path.write_bytes(data + data)  # one gzip member per record: the second half repeats the first
    cfg = PipelineConfig(shard_rows=200, read=ReadConfig(split_bytes=len(data) // 3))
    source = SourceConfig(name="poems", paths=[str(path)], weight=1.0)
    result = run_pipeline([source], cfg, tmp_path / "out", client=None, base_dir=tmp_path)
    assert len(result.stats) > 3  # several byte ranges of one file
    led = ledger.read(tmp_path / "out" / "ledger")
    assert led.num_rows == sum(s["input_records"] for s in result.stats)
    assert pc.count_distinct(led["id"]).as_py() == led.num_rows
    counts = ledger.decision_counts(led)
    assert counts["duplicate"] >= counts["kept"] > 0  # each surviving page's second copy
