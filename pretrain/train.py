"""One pretraining run, top to bottom: data -> model -> AdamW loop -> metrics, checkpoints, model/.

Runs as a plain single process (CPU or one GPU) or under torchrun on one ("pp", "dp", "tp") mesh:
tensor parallel splits each layer over `tensor_parallel` ranks, data parallel (DDP by default, FSDP2
with `parallel: fsdp`) over the rest; resumes exactly from out_dir/checkpoint, on any layout.  Per step:

    micro-batches  = grad_accum batches of this data-parallel rank   (host tensors)
    N              = target tokens of the step, summed over dp ranks  (one tiny all-reduce)
    backward( sum-of-token-CE * dp / N )  per micro-batch            (DDP/FSDP average over dp ranks)
    clip global grad norm -> AdamW step at lr(step)                  (warmup + cosine)

so the step's loss is sum of CE over every target token of the global batch / N.  Nothing waits on
the GPU except at log, eval and checkpoint steps.
"""

from __future__ import annotations

import math
import os
import resource
import shutil
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch.distributed.tensor import DTensor
from torch.utils.data import DataLoader
from transformers import AutoTokenizer
from upath import UPath

from pipeline.core.atomic import AnyPath, as_path, done_marker, fsync_path, fsync_tree, mark_done, write_json
from pretrain import distributed as D
from pretrain.checkpoint import (
    PendingCheckpoint,
    commit_checkpoint,
    load_checkpoint,
    load_shards,
    rng_state,
    save_checkpoint,
    set_rng_state,
    upload,
)
from pretrain.collate import chunk_length, make_collate, uses_words
from pretrain.config import RunConfig
from pretrain.data.meter import MixMeter
from pretrain.data.stream import PretrainStream, micro_batches
from pretrain.loss import loss_sum, target_count
from pretrain.metrics import MetricsLog
from pretrain.mfu import flops_per_token, mfu, peak_flops
from pretrain.models import build_model, enable_activation_checkpointing, transformer_blocks
from pretrain.objectives import WordTable, expand, special_ids
from pretrain.parallel.mesh import Mesh, make_mesh
from pretrain.parallel.pipeline import (
    Pipeline,
    build_pipeline,
    clip_grad_norm_,
    full_state_dict,
    pipeline_eval,
    pipeline_step,
    stage_layers,
)
from pretrain.parallel.tensor import apply_tensor_parallel, check_tensor_parallel, sharded_loss
from tokenization.mixture import read_mixture
from tokenization.shards import TokenShards

CAUSAL = ("clm",)  # objectives whose labels HF shifts by one inside the model
# Raw tokens per DataLoader item (several micro-batches): a worker -> trainer transfer costs about a
# millisecond per item plus half a millisecond per tensor, so small items cap the loader
# (`bench/loader_bench.py`: permuted LM 6.2M tokens/s per worker at 64k, 9.4M at 256k).
FETCH_TOKENS = 262_144


def micro_batches_per_item(run: RunConfig, chunk_len: int) -> int:
    """About FETCH_TOKENS per item, at least one optimizer step's worth, and not far past the run's end."""
    fetch = -(-FETCH_TOKENS // (run.batch_size * chunk_len))
    return max(run.grad_accum, min(fetch, run.steps * run.grad_accum))


def lr_at(step: int, run: RunConfig) -> float:
    """Linear warmup to run.lr, then cosine decay to 10% of it at the last step."""
    if step < run.warmup_steps:
        return run.lr * (step + 1) / run.warmup_steps
    min_lr = 0.1 * run.lr
    progress = (step - run.warmup_steps) / max(1, run.steps - run.warmup_steps)
    return min_lr + 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))) * (run.lr - min_lr)


def make_optimizer(model: torch.nn.Module, run: RunConfig, device: torch.device) -> torch.optim.AdamW:
    """Weight decay on matrices only (not biases / norms), fused kernel on CUDA."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": run.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=run.lr, betas=(0.9, 0.95), fused=device.type == "cuda")


def model_inputs(
    batch: dict[str, torch.Tensor], device: torch.device, objective: str
) -> tuple[dict[str, Any], torch.Tensor]:
    """Collator output -> (forward kwargs on the device, labels).

    Compact mask keys become the dense [L, L] masks here, on the device (`objectives.masks`);
    XLNet's masks are bool and become floats; causal and seq2seq models get use_cache=False
    (with a cache, transformers would not detect packed position_ids).
    """
    inputs: dict[str, Any] = expand({k: v.to(device, non_blocking=True) for k, v in batch.items()})
    labels = inputs.pop("labels")
    for key in ("perm_mask", "target_mapping"):
        if key in inputs:
            inputs[key] = inputs[key].float()
    if objective in ("clm", "span"):
        inputs["use_cache"] = False
    return inputs, labels


def _plain(x: torch.Tensor) -> torch.Tensor:
    """A loss computed from tensor-parallel logits is a replicated DTensor: its (differentiable) value."""
    return x.full_tensor() if isinstance(x, DTensor) else x


def _causal_loss_sum(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The last pipeline stage's loss of a micro-batch (pipelines train causal LMs only)."""
    return _plain(loss_sum(logits, labels, causal=True))


def parallelize(model: torch.nn.Module, run: RunConfig, info: D.DistInfo, mesh: Mesh) -> torch.nn.Module:
    """Tensor parallel, then activation checkpointing, then compile (per block), then DDP / FSDP2 on
    the data-parallel ranks: each step wraps what the one before it produced, as torchtitan orders them."""
    blocks = transformer_blocks(model)
    if mesh.tp > 1:
        apply_tensor_parallel(model, run.model.arch, mesh.sub("tp"))
    if run.activation_checkpointing:
        enable_activation_checkpointing(model)
    if run.compile:
        for block in blocks:
            block.compile()
    return D.wrap(model, info, run.parallel, blocks, mesh.sub("dp"), pipeline_stage=mesh.pp > 1)


def evaluate(
    model: torch.nn.Module,
    batches: list[dict],
    objective: str,
    device: torch.device,
    autocast: Any,
    mesh: Mesh,
    pipe: Pipeline | None = None,
) -> dict[str, float]:
    """Loss per target token over fixed held-out batches (all ranks), and its perplexity."""
    causal = objective in CAUSAL
    total = torch.zeros(2, dtype=torch.float64, device=device)  # [loss sum, targets]
    model.eval()
    with torch.no_grad(), sharded_loss(mesh.tp > 1):
        for batch in batches:
            inputs, labels = model_inputs(batch, device, objective)
            with autocast:
                if pipe is not None:
                    ce = pipeline_eval(pipe, inputs, labels)  # on the last stage, None elsewhere
                else:
                    ce = _plain(loss_sum(model(**inputs).logits, labels, causal))
            if mesh.owns_loss:  # one rank per data-parallel rank counts
                total[0] += ce.double()
                total[1] += target_count(labels.cpu(), causal)
    model.train()
    loss_total, n = D.sum_across_ranks(total).tolist()
    loss = loss_total / max(n, 1.0)
    return {"loss": loss, "ppl": math.exp(min(loss, 50.0)), "targets": int(n)}


def _memory_gb(device: torch.device) -> float:
    """Peak memory since the last call: CUDA allocator peak on GPU, process max RSS on CPU."""
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        return peak / 1e9
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # KiB on Linux


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def load_tokenizer(tokenizer_dir: str | os.PathLike[str] | UPath) -> Any:
    """The tokenizer saved in a folder (local, or at a URL: its files are downloaded first), from
    local files only.

    Without `local_files_only`, transformers takes a missing folder such as `out/tokenizer` for a
    Hub repo of that name and downloads whatever its owner put there.
    """
    path = as_path(tokenizer_dir)
    if not (path / "tokenizer.json").is_file() and not (path / "tokenizer_config.json").is_file():
        raise FileNotFoundError(
            f"tokenizer not found: {path} has no tokenizer.json; train one with `yuliao tokenizer train` "
            "or point pretrain_data.tokenizer at its folder"
        )
    if isinstance(path, Path):
        return AutoTokenizer.from_pretrained(path, local_files_only=True)
    with tempfile.TemporaryDirectory(prefix="yuliao-tokenizer-") as tmp:
        for child in path.iterdir():  # the folder's files; .yuliao/ state is not the tokenizer's
            if child.is_file():
                child.fs.get_file(child.path, os.path.join(tmp, child.name))
        return AutoTokenizer.from_pretrained(tmp, local_files_only=True)


def _save_model(model: torch.nn.Module, tokenizer: Any, model_dir: AnyPath) -> None:
    """model/ as save_pretrained writes it, never half written, then its done marker.

    Local: a temp dir made durable and swapped in.  Object store (no rename): the old marker goes
    first, then the old files, then each new file is uploaded whole and the marker written last, so a
    crash leaves a model/ without a marker, which the rerun (resuming at the end) writes again.
    """
    done_marker(model_dir).unlink(missing_ok=True)
    if isinstance(model_dir, Path):
        tmp = model_dir.with_name(f".{model_dir.name}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        fsync_tree(tmp)
        shutil.rmtree(model_dir, ignore_errors=True)
        tmp.replace(model_dir)
        fsync_path(model_dir.parent)
    else:
        with tempfile.TemporaryDirectory(prefix="yuliao-model-") as tmp:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            if model_dir.exists():
                model_dir.fs.rm(model_dir.path, recursive=True)
            for path in sorted(Path(tmp).rglob("*")):
                if path.is_file():
                    upload(path, model_dir.joinpath(*path.relative_to(tmp).parts))
    mark_done(model_dir)


def _sibling(tokens_dir: str | Path, rel: str) -> str:
    """`rel` resolved next to the tokens dir (the run's output dir); absolute paths and URLs as given."""
    if "://" in rel or Path(rel).is_absolute():
        return rel
    base = str(tokens_dir).rstrip("/")
    return f"{base.rsplit('/', 1)[0]}/{rel}" if "/" in base else rel


def _eval_batches(
    run: RunConfig, shards: TokenShards, mixture: dict, collate: Any, chunk_len: int, mesh: Mesh
) -> list[dict]:
    """The first eval_batches batches of this rank over the held-out documents: the same every evaluation."""
    present = {s: v for s, v in mixture["sources"].items() if shards.num_docs(s) > 0}
    stream = PretrainStream(
        shards,
        {**mixture, "sources": present},
        collate,
        chunk_len=chunk_len,
        batch_size=run.batch_size,
        seed=run.seed,
        rank=mesh.dp_rank,
        world=mesh.dp,
        word_starts=uses_words(run),
    )
    return [batch for batch, _ in zip(stream, range(run.eval_batches), strict=False)]


def check_global_batch(state: dict[str, Any], run: RunConfig, dp: int) -> None:
    """Refuse to resume with another global batch (it changes the run), unless the run allows it."""
    saved = state["batch"]
    now = {"batch_size": run.batch_size, "grad_accum": run.grad_accum, "data_parallel": dp}
    if math.prod(saved.values()) == math.prod(now.values()) or run.allow_global_batch_change:
        return

    def show(b: dict[str, int]) -> str:
        return f"{math.prod(b.values())} (batch_size {b['batch_size']} x grad_accum {b['grad_accum']} x {b['data_parallel']} data-parallel ranks)"

    raise ValueError(
        f"the checkpoint's global batch is {show(saved)}, this run's {show(now)}: keep batch_size x "
        "grad_accum x data-parallel ranks (world / (tensor_parallel x pipeline_parallel)) equal, or set "
        "allow_global_batch_change: true to continue with the new batch"
    )


def train(
    run: RunConfig,
    tokens_dir: str | os.PathLike[str] | UPath,
    mixture_path: str | os.PathLike[str] | UPath,
    tokenizer_dir: str | os.PathLike[str] | UPath,
    out_dir: str | os.PathLike[str] | UPath,
    *,
    stop_after: int | None = None,
    eval_tokens_dir: str | os.PathLike[str] | UPath | None = None,
) -> dict[str, Any]:
    """Train `run`; returns a summary with every step's loss.  Every path may be an fsspec URL.

    `stop_after` ends the loop after that many steps as a preemption would (the LR schedule
    still follows run.steps, nothing final is written); rerunning resumes from the checkpoint.
    `eval_tokens_dir` overrides where run.eval_tokens points (default: next to tokens_dir).
    """
    out_dir = as_path(out_dir)
    info = D.init_distributed()
    device = info.device
    mesh = make_mesh(info.world, run.tensor_parallel, run.pipeline_parallel, device.type)
    causal = run.objective in CAUSAL
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    tokenizer = load_tokenizer(tokenizer_dir)
    ids = special_ids(tokenizer)
    log = MetricsLog(out_dir, enabled=info.is_main)

    # ---- model: build on CPU (seeded, the same on every rank), then device / stage / TP / AC /
    # compile / DP
    model = build_model(run, tokenizer)
    check_tensor_parallel(model.config, mesh.tp)
    stage_layers(model.config.num_hidden_layers, mesh.pp)  # refuses fewer layers than stages
    n_params = sum(p.numel() for p in model.parameters())
    flops_tok = flops_per_token(model, run.seq_len)
    peak = peak_flops(device, run.peak_tflops)
    model.to(device).train()
    pipe: Pipeline | None = None
    if mesh.pp > 1:  # this rank keeps its stage's layers; the rest of the model is dropped
        pipe = build_pipeline(
            model,
            mesh.sub("pp"),
            run.grad_accum,
            run.pipeline_schedule,
            loss_sum=_causal_loss_sum,
            wrap=lambda stage: parallelize(stage, run, info, mesh),
        )
        wrapped = pipe.module
    else:
        wrapped = parallelize(model, run, info, mesh)
    optimizer = make_optimizer(wrapped, run, device)
    ckpt_group = D.new_gloo_group() if run.ckpt_every else None  # async checkpoint writes

    # ---- data: each example is chunk_len raw tokens of the mixture stream ------------------
    chunk_len = chunk_length(run)
    mixture = read_mixture(mixture_path)
    train_shards = TokenShards(tokens_dir, holdout=run.eval_holdout)
    words = WordTable.from_tokenizer(tokenizer, ids.special) if uses_words(run) else None
    # [L, L] masks are built on the device; ERNIE's stages follow this layout's data-parallel ranks
    collate = make_collate(run, ids, words, compact=True, data_parallel=mesh.dp)
    per_item = micro_batches_per_item(run, chunk_len)
    dataset = PretrainStream(
        train_shards,
        mixture,
        collate,
        chunk_len=chunk_len,
        batch_size=run.batch_size * per_item,  # the same examples in the same order, split below
        seed=run.seed,
        rank=mesh.dp_rank,  # tensor-parallel ranks of one data-parallel rank read the same examples
        world=mesh.dp,
        word_starts=uses_words(run),
    )
    examples_per_step = run.batch_size * run.grad_accum * mesh.dp
    tokens_per_step = examples_per_step * run.seq_len  # model input tokens
    eval_set: list[dict] = []
    if run.eval_every:
        eval_dir = eval_tokens_dir or (_sibling(tokens_dir, run.eval_tokens) if run.eval_tokens else None)
        eval_shards = (
            TokenShards(eval_dir)
            if eval_dir
            else TokenShards(tokens_dir, holdout=run.eval_holdout, part="heldout")
        )
        eval_set = _eval_batches(run, eval_shards, mixture, collate, chunk_len, mesh)

    # ---- resume: sharded state resharded to this layout, so world size, tp and ddp/fsdp may change
    start_step, losses = 0, []
    state = load_checkpoint(out_dir) if run.ckpt_every else None
    if state is not None:
        check_global_batch(state, run, mesh.dp)
        load_shards(out_dir, state, wrapped, optimizer)
        dataset.load_state_dict(state["data"])
        rngs = state["rng"]
        set_rng_state(rngs[info.rank % len(rngs)])
        start_step, losses = int(state["step"]), [float(x) for x in state["losses"]]
        if info.is_main:
            print(f"[{run.name}] resumed at step {start_step} from {out_dir / 'checkpoint'}", flush=True)
    consumed = dataset.consumed
    meter = MixMeter(train_shards, mixture) if info.is_main else None

    loader = DataLoader(
        dataset,
        batch_size=None,
        num_workers=run.num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=run.num_workers > 0,
        prefetch_factor=4 if run.num_workers > 0 else None,
    )
    batches = micro_batches(iter(loader), run.batch_size)
    autocast = (
        torch.autocast(device_type="cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()
    )
    end_step = run.steps if stop_after is None else min(run.steps, stop_after)
    last_eval: dict[str, float] | None = None

    # ---- loop ------------------------------------------------------------------------------
    pending: list[torch.Tensor] = []  # step losses still on the device (read at log/ckpt steps)
    saving: PendingCheckpoint | None = None  # a checkpoint whose shards are still being written
    t_log, steps_since_log = time.perf_counter(), 0
    for step in range(start_step, end_step):
        lr = lr_at(step, run)
        for group in optimizer.param_groups:
            group["lr"] = lr

        micro = [next(batches) for _ in range(run.grad_accum)]  # grad_accum x {input_ids [B, L], ...}
        n_local = sum(target_count(b["labels"], causal) for b in micro)  # host count, no sync
        n_global = D.sum_across_ranks(torch.tensor(float(n_local), device=device), mesh.dp_group)
        step_loss = torch.zeros((), device=device)
        if pipe is not None:  # the step's micro-batches as one batch, which the schedule splits again
            whole = {k: torch.cat([b[k] for b in micro]) for k in micro[0]}
            inputs, labels = model_inputs(whole, device, run.objective)
            with sharded_loss(mesh.tp > 1), autocast:
                ce = pipeline_step(pipe, inputs, labels, n_global, mesh.dp)  # on the last stage only
            if ce is not None:
                step_loss += ce
            grad_norm = clip_grad_norm_(pipe, run.grad_clip)  # over every stage's gradients
        else:
            for i, batch in enumerate(micro):
                inputs, labels = model_inputs(batch, device, run.objective)
                with D.grad_sync(wrapped, sync=i == run.grad_accum - 1), sharded_loss(mesh.tp > 1):
                    with autocast:
                        logits = wrapped(**inputs).logits  # [B, L, V] (XLNet: [B, P, V]; TP: V sharded)
                        micro_sum = _plain(loss_sum(logits, labels, causal))  # sum of CE over targets, fp32
                    (micro_sum * mesh.dp / n_global).backward()
                step_loss += micro_sum.detach()
            grad_norm = torch.nn.utils.clip_grad_norm_(wrapped.parameters(), run.grad_clip or float("inf"))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        consumed += examples_per_step
        reported = step_loss if mesh.owns_loss else torch.zeros_like(step_loss)
        pending.append(D.sum_across_ranks(reported) / n_global)  # mean per target token
        if saving is not None:  # the previous step's checkpoint was written while this step ran
            commit_checkpoint(saving, info.is_main)
            saving = None
            log.sync()  # a remote run folder's log reaches as far as its checkpoint
        steps_since_log += 1
        done = step + 1

        if done % run.log_every == 0 or done == run.steps:
            losses.extend(x.item() for x in pending)
            pending.clear()
            elapsed = time.perf_counter() - t_log
            tok_s = tokens_per_step * steps_since_log / max(elapsed, 1e-9)
            util = mfu(tok_s / info.world, flops_tok, peak)
            gn = float(grad_norm.full_tensor() if hasattr(grad_norm, "full_tensor") else grad_norm)
            mem = _memory_gb(device)
            mfu_txt = f"{100 * util:.1f}%" if util is not None else "n/a"
            log.write(
                done,
                "train",
                {
                    "loss": losses[-1],
                    "lr": lr,
                    "grad_norm": gn,
                    "tokens_per_s": tok_s,
                    "mfu": util,
                    "mem_gb": mem,
                },
                f"[{run.name}] step {done:>5}/{run.steps} | loss {losses[-1]:.4f} | lr {lr:.2e} | "
                f"grad_norm {gn:.3f} | tok/s {tok_s:,.0f} | mfu {mfu_txt} | mem {mem:.2f} GB",
            )
            if meter is not None:
                mix = meter.update(consumed * chunk_len)
                log.write(
                    done,
                    "mix",
                    {f"{s}/{k}": v for s, m in mix.items() for k, v in m.items()},
                    f"[{run.name}] mix @ {done}: "
                    + " | ".join(
                        f"{s} {100 * m['share']:.1f}% (target {100 * m['target']:.1f}%, {m['epochs']:.2f} ep)"
                        for s, m in mix.items()
                    ),
                )
            t_log, steps_since_log = time.perf_counter(), 0

        if run.eval_every and (done % run.eval_every == 0 or done == run.steps):
            last_eval = evaluate(wrapped, eval_set, run.objective, device, autocast, mesh, pipe)
            log.write(
                done,
                "eval",
                last_eval,
                f"[{run.name}] eval @ {done}: loss {last_eval['loss']:.4f} | ppl {last_eval['ppl']:.2f}",
            )
            t_log = time.perf_counter()  # evaluation time is not training throughput

        if run.ckpt_every and done % run.ckpt_every == 0:
            losses.extend(x.item() for x in pending)
            pending.clear()
            trainer_state = {
                "step": done,
                "schedule": {"step": done, "lr": lr},
                "data": {**dataset.state_dict(), "consumed": consumed},  # the stream's own format
                "losses": list(losses),
                "rng": D.gather_objects(rng_state()),  # collective: every rank's RNG
                "batch": {
                    "batch_size": run.batch_size,
                    "grad_accum": run.grad_accum,
                    "data_parallel": mesh.dp,
                },
                "layout": {
                    "pipeline_parallel": mesh.pp,
                    "data_parallel": mesh.dp,
                    "tensor_parallel": mesh.tp,
                },
            }
            saving = save_checkpoint(
                out_dir, wrapped, optimizer, trainer_state, group=ckpt_group
            )  # collective
            t_log = time.perf_counter()
    losses.extend(x.item() for x in pending)
    if saving is not None:  # saved at the last step run
        commit_checkpoint(saving, info.is_main)
        log.sync()

    # ---- outputs ---------------------------------------------------------------------------
    result: dict[str, Any] = {
        "name": run.name,
        "objective": run.objective,
        "arch": run.model.arch,
        "losses": losses,
        "first20_mean": _mean(losses[:20]),
        "last20_mean": _mean(losses[-20:]),
        "model_dir": None,
        "params": n_params,
        "steps": len(losses),
        "examples": consumed,
        "flops_per_token": flops_tok,
    }
    if last_eval is not None:
        result["eval"] = last_eval
    if len(losses) < run.steps:  # stopped early: the checkpoint is the only output
        log.close()
        return result
    result["model_dir"] = str(out_dir / "model")
    if pipe is not None:  # collective: gathers the stages (and their shards) on each pp group's first rank
        model_state = full_state_dict(pipe)
    else:  # collective: gathers shards
        model_state = D.full_model_state(wrapped) if info.world > 1 else None
    if info.is_main:
        final = D.unwrap(wrapped)
        if model_state is not None:  # sharded or replicated: save a plain copy from the full state dict
            final = build_model(run, tokenizer)
            final.load_state_dict(model_state)
        assert meter is not None
        mix = meter.update(consumed * chunk_len)
        result["tokens_per_source"] = {s: m["tokens"] for s, m in mix.items()}
        result["mix"] = mix
        _save_model(final, tokenizer, out_dir / "model")
        write_json(out_dir / "losses.json", result)
    log.close()
    D.barrier()
    return result
