"""Tensor parallelism (Megatron-style) with DTensor: each layer's matrices split over the "tp" mesh dim.

Per block: q/k/v and the MLP's input projections split by output columns (each rank holds whole
attention heads and a slice of the FFN), the attention output and MLP output projections split by
input rows (one reduce per sub-layer).  Between sub-layers the residual stream is split along the
sequence (sequence parallel): norms run on a 1/tp slice of the tokens, an all-gather enters each
sub-layer and a reduce-scatter leaves it, the same traffic as the all-reduce it replaces.  The
embedding is split by vocabulary rows and the LM head by vocabulary columns, so the logits stay
sharded and the loss is taken with `loss_parallel` (never gathering [B, L, V]).

Llama uses torch's Colwise/RowwiseParallel on its nn.Linear layers.  GPT-2's projections are Conv1D
(weight stored [in, out]) and its c_attn packs q|k|v into one matrix: `Conv1DColwise` splits each of
the three parts by columns (a strided shard, so every rank gets the same heads of q, k and v) and the
attention's `split_size` becomes the local width.  Every parameter ends up a DTensor on the tp mesh,
so state dicts carry HF names and full shapes (checkpoints reshard to any other layout).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.tensor import DTensor, Partial, Replicate, Shard, distribute_tensor
from torch.distributed.tensor.parallel import (
    ColwiseParallel,
    ParallelStyle,
    PrepareModuleInput,
    PrepareModuleOutput,
    RowwiseParallel,
    SequenceParallel,
    loss_parallel,
    parallelize_module,
)
from torch.distributed.tensor.placement_types import Placement, _StridedShard

# Parameters split as strided shards (GPT-2's packed q|k|v): each rank holds three separate column
# blocks, which torch.distributed.checkpoint cannot describe, so checkpoints store them whole.
STRIDED = ("attn.c_attn.weight", "attn.c_attn.bias")


def _colwise_placement(chunks: int, dim: int) -> Placement:
    return Shard(dim) if chunks == 1 else _StridedShard(dim, split_factor=chunks)


class Conv1DColwise(ParallelStyle):
    """GPT-2 Conv1D split by output columns, `chunks` packed outputs (q|k|v: 3) split each on its own.

    Replicated input in (its gradient summed over tp ranks in backward), the local columns out.
    """

    def __init__(self, chunks: int = 1) -> None:
        self.chunks = chunks

    def _apply(self, module: nn.Module, device_mesh: DeviceMesh) -> nn.Module:
        weight = distribute_tensor(module.weight.data, device_mesh, [_colwise_placement(self.chunks, 1)])
        bias = distribute_tensor(module.bias.data, device_mesh, [_colwise_placement(self.chunks, 0)])
        module.weight, module.bias = nn.Parameter(weight), nn.Parameter(bias)

        def forward(x: torch.Tensor) -> torch.Tensor:
            if isinstance(x, DTensor):
                x = x.redistribute(placements=[Replicate()]).to_local(grad_placements=[Partial()])
            else:
                x = DTensor.from_local(x, device_mesh, [Replicate()], run_check=False)
                x = x.to_local(grad_placements=[Partial()])
            w, b = module.weight.to_local(), module.bias.to_local()
            return torch.addmm(b, x.reshape(-1, x.size(-1)), w).view(*x.shape[:-1], w.size(1))

        module.forward = forward
        return module


class Conv1DRowwise(ParallelStyle):
    """GPT-2 Conv1D split by input rows: the local columns in, a sum over tp ranks out (scattered
    along `output` = Shard(1) for sequence parallel), the replicated bias added once."""

    def __init__(self, output: Placement) -> None:
        self.output = output

    def _apply(self, module: nn.Module, device_mesh: DeviceMesh) -> nn.Module:
        module.weight = nn.Parameter(distribute_tensor(module.weight.data, device_mesh, [Shard(0)]))
        module.bias = nn.Parameter(distribute_tensor(module.bias.data, device_mesh, [Replicate()]))

        def forward(x: torch.Tensor) -> torch.Tensor:
            w = module.weight.to_local()
            partial = (x.reshape(-1, x.size(-1)) @ w).view(*x.shape[:-1], w.size(1))
            out = DTensor.from_local(partial, device_mesh, [Partial()], run_check=False)
            return (out.redistribute(placements=[self.output]) + module.bias).to_local()

        module.forward = forward
        return module


def _llama_block(p: str) -> dict[str, ParallelStyle]:
    return {
        f"{p}.input_layernorm": SequenceParallel(use_local_output=True),
        f"{p}.self_attn": PrepareModuleInput(
            input_kwarg_layouts={"hidden_states": Shard(1)},
            desired_input_kwarg_layouts={"hidden_states": Replicate()},
            use_local_output=True,
        ),
        f"{p}.self_attn.q_proj": ColwiseParallel(),
        f"{p}.self_attn.k_proj": ColwiseParallel(),
        f"{p}.self_attn.v_proj": ColwiseParallel(),
        f"{p}.self_attn.o_proj": RowwiseParallel(output_layouts=Shard(1)),
        f"{p}.post_attention_layernorm": SequenceParallel(use_local_output=True),
        f"{p}.mlp": PrepareModuleInput(
            input_layouts=(Shard(1),), desired_input_layouts=(Replicate(),), use_local_output=True
        ),
        f"{p}.mlp.gate_proj": ColwiseParallel(),
        f"{p}.mlp.up_proj": ColwiseParallel(),
        f"{p}.mlp.down_proj": RowwiseParallel(output_layouts=Shard(1)),
    }


def _gpt2_block(p: str) -> dict[str, ParallelStyle]:
    return {
        f"{p}.ln_1": SequenceParallel(use_local_output=True),
        f"{p}.attn": PrepareModuleInput(
            input_layouts=(Shard(1),), desired_input_layouts=(Replicate(),), use_local_output=True
        ),
        f"{p}.attn.c_attn": Conv1DColwise(chunks=3),
        f"{p}.attn.c_proj": Conv1DRowwise(output=Shard(1)),
        f"{p}.ln_2": SequenceParallel(use_local_output=True),
        f"{p}.mlp": PrepareModuleInput(
            input_layouts=(Shard(1),), desired_input_layouts=(Replicate(),), use_local_output=True
        ),
        f"{p}.mlp.c_fc": Conv1DColwise(),
        f"{p}.mlp.c_proj": Conv1DRowwise(output=Shard(1)),
    }


# Per architecture: the base model's attribute, its block list, embeddings, final norm, block plan,
# and how many positional inputs a block takes (GPT-2: hidden_states, cache, mask, encoder states).
LAYOUT: dict[str, tuple[str, str, tuple[str, ...], str, Callable[[str], dict[str, ParallelStyle]], int]] = {
    "llama": ("model", "layers", ("embed_tokens",), "norm", _llama_block, 1),
    "gpt2": ("transformer", "h", ("wte", "wpe"), "ln_f", _gpt2_block, 4),
}


def _plans(model: nn.Module, arch: str) -> tuple[dict[str, ParallelStyle], dict[str, ParallelStyle]]:
    """The plan of a whole model or of a pipeline stage (which holds some of the blocks, the
    embeddings on the first stage, the final norm and head on the last), and the plan of what must
    be applied after it (the same module may need an input and an output style).

    Blocks run sequence-parallel: the first block of the model or stage takes whole sequences (as the
    embeddings and a previous stage hand them over) and splits them; the final norm and the head take
    the split sequences; a stage that ends before the head gathers them again for the next stage.
    """
    body_name, blocks_name, embeddings, norm, block_plan, block_inputs = LAYOUT[arch]
    body = getattr(model, body_name)
    prefix = f"{body_name}.{blocks_name}"
    keys = [k for k, _ in getattr(body, blocks_name).named_children()]
    plan: dict[str, ParallelStyle] = {
        f"{body_name}.{name}": RowwiseParallel(input_layouts=Replicate(), output_layouts=Replicate())
        for name in embeddings
        if getattr(body, name, None) is not None
    }
    plan[f"{prefix}.{keys[0]}"] = PrepareModuleInput(
        input_layouts=(Replicate(),) + (None,) * (block_inputs - 1),
        desired_input_layouts=(Shard(1),) + (None,) * (block_inputs - 1),
        use_local_output=True,
    )
    after: dict[str, ParallelStyle] = {}
    if getattr(body, norm, None) is not None:
        # GPT2Model views ln_f's output to the full [B, L, H]: a DTensor keeps the global shape
        plan[f"{body_name}.{norm}"] = SequenceParallel(use_local_output=arch == "llama")
        plan["lm_head"] = ColwiseParallel(
            input_layouts=Shard(1), output_layouts=Shard(-1), use_local_output=False
        )
    else:
        after[f"{prefix}.{keys[-1]}"] = PrepareModuleOutput(
            output_layouts=Shard(1), desired_output_layouts=Replicate(), use_local_output=True
        )
    for key in keys:
        plan |= block_plan(f"{prefix}.{key}")
    return plan, after


def check_tensor_parallel(config: Any, tp: int) -> None:
    """Refuse a model whose heads (or KV heads) or FFN width do not split evenly over tp ranks."""
    if tp == 1:
        return
    heads = config.num_attention_heads
    kv = getattr(config, "num_key_value_heads", None) or heads
    for name, n in (("num_attention_heads", heads), ("num_key_value_heads", kv)):
        if n % tp:
            raise ValueError(
                f"tensor_parallel={tp} does not divide the model's {name}={n}: each rank must hold whole "
                f"heads; choose tensor_parallel among the divisors of {n} or set model.overrides.{name}"
            )


def apply_tensor_parallel(model: nn.Module, arch: str, tp_mesh: DeviceMesh) -> nn.Module:
    """Split `model` in place over the 1-D `tp_mesh` (Llama or GPT-2); every parameter becomes a DTensor."""
    if arch not in LAYOUT:
        raise ValueError(
            f"tensor_parallel: no tensor-parallel plan for model.arch={arch!r}; use {list(LAYOUT)}"
        )
    plan, after = _plans(model, arch)
    if arch == "gpt2":
        for block in model.transformer.h.children():
            block.attn.split_size //= tp_mesh.size()  # the local width of each of q, k, v
    body_name, _, embeddings, *_ = LAYOUT[arch]
    head, embed = getattr(model, "lm_head", None), getattr(getattr(model, body_name), embeddings[0], None)
    tied = head is not None and embed is not None and head.weight is embed.weight
    parallelize_module(model, tp_mesh, plan)
    parallelize_module(model, tp_mesh, after)
    if tied:  # both are [V, H] split by vocabulary rows: share the one DTensor again
        head.weight = embed.weight
    plain = [name for name, p in model.named_parameters() if not isinstance(p, DTensor)]
    if plain:
        raise RuntimeError(f"tensor parallel plan for {arch} left parameters unsplit: {plain}")
    return model


@contextlib.contextmanager
def sharded_loss(enabled: bool) -> Iterator[None]:
    """cross_entropy over vocabulary-sharded logits (forward and backward must both run inside)."""
    with loss_parallel() if enabled else contextlib.nullcontext():
        yield
