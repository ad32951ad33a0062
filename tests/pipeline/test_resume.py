"""kill -9 the pipeline job midway, run it again: it finishes and matches an uninterrupted run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from pipeline.core.atomic import done_marker

SAMPLE = Path(__file__).resolve().parents[2] / "pipeline" / "sample_data"


def _manifest(tmp_path: Path) -> Path:
    data = {
        "sources": [
            {"name": "poems", "paths": [str(SAMPLE / "poems.warc.gz")], "weight": 0.2},
            {
                "name": "web",
                "paths": [str(SAMPLE / "web-zh.warc.gz"), str(SAMPLE / "mirror.jsonl.gz")],
                "weight": 0.8,
            },
        ],
        "pipeline": {"shard_rows": 64},
    }
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _run(manifest: Path, dataset: Path) -> subprocess.Popen:
    """`pipeline run` into the run folder whose dataset/ is `dataset`."""
    cmd = [sys.executable, "-m", "pipeline.cli.main", "pipeline", "run", str(manifest)]
    cmd += ["--output", str(dataset.parent)]
    cmd += ["--scheduler", "inline"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _outputs(out: Path) -> dict[str, bytes]:
    files = [
        *sorted((out / "data").glob("*.arrow")),
        *sorted((out / "ledger").glob("*.parquet")),
        out / "manifest.json",
        out / "README.md",
    ]
    return {str(p.relative_to(out)): p.read_bytes() for p in files}


def test_kill_9_midway_then_rerun_is_byte_identical(tmp_path):
    manifest = _manifest(tmp_path)
    reference = tmp_path / "reference" / "dataset"
    assert _run(manifest, reference).wait(timeout=300) == 0

    out = tmp_path / "killed" / "dataset"
    proc = _run(manifest, out)
    first_done = done_marker(out / "_work" / "stage1" / "part-00000.arrow")
    deadline = time.time() + 120
    while not first_done.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert first_done.exists(), "the first partition never finished"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "manifest.json").exists(), "killed too late to test resume"

    assert _run(manifest, out).wait(timeout=300) == 0
    assert _outputs(out) == _outputs(reference)
