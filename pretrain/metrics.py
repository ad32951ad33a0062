"""Rank 0's training log: one line per log step on stdout, every record in metrics.jsonl, and
TensorBoard scalars when `tensorboard` is installed.

The JSONL file is always written (append-only, one JSON object per line, flushed per record) so
runs stay inspectable and testable without TensorBoard; `tensorboard --logdir OUT/tb` shows the
same scalars when the package is present.  Other ranks get a logger that does nothing.

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
            local = out
            local.mkdir(parents=True, exist_ok=True)
        else:
            self._remote = out
            local = self._stage = Path(tempfile.mkdtemp(prefix="yuliao-metrics-"))
            if self.path.is_file():  # a resumed run appends to what was stored
                self.path.fs.get_file(self.path.path, str(local / METRICS_FILE))
        self._file = (local / METRICS_FILE).open("a", encoding="utf-8")
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard not installed: JSONL only
            return
        self._tb = SummaryWriter(log_dir=str(local / "tb"))

    @property
    def tensorboard(self) -> bool:
        return self._tb is not None

    def write(self, step: int, kind: str, values: dict[str, Any], line: str | None = None) -> None:
        if not self.enabled:
            return
        if line is not None:
            print(line, flush=True)
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


def read_metrics(path: str | os.PathLike[str] | UPath, kind: str | None = None) -> list[dict[str, Any]]:
    """Records of metrics.jsonl (optionally of one kind: train, mix, eval), local or at a URL."""
    rows = [json.loads(line) for line in as_path(path).read_text(encoding="utf-8").splitlines() if line]
    return [r for r in rows if kind is None or r["kind"] == kind]
