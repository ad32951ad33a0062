"""One device mesh for every kind of parallelism: ("pp", "dp", "tp"), tensor parallel innermost.

world = pipeline_parallel x data_parallel x tensor_parallel.  Tensor-parallel ranks exchange
activations every layer, so they are neighbours (the same node's NVLink); pipeline stages exchange
one activation per micro-batch, so they are outermost.  Ranks of one data-parallel group see
different examples; the tp and pp ranks inside it see the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.distributed as dist
from torch.distributed.device_mesh import DeviceMesh, init_device_mesh

DIMS = ("pp", "dp", "tp")


@dataclass(frozen=True)
class Mesh:
    """This rank's place in the run's layout; `device` is None for a single process."""

    pp: int
    dp: int
    tp: int
    dp_rank: int
    device: DeviceMesh | None

    def sub(self, dim: str) -> DeviceMesh | None:
        """The 1-D mesh of one dim (None for a single process)."""
        return None if self.device is None else self.device[dim]

    @property
    def owns_loss(self) -> bool:
        """Whether this rank reports its data-parallel rank's loss: the last pipeline stage computes
        it, and its tensor-parallel ranks hold the same value, so the first of them reports it."""
        if self.device is None:
            return True
        return self.device["pp"].get_local_rank() == self.pp - 1 and self.device["tp"].get_local_rank() == 0

    @property
    def dp_group(self) -> dist.ProcessGroup | None:
        """The group that sums over data-parallel ranks (None: nothing to sum)."""
        return None if self.device is None else self.device["dp"].get_group()


def data_parallel_size(world: int, tp: int, pp: int) -> int:
    """world / (tp x pp), refused with the fields to change when it does not divide."""
    if world % (tp * pp):
        raise ValueError(
            f"world size {world} is not divisible by tensor_parallel x pipeline_parallel = {tp} x {pp}: "
            f"launch a multiple of {tp * pp} processes (torchrun --nproc-per-node) or change "
            "tensor_parallel / pipeline_parallel"
        )
    return world // (tp * pp)


def make_mesh(world: int, tp: int, pp: int, device_type: str) -> Mesh:
    """The ("pp", "dp", "tp") mesh over all ranks (a collective when world > 1)."""
    dp = data_parallel_size(world, tp, pp)
    if world == 1:
        return Mesh(pp=1, dp=1, tp=1, dp_rank=0, device=None)
    device = init_device_mesh(device_type, (pp, dp, tp), mesh_dim_names=DIMS)
    return Mesh(pp=pp, dp=dp, tp=tp, dp_rank=device["dp"].get_local_rank(), device=device)
