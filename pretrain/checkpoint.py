"""Resumable training state: sharded model + optimizer (torch.distributed.checkpoint), then the
trainer's own state in one small file that commits the checkpoint.

    checkpoint/step-00000010/   DCP: every rank writes its own shards (async: the write overlaps
                                the next training step), rank 0 the .metadata
    checkpoint/state.pt         step, losses, data position, RNG states, layout, and the name of
                                the DCP folder: written (atomically) only once that folder is complete

state.pt is the completion marker: a crash at any point leaves the previous state.pt, which names
the previous complete folder; folders it does not name are leftovers, deleted at the next commit.
DCP stores each tensor with its global shape and offsets (parameter names as in the HF model), so a
checkpoint saved at one layout (tp2 x dp2, FSDP or DDP) loads into any other, down to one process.
Both files are read without unpickling code (`weights_only=True`; DCP's tensor reader likewise).

The run folder may be an fsspec URL (`s3://bucket/run/models/NAME`): DCP writes through fsspec
(each object appears whole), state.pt is saved locally and uploaded as one object.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint._fsspec_filesystem import FsspecReader, FsspecWriter
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict, set_state_dict
from torch.distributed.tensor import DTensor, distribute_tensor
from upath import UPath

from pipeline.core.atomic import AnyPath, as_path, atomic_path, atomic_sink
from pretrain.parallel.tensor import STRIDED

STATE_FILE = "state.pt"
FORMAT = 3  # 3: model and optimizer in a DCP folder named by state.pt


def checkpoint_dir(out_dir: str | os.PathLike[str] | UPath) -> AnyPath:
    return as_path(out_dir) / "checkpoint"


def checkpoint_file(out_dir: str | os.PathLike[str] | UPath) -> AnyPath:
    return checkpoint_dir(out_dir) / STATE_FILE


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


def _save_state_file(final: AnyPath, state: dict[str, Any]) -> None:
    """A local temp file renamed into place, or an upload that replaces the object only when complete."""
    if isinstance(final, Path):
        with atomic_path(final) as tmp:
            torch.save(state, tmp)
        return
    with tempfile.TemporaryDirectory(prefix="yuliao-checkpoint-") as tmp:
        local = Path(tmp, STATE_FILE)
        torch.save(state, local)
        upload(local, final)


def _storage(folder: AnyPath, write: bool) -> Any:
    if isinstance(folder, Path):
        return dcp.FileSystemWriter(folder) if write else dcp.FileSystemReader(folder)
    url = str(folder)
    return (
        FsspecWriter(url, use_listings_cache=False) if write else FsspecReader(url, use_listings_cache=False)
    )


def _whole_strided(shards: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[DTensor, torch.Tensor]]]:
    """`shards` with strided-shard DTensors (parameters in tensor.STRIDED and their AdamW moments) as
    full tensors, so every layout stores and asks for them under the same key and global shape, and
    the (shard, full) pairs for `_scatter_strided`.  The input (the live optimizer state) is left as
    it is.  Collective: every rank gathers the same tensors in the same order."""
    pairs: list[tuple[DTensor, torch.Tensor]] = []

    def whole(t: Any) -> Any:
        if not isinstance(t, DTensor):
            return t
        pairs.append((t, t.full_tensor()))
        return pairs[-1][1]

    model = {k: whole(v) if k.endswith(STRIDED) else v for k, v in shards["model"].items()}
    state = {
        k: {name: whole(v) for name, v in s.items()} if k.endswith(STRIDED) else s
        for k, s in shards["optim"]["state"].items()
    }
    return {"model": model, "optim": {**shards["optim"], "state": state}}, pairs


def _scatter_strided(pairs: list[tuple[DTensor, torch.Tensor]]) -> None:
    """Copy loaded full tensors into this rank's strided shards (each rank slices its own part)."""
    for shard, full in pairs:
        mine = distribute_tensor(full, shard.device_mesh, shard.placements, src_data_rank=None)
        shard.to_local().copy_(mine.to_local())


def _with_tied_aliases(model_state: dict[str, Any], optim_state: dict[str, Any]) -> dict[str, Any]:
    """`optim_state` with each tied parameter's AdamW state also under its other names.

    One process keeps GPT-2's tied lm_head.weight / transformer.wte.weight as one parameter, its
    state under one name; a pipeline holds two copies on its first and last stage, each asking for
    its own name.  Every layout then finds the state it needs."""
    names: dict[tuple[int, int, tuple[int, ...]], list[str]] = {}
    for name, t in model_state.items():
        local = t.to_local() if isinstance(t, DTensor) else t
        if isinstance(local, torch.Tensor) and local.numel():
            where = (local.untyped_storage().data_ptr(), local.storage_offset(), tuple(local.shape))
            names.setdefault(where, []).append(name)
    state = dict(optim_state["state"])
    for tied in names.values():
        known = next((n for n in tied if n in state), None)
        for name in tied if known else ():
            state.setdefault(name, state[known])
    return {**optim_state, "state": state}


def _single() -> bool:
    return not dist.is_initialized()


@dataclass
class PendingCheckpoint:
    """A sharded save in flight; `commit_checkpoint` finishes it."""

    out_dir: AnyPath
    folder: str
    state: dict[str, Any]  # state.pt's content (written by rank 0)
    future: Future | None  # None: saved synchronously


def save_checkpoint(
    out_dir: str | os.PathLike[str] | UPath,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    state: dict[str, Any],
    *,
    group: dist.ProcessGroup | None = None,
    asynchronous: bool = True,
) -> PendingCheckpoint:
    """Start writing model + optimizer shards for `state["step"]`.  Collective over all ranks.

    Async saves stage a CPU copy first (training may change the weights right after) and write it in
    a thread, coordinated over `group` (a gloo group of its own, so the write never shares a
    communicator with training).
    """
    folder = f"step-{int(state['step']):08d}"
    model_state, optim_state = get_state_dict(model, optimizer)
    optim_state = _with_tied_aliases(model_state, optim_state)
    shards, _ = _whole_strided({"model": model_state, "optim": optim_state})
    writer = _storage(checkpoint_dir(out_dir) / folder, write=True)
    if asynchronous:
        future = dcp.async_save(shards, storage_writer=writer, process_group=group, no_dist=_single())
        future = getattr(future, "upload_completion", future)  # AsyncSaveResponse when staging is async
    else:
        dcp.save(shards, storage_writer=writer, process_group=group, no_dist=_single())
        future = None
    return PendingCheckpoint(as_path(out_dir), folder, {**state, "format": FORMAT, "dcp": folder}, future)


def commit_checkpoint(pending: PendingCheckpoint, is_main: bool) -> None:
    """Wait for the shards, then (rank 0) write state.pt and delete every other step folder.

    Rank 0's save returns only after every rank's shards and the metadata are written, so its
    state.pt never names an incomplete folder."""
    if pending.future is not None:
        pending.future.result()
    if not is_main:
        return
    _save_state_file(checkpoint_file(pending.out_dir), pending.state)
    for child in checkpoint_dir(pending.out_dir).iterdir():
        if child.name.startswith("step-") and child.name != pending.folder:
            if isinstance(child, Path):
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.fs.rm(child.path, recursive=True)


def load_checkpoint(out_dir: str | os.PathLike[str] | UPath) -> dict[str, Any] | None:
    """The committed trainer state (state.pt, on the CPU), or None when there is none."""
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


def load_shards(
    out_dir: str | os.PathLike[str] | UPath,
    state: dict[str, Any],
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
) -> None:
    """Load the folder state.pt names into this rank's (possibly sharded) model and optimizer, whatever
    layout saved it.  Collective over all ranks.

    Parameters that never had a gradient have no AdamW state in the checkpoint (XLNet's unused
    segment bias): their fresh state is kept, which AdamW never reads while they get no gradient.
    Param groups keep this layout's parameter names: the checkpoint's lists are one rank's (under
    pipeline parallelism, one stage's).
    """
    reader = _storage(checkpoint_dir(out_dir) / state["dcp"], write=False)
    saved = reader.read_metadata().state_dict_metadata  # flattened keys: "optim.state.<param>.step"
    model_state, optim_state = get_state_dict(model, optimizer)  # this layout's shapes and shards
    optim_state["state"] = {k: v for k, v in optim_state["state"].items() if f"optim.state.{k}.step" in saved}
    shards, pairs = _whole_strided({"model": model_state, "optim": optim_state})
    own = [group["params"] for group in optim_state["param_groups"]]
    dcp.load(shards, storage_reader=reader, no_dist=_single())  # into these tensors, in place
    _scatter_strided(pairs)
    for group, params in zip(optim_state["param_groups"], own, strict=True):
        group["params"] = params  # this layout's names (the checkpoint holds one rank's list)
    set_state_dict(
        model,
        optimizer,
        model_state_dict=model_state,
        optim_state_dict=optim_state,
        options=StateDictOptions(strict=False),
    )
