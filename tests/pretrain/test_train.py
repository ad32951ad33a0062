"""End-to-end runs on CPU: every objective learns, saved models reload, resume is exact (also after a
real kill -9, with other DataLoader workers, with other ranks), DDP and FSDP2 (gloo) match one process."""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer

from pretrain.config import ModelConfig, RunConfig
from pretrain.metrics import read_metrics
from pretrain.models import AUTO_CLASS, build_model, enable_activation_checkpointing
from pretrain.train import lr_at, train
from tests.pretrain.fixtures import Workspace, build_mixture, build_workspace, run_and_die_at
from tokenization.mixture import read_mixture
from tokenization.shards import TokenShards
from tokenization.stream import WINDOW, DocStream

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
    out = capsys.readouterr().out
    assert "step    20/40 | loss" in out and "| mfu n/a | mem" in out  # one log line per log step
    assert f"[{arch}-{objective}] mix @ 20: books" in out  # realised vs target mix per source
    train_rows = read_metrics(tmp_path / "metrics.jsonl", "train")
    assert [r["step"] for r in train_rows] == [20, 40]
    assert train_rows[-1]["loss"] == pytest.approx(losses[-1]) and train_rows[-1]["tokens_per_s"] > 0
    mix = result["mix"]
    assert sum(m["tokens"] for m in mix.values()) == sum(result["tokens_per_source"].values())
    assert all(m["epochs"] > 0 for m in mix.values())

    model_dir = Path(result["model_dir"])
    model = AUTO_CLASS[arch].from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert model.config.model_type == arch and model.config.vocab_size == len(tokenizer) == 600
    fresh = build_model(_run(arch, objective), tokenizer)
    assert type(model) is type(fresh)
    assert sum(p.numel() for p in model.parameters()) == result["params"]
    assert not (tmp_path / "checkpoint").exists()  # no ckpt_every, no checkpoint


@pytest.mark.parametrize(
    ("arch", "objective", "workers_after"), [("gpt2", "clm", 2), ("bert", "mlm", 0), ("xlnet", "plm", 0)]
)
def test_resume_reproduces_an_uninterrupted_run(
    ws: Workspace, tmp_path: Path, arch: str, objective: str, workers_after: int
) -> None:
    run = _run(arch, objective, steps=20, ckpt_every=10, log_every=100)
    straight = _train(ws, run, tmp_path / "straight")

    first = _train(ws, run, tmp_path / "resumed", stop_after=10)  # "preempted" after step 10
    assert len(first["losses"]) == 10 and first["model_dir"] is None
    assert (tmp_path / "resumed" / "checkpoint" / "state.pt").exists()
    assert not (tmp_path / "resumed" / "model").exists()
    # resume with another number of DataLoader workers: the same examples in the same order
    resumed = _train(ws, run.model_copy(update={"num_workers": workers_after}), tmp_path / "resumed")

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


def test_loss_is_normalised_by_target_tokens_across_micro_batches(ws: Workspace, tmp_path: Path) -> None:
    """MLM micro-batches hold different numbers of masked tokens: 2 x 4 accumulated must equal 1 x 8
    (sum of token losses / all targets), which a mean of per-micro-batch means would not."""
    whole = _train(ws, _run("bert", "mlm", steps=3, batch_size=8), tmp_path / "whole")
    split = _train(ws, _run("bert", "mlm", steps=3, batch_size=4, grad_accum=2), tmp_path / "split")
    assert split["losses"] == pytest.approx(whole["losses"], rel=1e-5)


@pytest.mark.parametrize(("arch", "objective"), [("llama", "clm"), ("bert", "mlm")])
def test_activation_checkpointing_recomputes_the_same_steps(
    ws: Workspace, tmp_path: Path, arch: str, objective: str
) -> None:
    """Recomputing activations in the backward pass changes memory, not the numbers."""
    model = build_model(_run(arch, objective), AutoTokenizer.from_pretrained(ws.tokenizer_dir))
    enable_activation_checkpointing(model)  # what train() calls: it must really switch recomputation on
    new_name = hasattr(type(model), "is_activation_checkpointing")  # transformers >= 5.2x (old name warns)
    assert model.is_activation_checkpointing if new_name else model.is_gradient_checkpointing
    plain = _train(ws, _run(arch, objective, steps=3), tmp_path / "plain")
    recomputed = _train(ws, _run(arch, objective, steps=3, activation_checkpointing=True), tmp_path / "ckpt")
    assert recomputed["losses"] == pytest.approx(plain["losses"], rel=1e-5)
    assert len(plain["losses"]) == 3


def test_eval_metrics_and_tensorboard(
    ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run("gpt2", "clm", steps=6, log_every=3, eval_every=3, eval_batches=2, eval_holdout=0.1)
    result = _train(ws, run, tmp_path / "holdout")
    evals = read_metrics(tmp_path / "holdout" / "metrics.jsonl", "eval")
    assert [r["step"] for r in evals] == [3, 6]
    assert evals[-1]["ppl"] == pytest.approx(math.exp(evals[-1]["loss"])) and evals[-1]["targets"] > 0
    assert result["eval"] == {k: evals[-1][k] for k in ("loss", "ppl", "targets")}
    assert evals[1]["loss"] < evals[0]["loss"]  # the held-out loss falls too
    assert "eval @ 6: loss" in capsys.readouterr().out
    mix = read_metrics(tmp_path / "holdout" / "metrics.jsonl", "mix")
    assert {"web/share", "web/target", "web/epochs", "web/tokens"} <= set(mix[-1])
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return  # JSONL only
    assert list((tmp_path / "holdout" / "tb").glob("events.out.tfevents.*"))

    # a separate held-out token directory (here: the training shards themselves)
    other = run.model_copy(update={"eval_holdout": 0.0, "eval_tokens": str(ws.tokens_dir), "steps": 3})
    separate = _train(ws, other, tmp_path / "dir")["eval"]
    assert separate["targets"] > 0 and math.isfinite(separate["loss"])


def test_kill_9_and_resume_reproduces_the_run(ws: Workspace, tmp_path: Path) -> None:
    """A real kill -9 between checkpoints (forked, so no second interpreter start-up): rerunning resumes
    from the last complete checkpoint and ends with the uninterrupted run's losses, bit for bit."""
    run = _run("gpt2", "clm", steps=16, ckpt_every=5, log_every=100)
    straight = _train(ws, run, tmp_path / "straight")
    child = mp.get_context("fork").Process(target=run_and_die_at, args=(13, ws, run, tmp_path / "killed"))
    child.start()
    child.join(timeout=300)
    assert child.exitcode == -signal.SIGKILL
    assert not (tmp_path / "killed" / "model").exists()
    assert torch.load(tmp_path / "killed" / "checkpoint" / "state.pt", weights_only=True)["step"] == 10
    resumed = _train(ws, run, tmp_path / "killed")  # picks up the step-10 checkpoint
    assert resumed["losses"] == straight["losses"]


_DDP_SCRIPT = """
import json, sys
from pathlib import Path
import numpy as np
import torch
torch.set_num_threads(1)
from torch.utils.data import DataLoader
from pretrain import distributed as D
from pretrain.config import RunConfig
from pretrain.data.stream import PretrainStream
from pretrain.objectives import clm_collate
from pretrain.train import train
args = json.loads(sys.argv[1])
# each rank streams its share of one shuffle window through 2 DataLoader workers: (g, tokens) pairs
info = D.init_distributed()
spec = args["stream"]
ds = PretrainStream(args["tokens"], spec["mixture"], clm_collate, chunk_len=spec["chunk_len"],
                    batch_size=spec["batch_size"], seed=0, rank=info.rank, world=info.world)
n = spec["examples"] // (spec["batch_size"] * info.world)
loader = DataLoader(ds, batch_size=None, num_workers=2)
seen = {}
for idx, batch in zip(ds.index_batches(), loader):
    seen.update({g: row for g, row in zip(idx, batch["input_ids"].tolist())})
    if len(seen) == n * spec["batch_size"]:
        break
every = D.gather_objects(seen)
if info.is_main:
    Path(spec["out"]).write_text(json.dumps([{str(g): r for g, r in s.items()} for s in every]))
for job in args["jobs"]:
    run = RunConfig.model_validate(job["run"])
    train(run, Path(args["tokens"]), Path(args["mixture"]), Path(args["tokenizer"]), Path(job["out"]))
"""


def test_ddp_and_fsdp_ranks_match_one_process(ws: Workspace, tmp_path: Path) -> None:
    """torchrun x2 (gloo).  DDP with batch 4 x accum 2 per rank sees the same 16 examples per step as
    one process with batch 8 x accum 2, and reaches the same losses and weights, since the loss is
    normalised by the global count of MLM targets.  A 1-process checkpoint (batch 4) resumes on 2
    FSDP2 ranks (batch 2 each): the same examples and losses as the uninterrupted 1-process run.
    Before training, the two ranks stream one shuffle window of a one-source mixture: their examples
    are disjoint and together are exactly the window, whose first epoch is every document once."""
    single = _train(ws, _run("bert", "mlm", steps=4, batch_size=8, grad_accum=2), tmp_path / "single")
    ranked = _run("bert", "mlm", steps=4, batch_size=4, grad_accum=2)
    clm = _run("gpt2", "clm", steps=8, batch_size=4, ckpt_every=4, log_every=100)
    straight = _train(ws, clm, tmp_path / "clm-straight")
    _train(ws, clm, tmp_path / "clm-resumed", stop_after=4)  # one process, checkpoint at step 4
    jobs = [
        {"run": ranked.model_dump(), "out": str(tmp_path / "ddp")},
        {
            "run": clm.model_copy(update={"parallel": "fsdp", "batch_size": 2}).model_dump(),
            "out": str(tmp_path / "clm-resumed"),
        },
    ]
    script = tmp_path / "ddp.py"
    script.write_text(_DDP_SCRIPT)
    args = {
        "jobs": jobs,
        "tokens": str(ws.tokens_dir),
        "mixture": str(ws.mixture_path),
        "tokenizer": str(ws.tokenizer_dir),
        "stream": {
            "mixture": str(tmp_path / "web.json"),
            "chunk_len": 16,
            "batch_size": 16,
            "examples": WINDOW,
            "out": str(tmp_path / "seen.json"),
        },
    }
    build_mixture(tmp_path / "web.json", {"web": 1.0})
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
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stderr[-4000:]
    ranks = json.loads((tmp_path / "ddp" / "losses.json").read_text())
    assert ranks["examples"] == single["examples"] == 4 * 16
    assert ranks["losses"] == pytest.approx(single["losses"], rel=1e-4)
    ddp_model = AUTO_CLASS["bert"].from_pretrained(tmp_path / "ddp" / "model").state_dict()
    one_model = AUTO_CLASS["bert"].from_pretrained(tmp_path / "single" / "model").state_dict()
    assert all(torch.allclose(ddp_model[k], one_model[k], atol=1e-4) for k in one_model)
    # 1 rank x batch 4 -> 2 ranks x batch 2 (FSDP) from the same checkpoint: same examples, same losses
    resumed = json.loads((tmp_path / "clm-resumed" / "losses.json").read_text())
    assert resumed["examples"] == straight["examples"]
    assert resumed["losses"] == pytest.approx(straight["losses"], rel=1e-4)

    # two gloo ranks x 2 workers: disjoint examples whose union is the window, i.e. the dataset
    rank0, rank1 = (
        {int(g): row for g, row in r.items()} for r in json.loads((tmp_path / "seen.json").read_text())
    )
    assert not rank0.keys() & rank1.keys() and sorted(rank0.keys() | rank1.keys()) == list(range(WINDOW))
    shards = TokenShards(ws.tokens_dir)
    stream = DocStream(shards, read_mixture(tmp_path / "web.json"))
    window = stream.tokens(0, WINDOW * 16).reshape(WINDOW, 16)
    union = sorted(map(tuple, [*rank0.values(), *rank1.values()]))
    assert union == sorted(map(tuple, window.tolist()))  # the same chunks, each exactly once
    epoch = int(shards.doc_lengths("web").sum()) + shards.num_docs("web")  # + one EOS per document
    assert epoch < WINDOW * 16
    docs = np.split(
        window.reshape(-1)[:epoch], np.flatnonzero(window.reshape(-1)[:epoch] == shards.eos_id) + 1
    )
    every = sorted(tuple(shards.doc("web", d).tolist()) for d in range(shards.num_docs("web")))
    assert sorted(tuple(d[:-1].tolist()) for d in docs if len(d)) == every  # every document once
