"""Sharded checkpoints (torch.distributed.checkpoint) on one process: a save cut off by kill -9 before its
shards are complete never counts (state.pt, the commit, still names the previous one), and a resume with
another global batch is refused unless the run allows it.  Resharding across layouts is tested in
test_tensor_parallel.py."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from pathlib import Path

import pytest
import torch

from pretrain.config import ModelConfig, RunConfig
from pretrain.train import train
from tests.pretrain.fixtures import Workspace, build_workspace


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return build_workspace(tmp_path_factory.mktemp("dcp"), per_source=40)


def _run(**kw) -> RunConfig:
    args = {"seq_len": 32, "batch_size": 4, "steps": 12, "ckpt_every": 5, "log_every": 100} | kw
    return RunConfig(name="ckpt", objective="clm", model=ModelConfig(arch="gpt2"), **args)


def _train(ws: Workspace, run: RunConfig, out: Path, **kw) -> dict:
    return train(run, ws.tokens_dir, ws.mixture_path, ws.tokenizer_dir, out, **kw)


def _die_while_writing(ws: Workspace, run: RunConfig, out: Path) -> None:
    """In a forked child: train, and SIGKILL ourselves when the step-10 save has written its shards but
    not yet its metadata (the DCP writer's last act)."""
    import torch.distributed.checkpoint as dcp

    real_finish = dcp.FileSystemWriter.finish

    def finish(self, *args, **kwargs):  # noqa: ANN001, ANN202
        if "step-00000010" in str(self.path):
            os.kill(os.getpid(), signal.SIGKILL)
        return real_finish(self, *args, **kwargs)

    dcp.FileSystemWriter.finish = finish
    _train(ws, run, out)


def test_a_checkpoint_killed_while_writing_never_counts(
    ws: Workspace, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run()
    straight = _train(ws, run, tmp_path / "straight")
    child = mp.get_context("fork").Process(target=_die_while_writing, args=(ws, run, tmp_path / "killed"))
    child.start()
    child.join(timeout=300)
    assert child.exitcode == -signal.SIGKILL
    ckpt = tmp_path / "killed" / "checkpoint"
    state = torch.load(ckpt / "state.pt", weights_only=True)
    assert state["step"] == 5 and state["dcp"] == "step-00000005"  # the commit names the complete save
    assert (ckpt / "step-00000010").is_dir() and not (ckpt / "step-00000010" / ".metadata").exists()

    capsys.readouterr()
    resumed = _train(ws, run, tmp_path / "killed")
    assert "resumed at step 5" in capsys.readouterr().out
    assert resumed["losses"] == straight["losses"]  # bit-identical on CPU
    # the step-10 save was written again and committed; older folders are gone
    assert torch.load(ckpt / "state.pt", weights_only=True)["step"] == 10
    assert sorted(p.name for p in ckpt.iterdir()) == ["state.pt", "step-00000010"]


def test_resuming_with_another_global_batch_is_refused_unless_allowed(ws: Workspace, tmp_path: Path) -> None:
    run = _run(steps=6, ckpt_every=2)
    _train(ws, run, tmp_path, stop_after=2)  # 2 steps of 4 examples
    doubled = run.model_copy(update={"batch_size": 8})
    with pytest.raises(
        ValueError, match=r"global batch is 4 \(batch_size 4 x grad_accum 1 x 1 data-parallel"
    ) as e:
        _train(ws, doubled, tmp_path)
    assert "this run's 8 (batch_size 8" in str(e.value) and "allow_global_batch_change: true" in str(e.value)
    # the same global batch in another split resumes; an explicit allowance continues with the new batch
    split = _train(ws, run.model_copy(update={"batch_size": 2, "grad_accum": 2}), tmp_path, stop_after=4)
    assert split["examples"] == 4 * 4
    result = _train(ws, doubled.model_copy(update={"allow_global_batch_change": True}), tmp_path)
    assert len(result["losses"]) == 6 and result["examples"] == 4 * 4 + 2 * 8
