"""Pipeline parallelism: consecutive layers of a causal LM on the ranks of a "pp" group, micro-batches
flowing through with torch.distributed.pipelining (1F1B by default, GPipe on request).

Integration into train() (all ranks of one pp group feed the SAME batch: the dp coordinate picks it):

    model = build_model(run, tokenizer).to(device)     # full model, same seed on every rank; consumed
    pipe = build_pipeline(model, mesh["pp"], n_microbatches=run.grad_accum, schedule="1f1b",
                          loss_sum=partial(loss_sum, causal=True),   # pretrain.loss
                          wrap=...)                     # optional: TP / checkpointing / DDP or FSDP2 on "dp"
    optimizer = make_optimizer(pipe.module, run, device)   # this stage's parameters only
    each step:  batch = the step's grad_accum micro-batches concatenated along dim 0
        inputs, labels = model_inputs(batch, device, "clm")
        n_global = target_count of the step summed over the dp ranks
        with autocast: s = pipeline_step(pipe, inputs, labels, n_global, dp_size)
        grad_norm = clip_grad_norm_(pipe, run.grad_clip); optimizer.step(); optimizer.zero_grad()
        step loss = sum over ALL ranks of (s, or 0 where None) / n_global
    eval:   pipeline_eval(pipe, inputs, labels) per held-out batch: CE sum on the last stage
    export: state = full_state_dict(pipe) on pp rank 0 -> a fresh build_model(...).load_state_dict(state)
            -> save_pretrained; the stage state dicts carry HF names, so DCP checkpoints merge as they are.

Stage split (`stage_layers`): stage 0 owns the embeddings, the last stage the final norm and LM head,
and the L layers are cut into pp contiguous runs, the first L % pp stages one layer longer (the last
stage also carries the head and the loss, so extra layers go to the front).  Each stage module keeps
the HF parameter names of what it owns (layer lists become ModuleDicts keyed by the original index,
as torchtitan does), so the stages' state dicts merge into the HF model's state dict
(`full_state_dict`) for checkpoints and `save_pretrained`.  Tied input/output embeddings (GPT-2)
become two copies, on the first and the last stage, whose gradients are summed after every step
(`pipeline_step`), so both stay equal to the tied weight of the 1-process model.

Loss: the last stage computes the given loss_sum(logits, labels) per micro-batch (for the trainer:
partial(pretrain.loss.loss_sum, causal=True), whose HF-style shift matches the 1-process model) and
back-propagates loss_sum * dp_size / n_targets, exactly the trainer's per-micro-batch backward; the
schedule is built with scale_grads=False because its default divides gradients by n_microbatches.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.pipelining import PipelineStage, Schedule1F1B, ScheduleGPipe
from torch.distributed.tensor import DTensor
from transformers import PreTrainedModel
from transformers.masking_utils import create_causal_mask

Schedule = Literal["1f1b", "gpipe"]
SCHEDULES = {"1f1b": Schedule1F1B, "gpipe": ScheduleGPipe}


@dataclass(frozen=True)
class ArchSplit:
    """Where an HF causal LM keeps the parts a stage owns (attribute names on the model)."""

    body: str  # the base model: LlamaForCausalLM.model, GPT2LMHeadModel.transformer
    first: tuple[str, ...]  # on body, stage 0 only
    layers: str  # the ModuleList of blocks on body
    last: tuple[str, ...]  # on body, last stage only (the LM head `lm_head` is on the model itself)


SPLITS = {
    "llama": ArchSplit(body="model", first=("embed_tokens",), layers="layers", last=("norm",)),
    "gpt2": ArchSplit(body="transformer", first=("wte", "wpe", "drop"), layers="h", last=("ln_f",)),
}
MODEL_INPUTS = ("position_ids", "attention_mask")  # passed to every stage; input_ids to stage 0 only


def stage_layers(n_layers: int, pp: int) -> list[range]:
    """Layer indices of each stage: contiguous, sizes differ by at most one, longer ones first."""
    if pp > n_layers:
        raise ValueError(
            f"pipeline_parallel: {pp} stages but the model has {n_layers} layers; "
            f"use pipeline_parallel <= {n_layers} or a deeper model"
        )
    size, extra = divmod(n_layers, pp)
    bounds = [s * size + min(s, extra) for s in range(pp + 1)]
    return [range(bounds[s], bounds[s + 1]) for s in range(pp)]


class StageModule(nn.Module):
    """One stage of an HF causal LM: its embeddings / layers / final norm + head under the HF names.

    forward(x, position_ids=None, attention_mask=None): x is input_ids [b, L] on stage 0, the hidden
    states [b, L, H] elsewhere; returns hidden states, or logits [b, L, V] on the last stage.  Masks
    (causal, packed documents from position_ids, or a given attention_mask) and rotary embeddings are
    rebuilt on every stage exactly as the HF base model builds them.
    """

    def __init__(self, model: PreTrainedModel, arch: str, layers: range, is_first: bool, is_last: bool):
        super().__init__()
        split = SPLITS[arch]
        self.arch, self.config = arch, model.config
        self.is_first, self.is_last = is_first, is_last
        head = model.get_output_embeddings()
        # tied input/output embeddings split over two stages become two copies (see tied_weights)
        single = is_first and is_last
        self.tied = not single and head.weight is model.get_input_embeddings().weight
        body = getattr(model, split.body)
        blocks = getattr(body, split.layers)
        setattr(body, split.layers, nn.ModuleDict({str(i): blocks[i] for i in layers}))
        for name in split.first:
            if not is_first:
                setattr(body, name, None)
        for name in split.last:
            if not is_last:
                setattr(body, name, None)
        if self.tied and is_last:
            head.weight = nn.Parameter(head.weight.detach().clone())
        # the HF top-level names (`model`/`transformer`, `lm_head`) keep every FQN as in the full model
        self.add_module(split.body, body)
        self.add_module("lm_head", head if is_last else None)

    def forward(
        self,
        x: torch.Tensor,
        position_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        body = getattr(self, SPLITS[self.arch].body)
        if position_ids is None:
            position_ids = torch.arange(x.shape[1], device=x.device)[None]
        if self.arch == "llama":
            h = body.embed_tokens(x) if self.is_first else x
            mask = create_causal_mask(
                config=self.config, inputs_embeds=h, attention_mask=attention_mask, cache=None,
                position_ids=position_ids,
            )  # fmt: skip
            rope = body.rotary_emb(h, position_ids=position_ids)
            for layer in body.layers.values():
                h = layer(h, attention_mask=mask, position_embeddings=rope, position_ids=position_ids,
                          cache=None, use_cache=False)  # fmt: skip
            h = body.norm(h) if self.is_last else h
        else:  # gpt2
            h = body.drop(body.wte(x) + body.wpe(position_ids)) if self.is_first else x
            if attention_mask is not None and attention_mask.ndim < 4:
                attention_mask = attention_mask.view(h.shape[0], -1)
            mask = create_causal_mask(
                config=self.config, inputs_embeds=h, attention_mask=attention_mask, cache=None,
                position_ids=position_ids,
            )  # fmt: skip
            for block in body.h.values():
                h = block(h, None, mask, None, use_cache=False, position_ids=position_ids)
            h = body.ln_f(h) if self.is_last else h
        return self.lm_head(h) if self.is_last else h


def split_model(model: PreTrainedModel, stage: int, n_stages: int) -> StageModule:
    """Stage `stage` of `n_stages` cut out of `model` (which it consumes: the other parts are dropped)."""
    arch = model.config.model_type
    if arch not in SPLITS:
        raise ValueError(
            f"pipeline_parallel: model.arch {arch!r} has no stage split (supported: {sorted(SPLITS)}); "
            "set pipeline_parallel: 1"
        )
    layers = stage_layers(model.config.num_hidden_layers, n_stages)[stage]
    return StageModule(model, arch, layers, is_first=stage == 0, is_last=stage == n_stages - 1)


@dataclass(frozen=True)
class Pipeline:
    """One rank's part of a pipeline: its (wrapped) stage module and the schedules that drive it."""

    module: nn.Module  # the stage module as `wrap` returned it: give it to the optimizer
    stage: StageModule  # the bare stage module (HF parameter names, is_first / is_last)
    schedule: Any  # Schedule1F1B / ScheduleGPipe over n_microbatches, with backward
    eval_schedule: Any  # GPipe over one micro-batch, forward only (`pipeline_eval`)
    group: dist.ProcessGroup
    n_microbatches: int
    loss_sums: list[torch.Tensor] = field(default_factory=list)  # each micro-batch's CE sum, as computed


def _pp_group(pp: DeviceMesh | dist.ProcessGroup) -> dist.ProcessGroup:
    if isinstance(pp, DeviceMesh):
        names = pp.mesh_dim_names or ()
        if pp.ndim != 1 and "pp" not in names:
            raise ValueError(
                f"pipeline_parallel: a {pp.ndim}-D mesh without a 'pp' dimension; pass mesh['pp']"
            )
        return pp.get_group("pp") if pp.ndim != 1 else pp.get_group()
    return pp


def build_pipeline(
    model: PreTrainedModel,
    pp: DeviceMesh | dist.ProcessGroup,
    n_microbatches: int,
    schedule: Schedule = "1f1b",
    *,
    loss_sum: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    wrap: Callable[[nn.Module], nn.Module] | None = None,
    device: torch.device | None = None,
) -> Pipeline:
    """Cut this rank's stage out of `model` and build its schedule.  Collective-free; call on every rank.

    pp: the pipeline group, as a DeviceMesh (1-D, e.g. mesh["pp"], or one with a "pp" dimension) or a
    ProcessGroup; the rank's index in it is its stage index.  loss_sum(logits, labels): a micro-batch's
    summed per-target loss, for the trainer partial(pretrain.loss.loss_sum, causal=True) (passed in, as
    pretrain.parallel must not import the trainer's modules).  `model` must be identical on all ranks
    (built with the same seed) and is consumed.  `wrap` (TP, activation checkpointing, DDP/FSDP on the
    data axis) is applied to the stage module before the stage is built, so the pipelining runtime
    sees DDP/FSDP and defers their gradient sync to the last micro-batch.  1F1B needs
    n_microbatches >= pipeline_parallel.  Shapes are fixed after the first step: every step must
    bring batches of the same [B, L].
    """
    group = _pp_group(pp)
    n_stages, rank = dist.get_world_size(group), dist.get_rank(group)
    if schedule not in SCHEDULES:
        raise ValueError(f"pipeline_schedule: {schedule!r} is not one of {sorted(SCHEDULES)}")
    if n_microbatches < 1 or (schedule == "1f1b" and n_microbatches < n_stages):
        raise ValueError(
            f"n_microbatches: {n_microbatches} for {n_stages} stages; 1F1B needs at least one micro-batch "
            "per stage (GPipe at least one): raise grad_accum or use the gpipe schedule"
        )
    stage_module = split_model(model, rank, n_stages)
    module = wrap(stage_module) if wrap is not None else stage_module
    device = device or next(module.parameters()).device
    sums: list[torch.Tensor] = []

    def loss_fn(
        logits: torch.Tensor, labels: torch.Tensor, dp_size: int = 1, n_targets: Any = 1
    ) -> torch.Tensor:
        micro_sum = loss_sum(logits, labels)
        sums.append(micro_sum.detach())
        return micro_sum * dp_size / n_targets  # the trainer's per-micro-batch backward, exactly

    train = SCHEDULES[schedule](
        PipelineStage(module, rank, n_stages, device, group=group),
        n_microbatches=n_microbatches,
        loss_fn=loss_fn,
        scale_grads=False,  # its default divides gradients by n_microbatches; the loss is already / N
    )
    evaluate = ScheduleGPipe(
        PipelineStage(module, rank, n_stages, device, group=group), n_microbatches=1, loss_fn=loss_fn
    )
    return Pipeline(module, stage_module, train, evaluate, group, n_microbatches, sums)


def _stage_args(
    pipe: Pipeline, inputs: dict[str, Any], labels: torch.Tensor
) -> tuple[tuple[torch.Tensor, ...], dict[str, torch.Tensor], torch.Tensor | None]:
    """train.model_inputs' dict -> (stage 0's input_ids, the kwargs every stage takes, labels on the last)."""
    unknown = sorted(set(inputs) - {"input_ids", "use_cache", *MODEL_INPUTS})
    if unknown:
        raise ValueError(f"pipeline inputs: {unknown} not supported (input_ids, {', '.join(MODEL_INPUTS)})")
    batch = inputs["input_ids"].shape[0]
    if batch % pipe.n_microbatches:
        raise ValueError(
            f"batch_size: a batch of {batch} examples does not split into n_microbatches="
            f"{pipe.n_microbatches}; make the batch a multiple of the micro-batch count"
        )
    args = (inputs["input_ids"],) if pipe.stage.is_first else ()
    kwargs = {k: inputs[k] for k in MODEL_INPUTS if inputs.get(k) is not None}
    return args, kwargs, labels if pipe.stage.is_last else None


def tied_weights(pipe: Pipeline) -> torch.nn.Parameter | None:
    """This stage's copy of a weight tied across the first and the last stage (GPT-2's wte), else None."""
    stage = pipe.stage
    if not stage.tied or stage.is_first == stage.is_last:  # a middle stage holds neither copy
        return None
    if stage.is_first:
        return getattr(stage, SPLITS[stage.arch].body).get_input_embeddings().weight
    return stage.lm_head.weight


def _sync_tied_grads(pipe: Pipeline) -> None:
    """Sum the tied copies' gradients between the first and last stage: each then holds the tied grad."""
    param = tied_weights(pipe)
    if param is None:
        return
    grad = param.grad.to_local() if isinstance(param.grad, DTensor) else param.grad
    n = dist.get_world_size(pipe.group)
    peer = n - 1 if pipe.stage.is_first else 0
    other = torch.empty_like(grad)
    ops = [
        dist.P2POp(dist.isend, grad, group=pipe.group, group_peer=peer),
        dist.P2POp(dist.irecv, other, group=pipe.group, group_peer=peer),
    ]
    for work in dist.batch_isend_irecv(ops):
        work.wait()
    grad += other  # a + b == b + a in floating point: both copies get bit-identical gradients


def pipeline_step(
    pipe: Pipeline,
    inputs: dict[str, Any],
    labels: torch.Tensor,
    n_targets: float | torch.Tensor,
    dp_size: int = 1,
) -> torch.Tensor | None:
    """Forward + backward of one optimizer step's batch; gradients accumulate in pipe.module.

    inputs: pretrain.train.model_inputs' dict for the whole step on this dp rank (input_ids, and
    position_ids or attention_mask, [B, ...]; use_cache is ignored); labels [B, L] as the collator
    gives them (HF convention: shifted inside the loss).  Every rank of the pp group passes the same
    batch.  B is split into n_microbatches equal micro-batches along dim 0.  n_targets: the step's
    target count summed over all data-parallel ranks; dp_size: how many ranks the data-parallel
    wrapper averages gradients over (1 without one).  Each micro-batch back-propagates
    loss_sum * dp_size / n_targets, so the gradients are those of  sum of CE over the step / N.
    Returns this rank's sum of CE over its targets (fp32, detached) on the last stage, None elsewhere.
    """
    args, kwargs, target = _stage_args(pipe, inputs, labels)
    pipe.loss_sums.clear()
    pipe.schedule.step(
        *args, target=target, loss_kwargs={"dp_size": dp_size, "n_targets": n_targets}, **kwargs
    )
    _sync_tied_grads(pipe)
    if not pipe.stage.is_last:
        return None
    return torch.stack(pipe.loss_sums[-pipe.n_microbatches :]).sum()  # the first step adds a shape probe


def pipeline_eval(pipe: Pipeline, inputs: dict[str, Any], labels: torch.Tensor) -> torch.Tensor | None:
    """Forward only, one micro-batch: the sum of CE over the batch's targets on the last stage, else None."""
    with torch.no_grad():
        args, kwargs, target = _stage_args(pipe, inputs, labels)
        pipe.loss_sums.clear()
        pipe.eval_schedule.eval(*args, target=target, **kwargs)
    return pipe.loss_sums[-1] if pipe.stage.is_last else None


def clip_grad_norm_(pipe: Pipeline, max_norm: float | None) -> torch.Tensor:
    """Clip by the norm of the whole model's gradient (all stages; a tied weight counted once).

    Collective over the pp group; returns the total norm (as torch.nn.utils.clip_grad_norm_ does).
    """
    tied = tied_weights(pipe)
    skip = tied if pipe.stage.is_last else None  # the last stage's copy: the first stage counts it
    params = [p for p in pipe.module.parameters() if p.grad is not None]
    grads = [p.grad for p in params if p is not skip]
    device = next(pipe.module.parameters()).device
    local = torch.nn.utils.get_total_norm(grads) if grads else torch.zeros((), device=device)
    if isinstance(local, DTensor):
        local = local.full_tensor()
    total = local.double().square()
    dist.all_reduce(total, group=pipe.group)
    norm = total.sqrt().float()
    if max_norm:
        torch.nn.utils.clip_grads_with_norm_(params, max_norm, norm)
    return norm


def full_state_dict(pipe: Pipeline) -> dict[str, torch.Tensor] | None:
    """The HF model's state dict (CPU), merged from all stages, on pp rank 0; None on the other ranks.

    Collective over the pp group (and, under FSDP, over the data-parallel group too): load it with
    model.load_state_dict on a model built from the same config, then save_pretrained.
    """
    state = get_model_state_dict(pipe.module, options=StateDictOptions(full_state_dict=True))
    state = {k: v.detach().cpu() for k, v in state.items()}
    parts: list[Any] = [None] * dist.get_world_size(pipe.group) if dist.get_rank(pipe.group) == 0 else []
    dist.gather_object(state, parts or None, group=pipe.group, group_dst=0)
    if dist.get_rank(pipe.group) != 0:
        return None
    return {k: v for part in parts for k, v in part.items()}
