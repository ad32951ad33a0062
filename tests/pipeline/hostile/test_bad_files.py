"""One bad file never stops the job: a corrupt Parquet file, a symlink loop and a directory
named like a data file each become one quarantined ledger row naming the file, the job goes
on and warns by name; `strict` turns those warnings into a failure (issue 20, item 7)."""

import gzip
import json
import os
from pathlib import Path

import pyarrow.compute as pc
import pytest

from pipeline.config import PipelineConfig, SourceConfig
from pipeline.records import ledger
from pipeline.records.ids import make_id
from pipeline.run import StrictFailure, run_pipeline

SAMPLE = Path(__file__).resolve().parents[3] / "pipeline" / "sample_data"


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    with gzip.open(SAMPLE / "mirror.jsonl.gz", "rt", encoding="utf-8") as fh:
        good = [json.loads(line)["text"] for line in fh][:5]
    (d / "good.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in good), encoding="utf-8")
    (d / "corrupt.parquet").write_bytes(b"PAR1" + os.urandom(300) + b"PAR1")  # no valid footer
    (d / "folder.jsonl").mkdir()  # a directory named like a data file
    (d / "folder.jsonl" / "inside.txt").write_text("not a JSONL file")
    os.symlink(d / "loop-b.jsonl", d / "loop-a.jsonl")  # a symlink loop
    os.symlink(d / "loop-a.jsonl", d / "loop-b.jsonl")
    return d


def _sources() -> list[SourceConfig]:
    return [
        # a glob skips directories, so the folder is named as a path of its own
        SourceConfig(name="j", paths=["in/*.jsonl", "in/folder.jsonl"], weight=1.0),
        SourceConfig(name="p", paths=["in/*.parquet"], weight=1.0),
    ]


BAD = ("corrupt.parquet", "folder.jsonl", "loop-a.jsonl", "loop-b.jsonl")


def test_bad_files_are_one_quarantined_row_each_and_the_job_goes_on(
    inputs: Path, tmp_path: Path, unchanged
) -> None:
    unchanged(inputs)
    out = tmp_path / "out"
    result = run_pipeline(_sources(), PipelineConfig(), out, client=None, base_dir=tmp_path)
    led = ledger.read(out / "ledger")
    assert led.num_rows == sum(s["input_records"] for s in result.stats) == 5 + len(BAD)
    assert ledger.decision_counts(led)["kept"] >= 3  # the good file's real documents
    bad = led.filter(pc.equal(led["decision"], "quarantined")).to_pylist()
    assert len(bad) == len(BAD)
    assert all(r["reason"].startswith("read_error:") for r in bad)
    # one row per file, named by its place (the Parquet reader itself finds the bad footer)
    expected = {make_id("j", f"in/{n}:0", "unreadable") for n in BAD if n.endswith(".jsonl")}
    expected.add(make_id("p", "in/corrupt.parquet:0", "truncated"))
    assert {r["id"] for r in bad} == expected
    for name in BAD:  # each warning names its file
        assert any(name in w for w in result.warnings), name


def test_strict_fails_on_the_warnings(inputs: Path, tmp_path: Path) -> None:
    with pytest.raises(StrictFailure, match="corrupt.parquet|folder.jsonl|loop-"):
        run_pipeline(
            _sources(), PipelineConfig(), tmp_path / "out", client=None, base_dir=tmp_path, strict=True
        )
