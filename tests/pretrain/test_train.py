"""End-to-end runs on CPU: every objective learns, saved models reload, resume is exact, DDP matches."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from pretrain.config import ModelConfig, RunConfig
from pretrain.models import AUTO_CLASS, build_model
from pretrain.train import lr_at, train
from tests.pretrain.fixtures import Workspace, build_workspace

REPO = Path(__file__).resolve().parents[2]
PAIRS = [
    ("gpt2", "clm"),
    ("llama", "clm"),
    ("bert", "mlm"),
    ("roberta", "mlm"),
    ("t5", "span"),
    ("xlnet", "plm"),
]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return build_workspace(tmp_path_factory.mktemp("train"))


def _run(arch: str, objective: str, **kw) -> RunConfig:
    args = {"seq_len": 32, "batch_size": 8, "steps": 40, "log_every": 20} | kw
    return RunConfig(name=f"{arch}-{objective}", objective=objective, model=ModelConfig(arch=arch), **args)


def _train(ws: Workspace, run: RunConfig, out: Path, **kw) -> dict:
    return train(run, ws.tokens_dir, ws.mixture_path, ws.tokenizer_dir, out, **kw)


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


@pytest.mark.parametrize(("arch", "objective"), PAIRS)
def test_each_objective_learns_and_saves_a_loadable_model(
    ws: Workspace, tmp_path: Path, arch: str, objective: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = _train(ws, _run(arch, objective), tmp_path)
    losses = result["losses"]
    assert len(losses) == 40 and all(math.isfinite(x) for x in losses)
    assert _mean(losses[-10:]) < _mean(losses[:10]) - 0.5
    assert result["first20_mean"] == pytest.approx(_mean(losses[:20]))
    assert result["last20_mean"] == pytest.approx(_mean(losses[-20:]))
    assert result["name"] == f"{arch}-{objective}" and result["objective"] == objective
    assert 50_000 < result["params"] < 500_000
    assert set(result["tokens_per_source"]) == {"web", "books", "code"}
    assert json.loads((tmp_path / "losses.json").read_text()) == json.loads(json.dumps(result))
    assert "step    20/40 | loss" in capsys.readouterr().out  # one log line per log step

    model_dir = Path(result["model_dir"])
    model = AUTO_CLASS[arch].from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert model.config.model_type == arch and model.config.vocab_size == len(tokenizer) == 600
    fresh = build_model(_run(arch, objective), tokenizer)
    assert type(model) is type(fresh)
    assert sum(p.numel() for p in model.parameters()) == result["params"]
    assert not (tmp_path / "checkpoint").exists()  # no ckpt_every, no checkpoint


@pytest.mark.parametrize(("arch", "objective"), [("gpt2", "clm"), ("bert", "mlm"), ("xlnet", "plm")])
def test_resume_reproduces_an_uninterrupted_run(
    ws: Workspace, tmp_path: Path, arch: str, objective: str
) -> None:
    run = _run(arch, objective, steps=20, ckpt_every=10, log_every=100)
    straight = _train(ws, run, tmp_path / "straight")

    first = _train(ws, run, tmp_path / "resumed", stop_after=10)  # "preempted" after step 10
    assert len(first["losses"]) == 10 and first["model_dir"] is None
    assert (tmp_path / "resumed" / "checkpoint" / "state.pt").exists()
    assert not (tmp_path / "resumed" / "model").exists()
    resumed = _train(ws, run, tmp_path / "resumed")

    assert resumed["losses"] == straight["losses"]  # bit-identical on CPU
    assert resumed["examples"] == straight["examples"] == 20 * 8
    a = AUTO_CLASS[arch].from_pretrained(straight["model_dir"]).state_dict()
    b = AUTO_CLASS[arch].from_pretrained(resumed["model_dir"]).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # a finished run's rerun resumes at the end: nothing more is trained
    assert _train(ws, run, tmp_path / "resumed")["losses"] == straight["losses"]


def test_overrides_grad_accum_and_schedule(ws: Workspace, tmp_path: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(ws.tokenizer_dir)

    def gpt2(overrides: dict) -> RunConfig:
        return RunConfig(
            name="s", objective="clm", model=ModelConfig(arch="gpt2", overrides=overrides), seq_len=32
        )

    small = build_model(gpt2({"n_layer": 1}), tokenizer)
    assert small.config.n_layer == 1 and small.config.n_embd == 64 and small.config.pad_token_id == 0
    with pytest.raises(ValueError, match="n_layers"):
        build_model(gpt2({"n_layers": 1}), tokenizer)

    result = _train(ws, _run("llama", "clm", steps=4, grad_accum=3, batch_size=2), tmp_path)
    assert len(result["losses"]) == 4 and result["examples"] == 4 * 3 * 2

    run = _run("gpt2", "clm", steps=100, warmup_steps=10, lr=1e-3)
    assert lr_at(0, run) == pytest.approx(1e-4) and lr_at(9, run) == pytest.approx(1e-3)
    assert lr_at(10, run) == pytest.approx(1e-3) and lr_at(100, run) == pytest.approx(1e-4)
    assert all(lr_at(s, run) >= lr_at(s + 1, run) for s in range(10, 100))


_DDP_SCRIPT = """
import json, sys
from pathlib import Path
from pretrain.config import RunConfig
from pretrain.train import train
args = json.loads(sys.argv[1])
run = RunConfig.model_validate(args["run"])
result = train(run, Path(args["tokens"]), Path(args["mixture"]), Path(args["tokenizer"]), Path(args["out"]))
"""


def test_two_ddp_ranks_match_one_process(ws: Workspace, tmp_path: Path) -> None:
    """torchrun x2 (gloo) with batch 4 sees the same 8 examples per step as one process with batch 8."""
    single = _train(ws, _run("gpt2", "clm", steps=6, batch_size=8), tmp_path / "single")
    ddp_run = _run("gpt2", "clm", steps=6, batch_size=4)
    script = tmp_path / "ddp.py"
    script.write_text(_DDP_SCRIPT)
    args = {
        "run": ddp_run.model_dump(),
        "tokens": str(ws.tokens_dir),
        "mixture": str(ws.mixture_path),
        "tokenizer": str(ws.tokenizer_dir),
        "out": str(tmp_path / "ddp"),
    }
    env = os.environ | {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        str(script),
        json.dumps(args),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ddp = json.loads((tmp_path / "ddp" / "losses.json").read_text())
    assert ddp["examples"] == single["examples"] == 48
    assert ddp["losses"] == pytest.approx(single["losses"], rel=1e-4)
