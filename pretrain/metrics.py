"""Rank 0's training log: one line per log step on stdout, every record in metrics.jsonl, and
TensorBoard scalars when `tensorboard` is installed.

The JSONL file is always written (append-only, one JSON object per line, flushed per record) so
runs stay inspectable and testable without TensorBoard; `tensorboard --logdir OUT/tb` shows the
same scalars when the package is present.  Other ranks get a logger that does nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class MetricsLog:
    """Writes records of {tag: number} at a step to stdout (optional), JSONL and TensorBoard."""

    def __init__(self, out_dir: Path, enabled: bool) -> None:
        self.enabled = enabled
        self._file = None
        self._tb = None
        if not enabled:
            return
        out_dir.mkdir(parents=True, exist_ok=True)
        self.path = out_dir / "metrics.jsonl"
        self._file = self.path.open("a", encoding="utf-8")
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # tensorboard not installed: JSONL only
            return
        self._tb = SummaryWriter(log_dir=str(out_dir / "tb"))

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

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._tb is not None:
            self._tb.close()


def read_metrics(path: Path, kind: str | None = None) -> list[dict[str, Any]]:
    """Records of metrics.jsonl (optionally of one kind: train, mix, eval)."""
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line]
    return [r for r in rows if kind is None or r["kind"] == kind]
