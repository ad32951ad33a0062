"""Pipeline parallelism (pretrain/parallel/pipeline.py) against the 1-process trainer step.

One torchrun of 2 gloo ranks trains a tiny 4-layer Llama and GPT-2 (tied embeddings) for 10 AdamW steps
as pp2 with 1F1B and with GPipe, 4 micro-batches of packed documents per step; this process runs the
same steps the way pretrain/train.py does (per micro-batch backward of loss_sum / N).  The same
torchrun also runs pp1 x dp2 with DDP and FSDP2 applied through `wrap`.  This file is also the
worker script: torchrun runs it with the output folder as its argument.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from pretrain.loss import loss_sum, target_count
from pretrain.models import AUTO_CLASS, CONFIG_CLASS, tiny_defaults
from pretrain.objectives import clm_collate
from pretrain.parallel.pipeline import Pipeline, build_pipeline, pipeline_step, split_model, stage_layers
from pretrain.train import model_inputs

REPO = Path(__file__).resolve().parents[2]
VOCAB, SEQ, EOS = 64, 16, 2
STEPS, MICRO, ROWS = 10, 4, 2  # steps, micro-batches per step, rows per micro-batch
CASES = [("llama", "1f1b"), ("llama", "gpipe"), ("gpt2", "1f1b"), ("gpt2", "gpipe")]
LR, CLIP = 3e-3, 1.0
CLM_LOSS = functools.partial(loss_sum, causal=True)


def tiny_model(arch: str, layers: int = 4) -> torch.nn.Module:
    """pretrain.models' tiny config at 4 layers, seeded as build_model seeds it."""
    depth = {"n_layer": layers} if arch == "gpt2" else {"num_hidden_layers": layers}
    config = CONFIG_CLASS[arch](
        **{**tiny_defaults(arch, SEQ), **depth},
        vocab_size=VOCAB,
        bos_token_id=1,
        eos_token_id=EOS,
        pad_token_id=0,
    )
    torch.manual_seed(0)
    return AUTO_CLASS[arch].from_config(config)


def step_batches(step: int) -> list[dict[str, torch.Tensor]]:
    """MICRO collated micro-batches of packed documents whose target counts differ a lot."""
    rng = np.random.default_rng(step)
    out = []
    for m in range(MICRO):
        chunks = rng.integers(3, VOCAB, size=(ROWS, SEQ))
        # micro-batch m has documents of about SEQ / (1 + 3m) tokens: each start is a target less
        chunks[rng.random((ROWS, SEQ)) < 3 * m / SEQ] = EOS
        out.append(clm_collate(chunks, eos_id=EOS))
    return out


def whole_step(micro: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.cat([b[k] for b in micro]) for k in micro[0]}


@functools.cache
def reference(arch: str) -> dict[str, Any]:
    """The trainer's step on one process: backward(loss_sum / N) per micro-batch, clip, AdamW."""
    model = tiny_model(arch).train()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.1)
    losses, norms, grads = [], [], {}
    for step in range(STEPS):
        micro = step_batches(step)
        n = sum(target_count(b["labels"], causal=True) for b in micro)
        total = 0.0
        for batch in micro:
            inputs, labels = model_inputs(batch, torch.device("cpu"), "clm")
            s = loss_sum(model(**inputs).logits, labels, causal=True)
            (s / n).backward()
            total += float(s.detach())
        if step == 0:
            grads = {k: p.grad.clone() for k, p in model.named_parameters()}
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)))
        opt.step()
        opt.zero_grad()
        losses.append(total / n)
    return {"losses": losses, "norms": norms, "grads": grads, "state": model.state_dict(), "model": model}


def held_out() -> dict[str, torch.Tensor]:
    return whole_step(step_batches(1000)[:2])


def full(t: torch.Tensor) -> torch.Tensor:
    """A copy of the whole tensor: FSDP2's DTensor shards gathered (collective over the dp ranks)."""
    return t.full_tensor() if hasattr(t, "full_tensor") else t.clone()


def _train(pipe: Pipeline, rows: slice, dp: Any = None) -> dict[str, Any]:
    """The reference's steps through the pipeline, on this dp rank's `rows` of every micro-batch."""
    import torch.distributed as dist

    from pretrain.parallel.pipeline import clip_grad_norm_, full_state_dict, pipeline_eval

    dp_size = 1 if dp is None else dist.get_world_size(dp)
    opt = torch.optim.AdamW(pipe.module.parameters(), lr=LR, weight_decay=0.1)
    result: dict[str, Any] = {"losses": [], "norms": [], "grads": {}}
    for step in range(STEPS):
        micro = step_batches(step)
        n = sum(target_count(b["labels"], causal=True) for b in micro)  # over all dp ranks
        batch = whole_step([{k: v[rows] for k, v in b.items()} for b in micro])
        inputs, labels = model_inputs(batch, torch.device("cpu"), "clm")
        s = pipeline_step(pipe, inputs, labels, n, dp_size)
        if s is not None:
            if dp is not None:
                dist.all_reduce(s, group=dp)
            result["losses"].append(float(s) / n)
        if step == 0:
            result["grads"] = {k: full(p.grad) for k, p in pipe.stage.named_parameters()}
        result["norms"].append(float(clip_grad_norm_(pipe, CLIP)))
        opt.step()
        opt.zero_grad()
    inputs, labels = model_inputs(held_out(), torch.device("cpu"), "clm")
    result["eval"] = pipeline_eval(pipe, inputs, labels)
    result["state"] = full_state_dict(pipe)
    return result


def _worker(out: Path) -> None:
    """One of 2 ranks: every pp2 case, then pp1 x dp2 (DDP, FSDP2 through `wrap`); results to out."""
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard
    from torch.nn.parallel import DistributedDataParallel

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    mesh = init_device_mesh("cpu", (2,), mesh_dim_names=("pp",))
    for arch, schedule in CASES:
        result = _train(
            build_pipeline(tiny_model(arch), mesh["pp"], MICRO, schedule, loss_sum=CLM_LOSS), slice(None)
        )
        torch.save(result, out / f"{arch}-{schedule}-rank{rank}.pt")
    mesh = init_device_mesh("cpu", (1, 2), mesh_dim_names=("pp", "dp"))
    dp = mesh["dp"].get_group()
    pipe = build_pipeline(
        tiny_model("llama"),
        mesh,
        MICRO,
        "1f1b",
        loss_sum=CLM_LOSS,
        wrap=lambda m: DistributedDataParallel(m, process_group=dp),
    )
    torch.save(_train(pipe, slice(rank, rank + 1), dp), out / f"llama-ddp-rank{rank}.pt")
    pipe = build_pipeline(
        tiny_model("llama"),
        mesh,
        MICRO,
        "gpipe",
        loss_sum=CLM_LOSS,
        wrap=lambda m: fully_shard(m, mesh=mesh["dp"]),
    )
    torch.save(_train(pipe, slice(rank, rank + 1), dp), out / f"llama-fsdp-rank{rank}.pt")
    dist.destroy_process_group()


@pytest.fixture(scope="module")
def pp_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pp")
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           __file__, str(out)]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return out


def assert_like_one_process(arch: str, ranks: list[dict[str, Any]]) -> None:
    """Per-step loss within 1e-4 (relative); clipping norm and first-step gradients within 1e-5
    (relative); final weights within 1e-5 (absolute: AdamW magnifies rounding in near-zero gradients)."""
    ref = reference(arch)
    first, last = ranks[0], ranks[-1]
    assert last["losses"] == pytest.approx(ref["losses"], rel=1e-4)
    # the gradient norm that clipping uses covers every stage, the tied embedding once
    assert first["norms"] == last["norms"] == pytest.approx(ref["norms"], rel=1e-5)
    # every parameter's gradient of step 0 (the tied GPT-2 embedding on both stages) is the 1-process one
    grads = {k: g for r in ranks for k, g in r["grads"].items()}
    assert set(grads) == set(ref["grads"]) | ({"lm_head.weight"} if arch == "gpt2" else set())
    for name, grad in grads.items():
        expected = ref["grads"].get(name, ref["grads"].get("transformer.wte.weight"))
        torch.testing.assert_close(grad, expected, rtol=1e-5, atol=1e-7, msg=name)
    # the merged stage state dicts load strictly into the HF model and give the 1-process weights
    model = tiny_model(arch)
    model.load_state_dict(first["state"], strict=True)
    for name, value in model.state_dict().items():
        expected = ref["state"][name]
        if name.endswith("attn.c_attn.bias"):
            # GPT-2's key bias has no gradient in exact arithmetic (softmax ignores a shift of all
            # scores); AdamW turns its rounding-noise gradient (~1e-11) into steps that drift ~1e-5
            key = slice(value.numel() // 3, 2 * value.numel() // 3)
            torch.testing.assert_close(value[key], expected[key], rtol=0.0, atol=1e-4, msg=name)
            value, expected = value.clone(), expected.clone()
            value[key] = expected[key] = 0.0
        torch.testing.assert_close(value, expected, rtol=0.0, atol=1e-5, msg=name)
    inputs, labels = model_inputs(held_out(), torch.device("cpu"), "clm")
    with torch.no_grad():
        expected_eval = loss_sum(ref["model"](**inputs).logits, labels, causal=True)
    torch.testing.assert_close(last["eval"], expected_eval, rtol=1e-5, atol=0.0)


@pytest.mark.parametrize(("arch", "schedule"), CASES)
def test_pp2_matches_one_process(pp_runs: Path, arch: str, schedule: str) -> None:
    first, last = (torch.load(pp_runs / f"{arch}-{schedule}-rank{r}.pt") for r in (0, 1))
    # the loss and the eval loss live on the last stage, the merged state dict on the first
    assert first["losses"] == [] and len(last["losses"]) == STEPS
    assert first["eval"] is None and last["state"] is None
    assert_like_one_process(arch, [first, last])


@pytest.mark.parametrize("wrapper", ["ddp", "fsdp"])
def test_dp2_through_wrap_matches_one_process(pp_runs: Path, wrapper: str) -> None:
    """pp1 x dp2, DDP (1F1B) or FSDP2 (GPipe) applied by build_pipeline's `wrap`: dp_size=2 undoes their
    averaging, so each rank's half of every micro-batch back-propagates its CE sum / the global N."""
    ranks = [torch.load(pp_runs / f"llama-{wrapper}-rank{r}.pt") for r in (0, 1)]
    assert ranks[0]["losses"] == ranks[1]["losses"]
    assert_like_one_process("llama", ranks[:1])
    assert_like_one_process("llama", ranks[1:])


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
@pytest.mark.parametrize("doc_attention", [True, False])
def test_three_stages_chained_give_the_model_logits(arch: str, doc_attention: bool) -> None:
    """Stage forwards (first, middle, last) rebuild positions, packed-document masks and RoPE as the
    HF model does: chained, they give its logits, for position_ids and for an attention_mask batch."""
    chunks = np.random.default_rng(7).integers(3, VOCAB, size=(3, SEQ))
    chunks[:, [4, 11]] = EOS  # three documents per row
    inputs, _ = model_inputs(
        clm_collate(chunks, eos_id=EOS, doc_attention=doc_attention), torch.device("cpu"), "clm"
    )
    assert ("position_ids" in inputs) == doc_attention
    if not doc_attention:
        inputs["attention_mask"][0, -5:] = 0  # right padding: the padded positions see only themselves
    with torch.no_grad():
        expected = tiny_model(arch, layers=5)(**inputs).logits
        h = inputs.pop("input_ids")
        masks = {k: v for k, v in inputs.items() if k != "use_cache"}
        for s in range(3):
            h = split_model(tiny_model(arch, layers=5), s, 3)(h, **masks)
    torch.testing.assert_close(h, expected, rtol=1e-5, atol=1e-5)


def test_stage_split_rule_and_fqns() -> None:
    """Longer stages first; each stage holds exactly its HF-named parts, which together are the model."""
    assert stage_layers(10, 4) == [range(0, 3), range(3, 6), range(6, 8), range(8, 10)]
    assert stage_layers(4, 4) == [range(i, i + 1) for i in range(4)]
    names = set(tiny_model("llama", layers=5).state_dict())
    parts = [set(split_model(tiny_model("llama", layers=5), s, 3).state_dict()) for s in range(3)]
    assert set.union(*parts) == names and sum(map(len, parts)) == len(names)
    assert "model.embed_tokens.weight" in parts[0] and "model.layers.1.mlp.up_proj.weight" in parts[0]
    assert (
        "model.layers.2.self_attn.q_proj.weight" in parts[1]
        and "model.layers.3.input_layernorm.weight" in parts[1]
    )
    assert {"model.layers.4.mlp.down_proj.weight", "model.norm.weight", "lm_head.weight"} <= parts[2]


def test_errors_name_the_field() -> None:
    with pytest.raises(ValueError, match="pipeline_parallel: 5 stages but the model has 4 layers"):
        split_model(tiny_model("llama"), 0, 5)
    bert = AUTO_CLASS["bert"].from_config(
        CONFIG_CLASS["bert"](**tiny_defaults("bert", SEQ), vocab_size=VOCAB)
    )
    with pytest.raises(ValueError, match="pipeline_parallel: model.arch 'bert' has no stage split"):
        split_model(bert, 0, 2)
    stage = split_model(tiny_model("llama"), 0, 1)
    pipe = Pipeline(stage, stage, None, None, None, n_microbatches=4)  # type: ignore[arg-type]
    rows = {k: v[:6] for k, v in whole_step(step_batches(0)).items()}
    inputs, labels = model_inputs(rows, torch.device("cpu"), "clm")
    with pytest.raises(
        ValueError, match="batch_size: a batch of 6 examples does not split into n_microbatches=4"
    ):
        pipeline_step(pipe, inputs, labels, 1)


if __name__ == "__main__":
    _worker(Path(sys.argv[1]))
