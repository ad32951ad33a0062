"""Resumable training state in one file, written atomically and read back without unpickling code.

Everything saved is a tensor or a plain container of numbers/strings, so `torch.load(...,
weights_only=True)` can read it: no arbitrary objects are ever unpickled.  The file holds the
step (the LR schedule is a pure function of it), full unsharded model and optimizer state dicts
keyed by parameter name, the data stream's {seed, consumed}, the losses so far and every rank's
RNG states.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pipeline.core.atomic import atomic_path

STATE_FILE = "state.pt"
FORMAT = 2  # 2: optimizer state keyed by parameter name (torch.distributed.checkpoint.state_dict)


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


def load_checkpoint(out_dir: Path) -> dict[str, Any] | None:
    """The checkpoint on the CPU (loading into the model moves it), or None when there is none."""
    path = checkpoint_file(out_dir)
    if not path.exists():
        return None
    state = torch.load(path, map_location="cpu", weights_only=True)
    if state.get("format") != FORMAT:
        raise ValueError(
            f"{path}: checkpoint format {state.get('format', 1)}, this trainer reads format {FORMAT}; "
            "delete the checkpoint directory to start the run afresh"
        )
    return state
