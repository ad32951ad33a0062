"""One pretraining run, top to bottom: data -> model -> AdamW loop -> losses.json + model/.

Runs as a plain single CPU process or under torchrun (DDP); resumes from out_dir/checkpoint.
"""

from __future__ import annotations

import math
import shutil
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader
from transformers import AutoTokenizer

from pipeline.io.atomic import write_json
from pretrain import distributed as D
from pretrain.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from pretrain.config import RunConfig
from pretrain.data.stream import DocStream, PretrainStream
from pretrain.models import build_model
from pretrain.objectives import chunk_length, make_collate, special_ids


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


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def _save_model(model: torch.nn.Module, tokenizer: Any, model_dir: Path) -> None:
    """save_pretrained into a temp dir, then swap it in, so model/ is never half written."""
    tmp = model_dir.with_name(f".{model_dir.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(model_dir, ignore_errors=True)
    tmp.replace(model_dir)


def train(
    run: RunConfig,
    tokens_dir: Path,
    mixture_path: Path,
    tokenizer_dir: Path,
    out_dir: Path,
    *,
    stop_after: int | None = None,
) -> dict[str, Any]:
    """Train `run`; returns a summary with every step's loss.

    `stop_after` ends the loop after that many steps as a preemption would (the LR schedule
    still follows run.steps, nothing final is written); rerunning resumes from the checkpoint.
    """
    out_dir = Path(out_dir)
    dist = D.init_distributed()
    device = dist.device
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    ids = special_ids(tokenizer)

    # ---- model + optimizer ----------------------------------------------------------------
    model = build_model(run, tokenizer).to(device)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    optimizer = make_optimizer(model, run, device)

    # ---- data: each example is chunk_len raw tokens of the mixture stream ------------------
    chunk_len = chunk_length(run)
    dataset = PretrainStream(
        tokens_dir,
        mixture_path,
        make_collate(run, ids),
        chunk_len=chunk_len,
        batch_size=run.batch_size,
        seed=run.seed,
        rank=dist.rank,
        world=dist.world,
    )
    examples_per_step = run.batch_size * run.grad_accum * dist.world

    # ---- resume ----------------------------------------------------------------------------
    start_step, losses = 0, []
    state = load_checkpoint(out_dir, device) if run.ckpt_every else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        dataset.load_state_dict(state["data"])
        set_rng_state(state["rng"])
        start_step, losses = int(state["step"]), [float(x) for x in state["losses"]]
        if dist.is_main:
            print(f"[{run.name}] resumed at step {start_step} from {out_dir / 'checkpoint'}", flush=True)
    consumed = dataset.consumed

    model = D.wrap_ddp(model, dist)
    loader = DataLoader(
        dataset, batch_size=None, num_workers=run.num_workers, pin_memory=device.type == "cuda"
    )
    batches = iter(loader)
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    tokens_per_step = examples_per_step * run.seq_len
    end_step = run.steps if stop_after is None else min(run.steps, stop_after)

    # ---- loop ------------------------------------------------------------------------------
    t_log, steps_since_log = time.perf_counter(), 0
    for step in range(start_step, end_step):
        lr = lr_at(step, run)
        for group in optimizer.param_groups:
            group["lr"] = lr

        loss_sum = torch.zeros((), device=device)
        for micro in range(run.grad_accum):
            batch = {k: v.to(device, non_blocking=True) for k, v in next(batches).items()}  # [B, ...]
            last = micro == run.grad_accum - 1
            sync = nullcontext() if last or dist.world == 1 else model.no_sync()  # DDP: reduce once per step
            with sync, autocast:
                loss = model(**batch).loss / run.grad_accum  # scalar, mean over the micro-batch
            loss.backward()
            loss_sum += loss.detach()

        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), run.grad_clip or float("inf"))
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        consumed += examples_per_step

        step_loss = D.mean_across_ranks(loss_sum.item(), device)
        losses.append(step_loss)
        steps_since_log += 1
        done = step + 1
        if dist.is_main and (done % run.log_every == 0 or done == run.steps):
            elapsed = time.perf_counter() - t_log
            tok_s = tokens_per_step * steps_since_log / max(elapsed, 1e-9)
            print(
                f"[{run.name}] step {done:>5}/{run.steps} | loss {step_loss:.4f} | lr {lr:.2e} | "
                f"grad_norm {grad_norm.item():.3f} | tok/s {tok_s:,.0f}",
                flush=True,
            )
            t_log, steps_since_log = time.perf_counter(), 0

        if run.ckpt_every and done % run.ckpt_every == 0:
            if dist.is_main:
                save_checkpoint(
                    out_dir,
                    {
                        "step": done,
                        "model": D.unwrap(model).state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "data": {"seed": run.seed, "consumed": consumed},
                        "losses": list(losses),
                        "rng": rng_state(),
                    },
                )
            D.barrier()

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
    }
    if len(losses) < run.steps:  # stopped early: the checkpoint is the only output
        return result
    result["model_dir"] = str(out_dir / "model")
    if dist.is_main:
        stream = DocStream(dataset.shards, dataset.mixture)
        result["tokens_per_source"] = stream.tokens_per_source(consumed * chunk_len)
        _save_model(D.unwrap(model), tokenizer, out_dir / "model")
        write_json(out_dir / "losses.json", result)
    D.barrier()
    return result
