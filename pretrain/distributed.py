"""torchrun-aware process setup and the data-parallel wrappers: a plain `python` process is a world of one.

DDP (default) replicates the model; FSDP2 (`fully_shard`, one unit per transformer block plus the
root) shards parameters, gradients and optimizer state over the data-parallel ranks.  With tensor
parallelism the parameters are already DTensors on the "tp" mesh dim: FSDP2 shards them further over
"dp" (2-D), and `parallel: ddp` replicates them with FSDP2's replicate (torch's DDP takes plain tensors
only).  State dicts are keyed by parameter name (torch.distributed.checkpoint.state_dict) under every
wrapper, so a run can resume with another layout or switch between DDP and FSDP.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.tensor import DTensor
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class DistInfo:
    rank: int
    local_rank: int
    world: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed() -> DistInfo:
    """Read torchrun's env; join the process group (nccl on GPU, gloo on CPU) when world > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistInfo(rank=rank, local_rank=local_rank, world=world, device=device)


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    return rank() == 0


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def sum_across_ranks(t: torch.Tensor, group: dist.ProcessGroup | None = None) -> torch.Tensor:
    """All-reduce (sum) a tensor in place over `group` (default: all ranks); identity for a single
    process.  No host sync."""
    if dist.is_initialized():
        dist.all_reduce(t, op=dist.ReduceOp.SUM, group=group)
    return t


def new_gloo_group() -> dist.ProcessGroup | None:
    """A gloo group over all ranks, for work in a background thread (async checkpoint writes) that must
    not share a communicator with training; None for a single process.  Collective."""
    return dist.new_group(backend="gloo") if dist.is_initialized() else None


def gather_objects(obj: Any) -> list[Any]:
    """Every rank's `obj`, in rank order (a list of one for a single process)."""
    if not dist.is_initialized():
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def wrap(
    model: torch.nn.Module,
    info: DistInfo,
    parallel: str,
    blocks: list[torch.nn.Module],
    dp_mesh: DeviceMesh | None,
    pipeline_stage: bool = False,
) -> torch.nn.Module:
    """DDP or FSDP2 over the data-parallel mesh when it has more than one rank, the model itself otherwise.

    `parallel: ddp` uses torch's DDP on plain modules and FSDP2's replicate (the same all-reduce) on
    tensor-parallel ones (DDP takes no DTensor parameters) and on pipeline stages (torch 2.13's DDP
    reducer fails an internal assert under a multi-stage schedule's micro-batches).
    FSDP2 on CUDA computes in bf16 (params all-gathered in bf16) and reduces gradients in fp32.
    """
    if dp_mesh is None or dp_mesh.size() == 1:
        return model
    composable = pipeline_stage or any(isinstance(p, DTensor) for p in model.parameters())
    if parallel == "fsdp" or composable:
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        if parallel == "fsdp":
            shard = fully_shard
        else:
            from torch.distributed._composable.replicate_with_fsdp import replicate as shard
        mp = (
            MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
            if info.device.type == "cuda"
            else MixedPrecisionPolicy()
        )
        for block in blocks:
            shard(block, mesh=dp_mesh, mp_policy=mp)
        return shard(model, mesh=dp_mesh, mp_policy=mp)
    device_ids = [info.local_rank] if info.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids, process_group=dp_mesh.get_group())


@contextlib.contextmanager
def grad_sync(model: torch.nn.Module, sync: bool) -> Iterator[None]:
    """Skip the gradient all-reduce / reduce-scatter on all but the last micro-batch of a step."""
    if isinstance(model, DistributedDataParallel) and not sync:
        with model.no_sync():
            yield
        return
    if hasattr(model, "set_requires_gradient_sync"):  # FSDP2
        model.set_requires_gradient_sync(sync)
    yield


def full_model_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The unsharded model state dict on rank 0's CPU (empty on other ranks), gathered from
    DTensor / FSDP shards.  Collective."""
    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def mean_across_ranks(value: float, device: torch.device) -> float:
    """Average a scalar over ranks (identity for a single process)."""
    if not dist.is_initialized():
        return value
    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.item() / dist.get_world_size()


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    model = getattr(model, "_orig_mod", model)  # torch.compile
    return model.module if isinstance(model, DistributedDataParallel) else model


def cleanup() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
