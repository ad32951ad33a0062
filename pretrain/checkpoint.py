"""Resumable training state in one file, written atomically and read back without unpickling code.

Everything saved is a tensor or a plain container of numbers/strings, so `torch.load(...,
weights_only=True)` can read it: no arbitrary objects are ever unpickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pipeline.io.atomic import atomic_path

STATE_FILE = "state.pt"


def checkpoint_file(out_dir: Path) -> Path:
    return Path(out_dir) / "checkpoint" / STATE_FILE


def rng_state() -> dict[str, Any]:
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def save_checkpoint(out_dir: Path, state: dict[str, Any]) -> None:
    """Temp file + os.replace: a crash leaves the previous checkpoint intact."""
    with atomic_path(checkpoint_file(out_dir)) as tmp:
        torch.save(state, tmp)


def load_checkpoint(out_dir: Path, device: torch.device) -> dict[str, Any] | None:
    path = checkpoint_file(out_dir)
    if not path.exists():
        return None
    return torch.load(path, map_location=device, weights_only=True)
