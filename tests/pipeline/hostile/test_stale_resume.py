"""An input replaced in place is seen on the rerun: the job refuses to resume (naming the file)
instead of returning the old output; with --overwrite it redoes the work and the new records
are in the ledger (issue 20, item 5)."""

import json
import os
from pathlib import Path

import pytest

from pipeline.config import PipelineConfig, SourceConfig
from pipeline.core.atomic import done_marker
from pipeline.records import ledger
from pipeline.run import OutputConflict, run_pipeline


def _write(path: Path, word: str) -> None:
    docs = [f"{word} document number {i}: " + " ".join(f"{word}{k}" for k in range(60)) for i in range(4)]
    path.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs), encoding="utf-8")


def _first_run(tmp_path: Path) -> tuple[Path, list[SourceConfig], Path]:
    data = tmp_path / "docs.jsonl"
    _write(data, "alpha")
    source = [SourceConfig(name="s", paths=[str(data)], weight=1.0)]
    out = tmp_path / "out"
    run_pipeline(source, PipelineConfig(), out, client=None, base_dir=tmp_path)
    return data, source, out


def test_replaced_input_refuses_resume_then_overwrite_reads_the_new_records(tmp_path: Path) -> None:
    data, source, out = _first_run(tmp_path)
    before = ledger.read(out / "ledger")["id"].to_pylist()

    stat = data.stat()
    _write(data, "gamma")  # same size, same mtime: only the content differs
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert data.stat().st_size == stat.st_size
    with pytest.raises(OutputConflict, match="docs.jsonl"):
        run_pipeline(source, PipelineConfig(), out, client=None, base_dir=tmp_path)

    run_pipeline(source, PipelineConfig(), out, client=None, base_dir=tmp_path, overwrite=True)
    after = ledger.read(out / "ledger")
    assert after.num_rows == 4 and not set(after["id"].to_pylist()) & set(before)  # the new records


def test_unchanged_input_resumes(tmp_path: Path) -> None:
    _, source, out = _first_run(tmp_path)
    marker = done_marker(out / "_work" / "stage1" / "part-00000.arrow")
    first = marker.stat().st_mtime_ns
    run_pipeline(source, PipelineConfig(), out, client=None, base_dir=tmp_path)
    assert marker.stat().st_mtime_ns == first  # the finished partition was not redone
