"""Resumable training state in one file, written atomically and read back without unpickling code.

Everything saved is a tensor or a plain container of numbers/strings, so `torch.load(...,
weights_only=True)` can read it: no arbitrary objects are ever unpickled.  The file holds the
step (the LR schedule is a pure function of it), full unsharded model and optimizer state dicts
keyed by parameter name, the data stream's {seed, consumed}, the losses so far and every rank's
RNG states.

The run folder may be an fsspec URL (`s3://bucket/run/models/NAME`): the state is then saved to a
local temp file (under $TMPDIR) and uploaded as one object, which appears only whole, and loaded
from a downloaded copy.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from upath import UPath

from pipeline.core.atomic import AnyPath, as_path, atomic_path, atomic_sink

STATE_FILE = "state.pt"
FORMAT = 2  # 2: optimizer state keyed by parameter name (torch.distributed.checkpoint.state_dict)


def checkpoint_file(out_dir: str | os.PathLike[str] | UPath) -> AnyPath:
    return as_path(out_dir) / "checkpoint" / STATE_FILE


def rng_state() -> dict[str, Any]:
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def upload(local: Path, final: AnyPath) -> None:
    """Copy a local file to `final` through the core's atomic sink, streamed (a multipart upload on an
    object store, aborted if the copy fails), so a checkpoint or model file is never held in memory."""
    with local.open("rb") as src, atomic_sink(final) as sink:
        shutil.copyfileobj(src, sink, 8 << 20)


def save_checkpoint(out_dir: str | os.PathLike[str] | UPath, state: dict[str, Any]) -> None:
    """A crash at any point leaves the previous checkpoint intact: a local temp file renamed into
    place, or an upload that replaces the object only when complete."""
    final = checkpoint_file(out_dir)
    if isinstance(final, Path):
        with atomic_path(final) as tmp:
            torch.save(state, tmp)
        return
    with tempfile.TemporaryDirectory(prefix="yuliao-checkpoint-") as tmp:
        local = Path(tmp, STATE_FILE)
        torch.save(state, local)
        upload(local, final)


def load_checkpoint(out_dir: str | os.PathLike[str] | UPath) -> dict[str, Any] | None:
    """The checkpoint on the CPU (loading into the model moves it), or None when there is none."""
    path = checkpoint_file(out_dir)
    if not path.exists():
        return None
    if isinstance(path, Path):
        state = torch.load(path, map_location="cpu", weights_only=True)
    else:
        with tempfile.TemporaryDirectory(prefix="yuliao-checkpoint-") as tmp:
            local = Path(tmp, STATE_FILE)
            path.fs.get_file(path.path, str(local))
            state = torch.load(local, map_location="cpu", weights_only=True)
    if state.get("format") != FORMAT:
        raise ValueError(
            f"{path}: checkpoint format {state.get('format', 1)}, this trainer reads format {FORMAT}; "
            "delete the checkpoint directory to start the run afresh"
        )
    return state
