"""kill -9 the dedup command midway, run it again: the result equals an uninterrupted run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipeline.config import DedupConfig
from pipeline.core.atomic import done_marker
from pipeline.dedup.standalone import dedup_files
from tests.pipeline.test_dedup_data import distinct_texts, near_copy, write_docs

PARTITION_BYTES = 100_000
REPO = Path(__file__).resolve().parents[2]


def _docs() -> list[dict]:
    docs = []
    for i, text in enumerate(distinct_texts()):
        docs.append({"id": f"d{i}", "text": text})
        docs += [{"id": f"d{i}-near{k}", "text": near_copy(text, k)} for k in range(3)]
        docs.append({"id": f"d{i}-copy", "text": text + "\n"})
    return docs


def _start(path: Path, out: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "pipeline.cli.main", "pipeline", "dedup", "--input", str(path)]
    cmd += ["--output", str(out), "--partition-bytes", str(PARTITION_BYTES)]
    return subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def _kill_when(proc: subprocess.Popen, out: Path, pattern: str) -> None:
    deadline = time.time() + 120
    while not list(out.glob(pattern)) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert list(out.glob(pattern)), f"never reached {pattern}"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "summary.json").exists(), "killed too late to test resume"


def _outputs(out: Path) -> dict[str, bytes]:
    files = [
        *out.glob("data/*.arrow"),
        *out.glob("ledger/*.parquet"),
        out / "kept_ids.txt",
        out / "summary.json",
    ]
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(files)}


def test_kill_9_midway_then_rerun_gives_the_same_result(tmp_path):
    path = write_docs(tmp_path / "docs.jsonl", _docs())
    reference = tmp_path / "reference"
    summary = dedup_files([path], reference, "id", "text", DedupConfig(), partition_bytes=PARTITION_BYTES)
    assert summary["kept"] == len(distinct_texts()) and summary["duplicates_exact"] == len(distinct_texts())

    out = tmp_path / "killed"
    bucket_done = str(done_marker("_work/dedup/bucket/*"))
    _kill_when(_start(path, out), out, bucket_done)  # in the middle of the dedup rounds
    assert not done_marker(out / "_work" / "dedup" / "decided").exists()
    assert _start(path, out).wait(timeout=300) == 0
    assert _outputs(out) == _outputs(reference)
