"""A job writes only what it owns (issue 20, item 8): a folder holding someone else's files is
refused before any work; output = input folder is refused; --overwrite removes only what
Yuliao wrote; `pipeline dedup` and `tokenizer encode` follow the same rule; a lock keeps two
jobs off one folder."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.config import DedupConfig, PipelineConfig, SourceConfig
from pipeline.core.ownership import STATE_DIR, OutputLocked, OutputRefused, claim_output
from pipeline.dedup.standalone import dedup_files
from pipeline.run import run_pipeline


def _docs(path: Path, n: int = 3) -> Path:
    docs = [
        {"id": f"d{i}", "text": f"document {i} " + " ".join(f"w{i}x{k}" for k in range(50))} for i in range(n)
    ]
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    return path


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


def _run(data: Path, out: Path, **kw):
    source = [SourceConfig(name="s", paths=[str(data)], weight=1.0)]
    return run_pipeline(source, PipelineConfig(), out, client=None, base_dir=data.parent, **kw)


def test_folder_with_foreign_files_is_refused_and_left_untouched(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    data = _docs(tmp_path / "in" / "d.jsonl")
    out = tmp_path / "theirs"
    (out / "report").mkdir(parents=True)
    (out / "manifest.json").write_text('{"mine": true}')
    (out / "report" / "notes.md").write_text("my notes")
    before = _snapshot(out)
    with pytest.raises(OutputRefused, match="manifest.json"):
        _run(data, out)
    assert {k: v for k, v in _snapshot(out).items() if not k.startswith(STATE_DIR)} == before


def test_overwrite_beside_foreign_files_then_removes_only_its_own(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    data = _docs(tmp_path / "in" / "d.jsonl")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("not Yuliao's")
    _run(data, out, overwrite=True)
    assert (out / "manifest.json").exists() and (out / "keep.txt").read_text() == "not Yuliao's"
    _docs(data, n=4)  # the input changes: --overwrite redoes the run, removing only its own entries
    _run(data, out, overwrite=True)
    assert (out / "keep.txt").read_text() == "not Yuliao's"
    assert json.loads((out / "manifest.json").read_text())["ledger"]["rows"] == 4


def test_output_equal_to_input_folder_is_refused(tmp_path: Path) -> None:
    data = _docs(tmp_path / "d.jsonl")
    before = _snapshot(tmp_path)
    for overwrite in (False, True):
        with pytest.raises(OutputRefused, match="inside the output"):
            _run(data, tmp_path, overwrite=overwrite)
    assert {k: v for k, v in _snapshot(tmp_path).items() if not k.startswith(STATE_DIR)} == before


def test_dedup_keeps_foreign_data_ledger_and_report(tmp_path: Path) -> None:
    data = _docs(tmp_path / "d.jsonl")
    out = tmp_path / "dd"
    for sub in ("data", "ledger", "report"):
        (out / sub).mkdir(parents=True)
        (out / sub / "theirs.txt").write_text(sub)
    before = _snapshot(out)
    with pytest.raises(OutputRefused, match="did not write"):
        dedup_files([data], out, "id", "text", DedupConfig())
    assert {k: v for k, v in _snapshot(out).items() if not k.startswith(STATE_DIR)} == before


def test_encode_refuses_a_foreign_folder(tmp_path: Path) -> None:
    from tokenization.config import TokenizerConfig
    from tokenization.encode import encode_dataset
    from tokenization.train import train_tokenizer

    texts = [f"document {i} 第{i}篇 " + " ".join(f"w{k}" for k in range(40)) for i in range(50)]
    train_tokenizer(iter(texts), TokenizerConfig(vocab_size=400, holdout_every=None), tmp_path / "tok")
    out = tmp_path / "tokens"
    out.mkdir()
    (out / "manifest.json").write_text("{}")
    dataset = tmp_path / "ds"
    dataset.mkdir()
    (dataset / "manifest.json").write_text(json.dumps({"shards": []}))
    with pytest.raises(OutputRefused, match="did not write"):
        encode_dataset(dataset, tmp_path / "tok", out)
    assert (out / "manifest.json").read_text() == "{}"


def test_second_job_fails_fast_naming_the_holder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with (
        claim_output(out, "pipeline run", "f", ["data"]),
        pytest.raises(OutputLocked, match=f"pid {os.getpid()}"),
        claim_output(out, "pipeline run", "f", ["data"]),
    ):
        pass
    # A lock left by a process that died is taken over.
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    lock = out / STATE_DIR / "lock"
    lock.write_text(
        json.dumps({"pid": int(dead.stdout), "host": os.uname().nodename, "kind": "pipeline run"})
    )
    with claim_output(out, "pipeline run", "f", ["data"]) as resumed:
        assert resumed
    assert not lock.exists()
