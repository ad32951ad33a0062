"""train() uses every feature it is configured with, observed on the optimizer and model it builds:
the optimizer steps on clipped gradients at the scheduled LR with decay on matrices only, activation
checkpointing runs every block again in the backward pass, and eval reads only held-out documents."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import torch
from transformers import AutoTokenizer

import pretrain.train as T
from pipeline.core.atomic import write_arrow, write_json
from pretrain.config import ModelConfig, RunConfig
from pretrain.metrics import METRICS_FILE, read_metrics
from pretrain.models import AUTO_CLASS, transformer_blocks
from tests.pretrain.fixtures import WEIGHTS, Workspace, build_mixture, build_workspace


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return build_workspace(tmp_path_factory.mktemp("features"), per_source=40)


def _run(arch: str = "gpt2", objective: str = "clm", **kw: Any) -> RunConfig:
    args = {"seq_len": 32, "batch_size": 4, "steps": 3, "log_every": 1} | kw
    return RunConfig(name="f", objective=objective, model=ModelConfig(arch=arch), **args)


def _train(ws: Workspace, run: RunConfig, out: Path) -> dict:
    return T.train(run, ws.tokens_dir, ws.mixture_path, ws.tokenizer_dir, out)


def _optimizer_steps(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What train()'s optimizer sees as each step starts: every group's LR, the gradients' global norm."""
    seen: list[dict[str, Any]] = []
    make = T.make_optimizer

    def before_step(opt: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        seen.append({"lr": [g["lr"] for g in opt.param_groups], "grad_norm": float(norm)})

    def make_optimizer(model: torch.nn.Module, run: RunConfig, device: torch.device) -> Any:
        opt = make(model, run, device)
        opt.register_step_pre_hook(before_step)
        return opt

    monkeypatch.setattr(T, "make_optimizer", make_optimizer)
    return seen


def test_clipping_scales_down_the_gradients_the_optimizer_steps_on(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _optimizer_steps(monkeypatch)
    _train(ws, _run(grad_clip=0.05), tmp_path / "over")
    raw = [r["grad_norm"] for r in read_metrics(tmp_path / "over" / METRICS_FILE, "train")]  # before clipping
    assert len(raw) == len(seen) == 3 and min(raw) > 0.5  # far over the limit ...
    assert [s["grad_norm"] for s in seen] == pytest.approx([0.05] * 3, rel=1e-4)  # ... stepped on at it

    seen.clear()
    _train(ws, _run(grad_clip=100.0), tmp_path / "under")
    raw = [r["grad_norm"] for r in read_metrics(tmp_path / "under" / METRICS_FILE, "train")]
    assert len(seen) == 3 and max(raw) < 100.0
    assert [s["grad_norm"] for s in seen] == pytest.approx(raw, rel=1e-5)  # under it: left as they are


def test_the_optimizer_steps_at_the_scheduled_lr(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _optimizer_steps(monkeypatch)
    run = _run(steps=8, warmup_steps=3, lr=2e-3)
    _train(ws, run, tmp_path)
    assert len(seen) == 8 and all(len(set(s["lr"])) == 1 for s in seen)  # the same LR in every group
    used = [s["lr"][0] for s in seen]
    assert used == [T.lr_at(step, run) for step in range(8)]
    # by hand: linear warmup over 3 steps, then cosine from 2e-3 towards 2e-4 over the other 5
    cosine = [2e-4 + 0.5 * (1 + math.cos(math.pi * k / 5)) * 1.8e-3 for k in range(5)]
    assert used == pytest.approx([2e-3 / 3, 4e-3 / 3, 2e-3, *cosine], rel=1e-12)
    assert [r["lr"] for r in read_metrics(tmp_path / METRICS_FILE, "train")] == used


def test_weight_decay_shrinks_matrices_and_not_biases_or_norms(ws: Workspace, tmp_path: Path) -> None:
    """One AdamW step from the same weights on the same batch, with and without decay: decoupled
    decay takes lr * wd * w off each matrix and leaves biases and norm weights alone."""
    lr, wd = 1e-2, 0.5
    run = _run(steps=1, warmup_steps=0, lr=lr, weight_decay=wd)
    decayed = _train(ws, run, tmp_path / "decayed")
    plain = _train(ws, run.model_copy(update={"weight_decay": 0.0}), tmp_path / "plain")
    init = dict(T.build_model(run, AutoTokenizer.from_pretrained(ws.tokenizer_dir)).named_parameters())
    a = dict(AUTO_CLASS["gpt2"].from_pretrained(decayed["model_dir"]).named_parameters())
    b = dict(AUTO_CLASS["gpt2"].from_pretrained(plain["model_dir"]).named_parameters())
    assert a.keys() == b.keys() == init.keys()
    matrices = {n for n, w in init.items() if w.dim() >= 2}
    assert {
        "transformer.wte.weight",
        "transformer.h.0.attn.c_attn.weight",
        "transformer.h.1.mlp.c_proj.weight",
    } <= matrices
    assert {
        "transformer.h.0.attn.c_attn.bias",
        "transformer.h.0.ln_1.weight",
        "transformer.ln_f.bias",
    } <= init.keys() - matrices
    for name, w0 in init.items():
        if name in matrices:
            torch.testing.assert_close(b[name] - a[name], lr * wd * w0, rtol=1e-3, atol=5e-8)
            assert a[name].norm() < b[name].norm()
        else:
            assert torch.equal(a[name], b[name]), name


@pytest.mark.parametrize(("arch", "objective"), [("llama", "clm"), ("bert", "mlm")])
def test_activation_checkpointing_runs_each_block_again_in_backward(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, arch: str, objective: str
) -> None:
    """Calls of every Linear in one training step: twice inside the blocks with checkpointing (forward,
    then the recompute in backward), once without; the output head is never recomputed."""
    calls: Counter[str] = Counter()
    build = T.build_model

    def build_model(run: RunConfig, tokenizer: Any) -> torch.nn.Module:
        model = build(run, tokenizer)
        inside = {id(m) for block in transformer_blocks(model) for m in block.modules()}
        for name, m in model.named_modules():
            if isinstance(m, torch.nn.Linear):
                where = "block" if id(m) in inside else "head"
                m.register_forward_pre_hook(lambda *_, key=f"{where}:{name}": calls.update([key]))
        return model

    monkeypatch.setattr(T, "build_model", build_model)
    counts = {}
    for on in (False, True):
        calls.clear()
        _train(ws, _run(arch, objective, steps=1, activation_checkpointing=on), tmp_path / str(on))
        counts[on] = dict(calls)
    blocks = {k for k in counts[True] if k.startswith("block:")}
    assert len(blocks) >= 12 and any(k.startswith("head:") for k in counts[True])
    assert counts[False] == dict.fromkeys(counts[True], 1)
    assert counts[True] == {k: 2 if k in blocks else 1 for k in counts[True]}


# ---- eval reads held-out documents only ---------------------------------------------------------

TRAIN_IDS, HELD_IDS, OTHER_IDS = range(7, 200), range(200, 350), range(350, 500)  # disjoint, no specials
SPECIAL = set(range(7))  # <pad> <s> </s> ... : what packing adds


def _write_tokens(out: Path, docs: dict[str, list[np.ndarray]]) -> None:
    """One shard per source and its manifest, as `encode` writes them, from token ids."""
    out.mkdir(parents=True)
    shards = []
    for i, (source, rows) in enumerate(docs.items()):
        name = f"shard-{i:05d}.arrow"
        ids = pa.array([r.tolist() for r in rows], type=pa.list_(pa.uint16()))
        write_arrow(out / name, pa.table({"source": [source] * len(rows), "input_ids": ids}))
        n = sum(len(r) for r in rows)
        shards.append(
            {"path": name, "rows": len(rows), "tokens": n, "tokens_per_source": {source: n},
             "rows_per_source": {source: len(rows)}}
        )  # fmt: skip
    write_json(out / "manifest.json", {"shards": shards, "eos_id": 2, "pad_id": 0, "dtype": "uint16"})


def _docs(rng: np.random.Generator, ids: range, n: int) -> list[np.ndarray]:
    return [rng.choice(ids, size=int(rng.integers(8, 40))) for _ in range(n)]


def test_eval_reads_only_held_out_documents(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each source's last 4 of 40 documents (eval_holdout 0.1) use ids no other document uses, and a
    separate eval folder yet others: the model sees them in eval and only there."""
    rng = np.random.default_rng(0)
    _write_tokens(
        tmp_path / "tokens", {s: _docs(rng, TRAIN_IDS, 36) + _docs(rng, HELD_IDS, 4) for s in WEIGHTS}
    )
    _write_tokens(tmp_path / "other", {s: _docs(rng, OTHER_IDS, 10) for s in WEIGHTS})
    build_mixture(tmp_path / "mixture.json", WEIGHTS)
    seen: dict[bool, set[int]] = {True: set(), False: set()}  # training mode -> token ids fed to the model
    build = T.build_model

    def build_model(run: RunConfig, tokenizer: Any) -> torch.nn.Module:
        model = build(run, tokenizer)
        model.get_input_embeddings().register_forward_pre_hook(
            lambda m, args: seen[m.training].update(args[0].unique().tolist())
        )
        return model

    monkeypatch.setattr(T, "build_model", build_model)
    run = _run(steps=2, log_every=2, eval_every=2, eval_batches=2, eval_holdout=0.1)
    for name, update, held in [
        ("holdout", {}, HELD_IDS),
        ("dir", {"eval_holdout": 0.0, "eval_tokens": str(tmp_path / "other")}, OTHER_IDS),
    ]:
        seen[True].clear()
        seen[False].clear()
        result = T.train(
            run.model_copy(update=update), tmp_path / "tokens", tmp_path / "mixture.json", ws.tokenizer_dir,
            tmp_path / name,
        )  # fmt: skip
        assert result["eval"]["targets"] > 0
        evaluated, trained = seen[False] - SPECIAL, seen[True] - SPECIAL
        assert len(evaluated) > 20 and evaluated <= set(held), name  # eval: held-out ids only
        assert len(trained) > 50 and not trained & set(held), name  # training: never one of them
