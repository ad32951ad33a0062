"""train() on one device mesh (gloo, 4 processes): tp2 x dp2, pp2 x dp2 and tp2 x pp2 train the tiny Llama
to the losses of one process and export models that give its logits; the tp2 x dp2 sharded checkpoint,
cut short by a real kill -9, resumes at dp2 and on one process to the uninterrupted losses.  Layout
errors name the field.

The ranks are forked from the test process (torchrun's environment, gloo on 127.0.0.1), so four ranks
cost no interpreter start-up; tests/pretrain/test_train.py launches real torchrun.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import shutil
import signal
import socket
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from pretrain.config import ModelConfig, RunConfig

STEPS, BATCH = 20, 8  # global batch of 8 sequences: 8 x 1 process, 4 x 2 data-parallel ranks
REL = 1e-4


def _run(name: str, arch: str = "llama", **kw: Any) -> RunConfig:
    # Llama with GQA: 2 query heads and 1 KV head per rank; GPT-2 with 2 heads per rank, tied embeddings
    heads = {"num_attention_heads": 4, "num_key_value_heads": 2} if arch == "llama" else {"n_head": 4}
    args = {"seq_len": 32, "batch_size": BATCH, "steps": STEPS, "log_every": 100, "lr": 3e-3, "seed": 3} | kw
    return RunConfig(name=name, objective="clm", model=ModelConfig(arch=arch, overrides=heads), **args)


def _ranks(n: int, jobs: list[dict], ws: Any) -> list[int]:
    """Run `jobs` on n forked ranks (gloo over 127.0.0.1; forked, so no interpreter start-up per rank).

    Returns each rank's exit code; once one rank dies the others get 20 s to follow before they are
    killed (a rank blocked in a collective with a dead peer would wait for gloo's 30-minute timeout).
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_rank, args=(rank, n, port, jobs, ws)) for rank in range(n)]
    for proc in procs:
        proc.start()
    deadline = time.monotonic() + 600
    while any(p.exitcode is None for p in procs) and time.monotonic() < deadline:
        if any(p.exitcode not in (None, 0) for p in procs):
            deadline = min(deadline, time.monotonic() + 20)
        time.sleep(0.2)
    for proc in procs:
        if proc.exitcode is None:
            proc.kill()
        proc.join()
    return [p.exitcode for p in procs]


def _rank(rank: int, world: int, port: int, jobs: list[dict], ws: Any) -> None:
    """One rank: torchrun's environment, then each job's train() (up to its `stop_after`); a job with
    `die_at` SIGKILLs this rank when that step begins (a preemption)."""
    os.environ.update(
        {"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world)}
        | {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    )
    import pretrain.train as T

    real = T.lr_at
    for job in jobs:
        die = job.get("die_at")

        def lr_at(step: int, run: RunConfig, die: int | None = die) -> float:
            if step == die:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(step, run)

        T.lr_at = lr_at
        T.train(
            RunConfig.model_validate(job["run"]),
            ws.tokens_dir,
            ws.mixture_path,
            ws.tokenizer_dir,
            Path(job["out"]),
            stop_after=job.get("stop_after"),
        )


def _losses(out: Path) -> list[float]:
    return json.loads((out / "losses.json").read_text())["losses"]


def _close(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= REL * abs(y) for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.pretrain.fixtures import build_workspace

    return build_workspace(tmp_path_factory.mktemp("tp"))


def test_each_layout_matches_one_process_and_a_checkpoint_resumes_on_other_meshes(
    ws: Any, tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM

    from pretrain.train import train

    def one(run: RunConfig, out: Path, **kw: Any) -> dict:
        return train(run, ws.tokens_dir, ws.mixture_path, ws.tokenizer_dir, out, **kw)

    single = one(_run("one"), tmp_path / "one")
    gpt2 = one(_run("gpt2", "gpt2", steps=6), tmp_path / "gpt2-one")
    # 4 ranks: uninterrupted runs of each layout (the global batch always 8: the pipelines split theirs
    # into grad_accum = 2 micro-batches), then a tp2 x dp2 run that checkpoints every 10 steps and is
    # SIGKILLed (every rank) when step 13 begins, after the step-10 checkpoint was committed
    tp = _run("tp", batch_size=BATCH // 2, tensor_parallel=2, parallel="fsdp")
    layouts = {
        "tp2-dp2": tp,
        "pp2-dp2": _run("pp", batch_size=BATCH // 4, grad_accum=2, pipeline_parallel=2),
        "tp2-pp2": _run("tp-pp", batch_size=BATCH // 2, grad_accum=2, tensor_parallel=2, pipeline_parallel=2),
    }
    gpt2_tp = _run("gpt2", "gpt2", steps=6, batch_size=BATCH // 2, tensor_parallel=2)  # GPT-2: DDP on dp
    killed = tp.model_copy(update={"ckpt_every": 10, "parallel": "ddp"})
    jobs = [{"run": run.model_dump(), "out": str(tmp_path / name)} for name, run in layouts.items()]
    jobs += [
        {"run": gpt2_tp.model_dump(), "out": str(tmp_path / "gpt2-tp")},
        {"run": killed.model_dump(), "out": str(tmp_path / "killed"), "die_at": 12},
    ]
    assert _ranks(4, jobs, ws) == [-signal.SIGKILL] * 4
    assert not (tmp_path / "killed" / "model").exists()
    assert torch.load(tmp_path / "killed" / "checkpoint" / "state.pt", weights_only=True)["step"] == 10

    # every layout = one process, step by step, and its export is a plain HF model giving the same logits
    ids = torch.randint(7, 500, (2, 32), generator=torch.Generator().manual_seed(0))

    def logits(out: Path) -> torch.Tensor:
        with torch.no_grad():
            return AutoModelForCausalLM.from_pretrained(out / "model")(input_ids=ids).logits

    want = logits(tmp_path / "one")
    for name in layouts:
        assert _close(_losses(tmp_path / name), single["losses"]), (
            name,
            _losses(tmp_path / name),
            single["losses"],
        )
        got = logits(tmp_path / name)
        assert torch.allclose(got, want, atol=1e-3), (name, (got - want).abs().max())
    assert _close(_losses(tmp_path / "gpt2-tp"), gpt2["losses"]), (
        _losses(tmp_path / "gpt2-tp"),
        gpt2["losses"],
    )

    # the tp2 x dp2 checkpoint resumes at dp2 (2 ranks x 4) and on one process (1 x 8); on the same 2
    # ranks, GPT-2 goes from one process to pp2 and back (its tied embedding is one parameter on one
    # process, two copies on the first and last stage: each must find its AdamW state)
    for name in ("dp2", "single"):
        shutil.copytree(tmp_path / "killed", tmp_path / name)
    dp2 = killed.model_copy(update={"tensor_parallel": 1})
    gpt2_one = _run("gpt2", "gpt2", steps=6, ckpt_every=2)
    one(gpt2_one, tmp_path / "gpt2-pp", stop_after=2)
    gpt2_pp = gpt2_one.model_copy(update={"batch_size": BATCH // 2, "grad_accum": 2, "pipeline_parallel": 2})
    jobs = [
        {"run": dp2.model_dump(), "out": str(tmp_path / "dp2")},
        {"run": gpt2_pp.model_dump(), "out": str(tmp_path / "gpt2-pp"), "stop_after": 4},
    ]
    assert _ranks(2, jobs, ws) == [0, 0]
    resumed = one(killed.model_copy(update={"tensor_parallel": 1, "batch_size": BATCH}), tmp_path / "single")
    for losses in (_losses(tmp_path / "dp2"), resumed["losses"]):
        assert _close(losses, single["losses"]), (losses, single["losses"])
    assert _close(one(gpt2_one, tmp_path / "gpt2-pp")["losses"], gpt2["losses"])


def test_layout_errors_name_the_field_and_the_fix(ws: Any, tmp_path: Path) -> None:
    from pydantic import ValidationError
    from transformers import GPT2Config, LlamaConfig

    from pretrain.parallel.mesh import data_parallel_size
    from pretrain.parallel.pipeline import stage_layers
    from pretrain.parallel.tensor import check_tensor_parallel
    from pretrain.train import train

    with pytest.raises(ValidationError, match=r"tensor_parallel=2: model.arch='bert' has no tensor parallel"):
        RunConfig(name="b", objective="mlm", model=ModelConfig(arch="bert"), tensor_parallel=2)
    with pytest.raises(
        ValidationError, match=r"pipeline_parallel=2: model.arch='t5' .* pipeline_parallel: 1"
    ):
        RunConfig(name="t", objective="span", model=ModelConfig(arch="t5"), pipeline_parallel=2)
    with pytest.raises(ValidationError, match=r"parallel=fsdp with tensor_parallel > 1 .* use parallel: ddp"):
        _run("g", "gpt2", tensor_parallel=2, parallel="fsdp")
    with pytest.raises(ValidationError, match=r"grad_accum=1 micro-batches for pipeline_parallel=2 .* gpipe"):
        _run("p", pipeline_parallel=2)
    with pytest.raises(ValidationError, match="seq_len=30 is not divisible by tensor_parallel=4"):
        _run("s", seq_len=30, tensor_parallel=4)

    assert data_parallel_size(8, 2, 2) == 2 and data_parallel_size(4, 2, 1) == 2
    with pytest.raises(
        ValueError, match=r"world size 6 is not divisible by tensor_parallel x pipeline_parallel = 4 x 1"
    ):
        data_parallel_size(6, 4, 1)
    with pytest.raises(ValueError, match="world size 1 is not divisible"):  # checked when train() starts
        train(_run("w", tensor_parallel=2), ws.tokens_dir, ws.mixture_path, ws.tokenizer_dir, tmp_path)

    with pytest.raises(ValueError, match=r"pipeline_parallel: 3 stages but the model has 2 layers"):
        stage_layers(2, 3)
    check_tensor_parallel(LlamaConfig(num_attention_heads=4, num_key_value_heads=2), 2)
    with pytest.raises(
        ValueError, match=r"tensor_parallel=2 does not divide the model's num_key_value_heads=1"
    ):
        check_tensor_parallel(LlamaConfig(num_attention_heads=4, num_key_value_heads=1), 2)
    with pytest.raises(ValueError, match=r"num_attention_heads=3: .* model.overrides.num_attention_heads"):
        check_tensor_parallel(GPT2Config(n_head=3, n_embd=96), 2)
