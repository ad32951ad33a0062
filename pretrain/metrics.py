"""Rank 0's training log: one line per log step on stdout, every record in metrics.jsonl, and
TensorBoard scalars when `tensorboard` is installed.

The JSONL file is always written (append-only, one JSON object per line, flushed per record) so
runs stay inspectable and testable without TensorBoard; `tensorboard --logdir OUT/tb` shows the
same scalars when the package is present.  Other ranks get a logger that does nothing.

A log session's first record, at step s, replaces what is stored at steps >= s: a resumed run
replays every step after its checkpoint (a run without one, every step), so the records an
interrupted run wrote past that point are dropped from metrics.jsonl, and TensorBoard hides its
events from step s on (SummaryWriter's `purge_step`).  Steps are logged on a fixed schedule, so
the first step a resumed run logs is the first one after its checkpoint that anything was logged at.

When the run folder is an fsspec URL (object stores cannot append), both are written to a local
staging folder, seeded with the metrics.jsonl a resumed run left, and uploaded whole by `sync`: at
every checkpoint and at the end, so the stored log reaches as far as the stored checkpoint.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from upath import UPath

from pipeline.core.atomic import as_path, write_bytes

METRICS_FILE = "metrics.jsonl"


class MetricsLog:
    """Writes records of {tag: number} at a step to stdout (optional), JSONL and TensorBoard."""

    def __init__(self, out_dir: str | os.PathLike[str] | UPath, enabled: bool) -> None:
        self.enabled = enabled
        self._file = None
        self._tb = None
        self._remote: UPath | None = None
        self._stage: Path | None = None
        if not enabled:
            return
        out = as_path(out_dir)
        self.path = out / METRICS_FILE
        if isinstance(out, Path):
            self._local = out
            out.mkdir(parents=True, exist_ok=True)
        else:
            self._remote = out
            self._local = self._stage = Path(tempfile.mkdtemp(prefix="yuliao-metrics-"))
            if self.path.is_file():  # a resumed run continues what was stored
                self.path.fs.get_file(self.path.path, str(self._local / METRICS_FILE))
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard not installed: JSONL only
            SummaryWriter = None  # noqa: N806
        self._writer = SummaryWriter

    @property
    def tensorboard(self) -> bool:
        return self.enabled and self._writer is not None

    def _start(self, step: int) -> None:
        """Open the log at this session's first step, dropping the stored records it replays."""
        local = self._local / METRICS_FILE
        if local.is_file():
            lines = local.read_text(encoding="utf-8").splitlines(keepends=True)
            kept = [line for line in lines if _step_of(line) < step]
            if len(kept) < len(lines):
                write_bytes(local, "".join(kept).encode())
        self._file = local.open("a", encoding="utf-8")
        if self._writer is not None:
            self._tb = self._writer(log_dir=str(self._local / "tb"), purge_step=step)

    def write(self, step: int, kind: str, values: dict[str, Any], line: str | None = None) -> None:
        if not self.enabled:
            return
        if line is not None:
            print(line, flush=True)
        if self._file is None:
            self._start(step)
        assert self._file is not None
        self._file.write(json.dumps({"step": step, "kind": kind, **values}, sort_keys=True) + "\n")
        self._file.flush()
        if self._tb is not None:
            for tag, v in values.items():
                if isinstance(v, (int, float)) and v is not None:
                    self._tb.add_scalar(f"{kind}/{tag}", v, step)
            self._tb.flush()

    def sync(self) -> None:
        """Upload the staged log files (a remote run folder only); each file is small and written whole."""
        if self._remote is None or self._stage is None:
            return
        for path in sorted(self._stage.rglob("*")):
            if path.is_file():
                write_bytes(self._remote.joinpath(*path.relative_to(self._stage).parts), path.read_bytes())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._tb is not None:
            self._tb.close()
        self.sync()
        if self._stage is not None:
            shutil.rmtree(self._stage, ignore_errors=True)
            self._stage = None


def _step_of(line: str) -> float:
    """A stored record's step; a line a kill cut short counts as past every step, so it is dropped."""
    try:
        return int(json.loads(line)["step"]) if line.endswith("\n") else float("inf")
    except (ValueError, KeyError, TypeError):
        return float("inf")


def read_metrics(path: str | os.PathLike[str] | UPath, kind: str | None = None) -> list[dict[str, Any]]:
    """Records of metrics.jsonl (optionally of one kind: train, mix, eval), local or at a URL."""
    rows = [json.loads(line) for line in as_path(path).read_text(encoding="utf-8").splitlines() if line]
    return [r for r in rows if kind is None or r["kind"] == kind]
