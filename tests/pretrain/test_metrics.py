"""metrics.jsonl and TensorBoard after a resume: each step a resumed run replays is logged once,
with the resumed run's values (also after a real kill -9 between checkpoints)."""

from __future__ import annotations

import multiprocessing as mp
import signal
import time
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from pretrain.config import ModelConfig, RunConfig
from pretrain.metrics import METRICS_FILE, MetricsLog, read_metrics
from pretrain.train import train
from tests.pretrain.fixtures import Workspace, build_workspace, run_and_die_at


def _scalars(run_dir: Path, tag: str) -> list[tuple[int, float]]:
    """(step, value) of a tag as TensorBoard shows it: events a later session purged are left out."""
    events = EventAccumulator(str(run_dir / "tb"))
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)]


def _steps(rows: list[dict]) -> list[int]:
    return [r["step"] for r in rows]


def test_a_session_replaces_the_records_of_the_steps_it_replays(tmp_path: Path) -> None:
    first = MetricsLog(tmp_path, enabled=True)
    for step in range(1, 7):
        first.write(step, "train", {"loss": 10.0 + step})
        if step % 3 == 0:
            first.write(step, "eval", {"loss": 20.0 + step})
    first.close()
    with (tmp_path / METRICS_FILE).open("a") as fh:
        fh.write('{"kind": "train", "loss": 1')  # a record a kill cut short
    stored = (tmp_path / METRICS_FILE).read_bytes()
    MetricsLog(tmp_path, enabled=True).close()  # a finished run's rerun logs nothing and changes nothing
    assert (tmp_path / METRICS_FILE).read_bytes() == stored

    resumed = MetricsLog(tmp_path, enabled=True)  # resumed from a checkpoint at step 3
    for step in range(4, 8):
        resumed.write(step, "train", {"loss": 30.0 + step})
        if step == 6:
            resumed.write(step, "eval", {"loss": 40.0})
    resumed.close()

    train_rows, eval_rows = (
        read_metrics(tmp_path / METRICS_FILE, "train"),
        read_metrics(tmp_path / METRICS_FILE, "eval"),
    )
    assert [(r["step"], r["loss"]) for r in train_rows] == [
        (1, 11.0), (2, 12.0), (3, 13.0), (4, 34.0), (5, 35.0), (6, 36.0), (7, 37.0)
    ]  # fmt: skip
    assert [(r["step"], r["loss"]) for r in eval_rows] == [(3, 23.0), (6, 40.0)]
    assert _scalars(tmp_path, "train/loss") == [(r["step"], r["loss"]) for r in train_rows]
    assert _scalars(tmp_path, "eval/loss") == [(3, 23.0), (6, 40.0)]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return build_workspace(tmp_path_factory.mktemp("metrics"), per_source=40)


def _train(ws: Workspace, run: RunConfig, out: Path) -> dict:
    return train(run, ws.tokens_dir, ws.mixture_path, ws.tokenizer_dir, out)


def test_a_run_killed_past_its_checkpoint_logs_each_step_once(ws: Workspace, tmp_path: Path) -> None:
    """Checkpoint at 5, killed as step 9 starts: steps 6-8 were logged and are replayed on resume."""
    run = RunConfig(
        name="m",
        objective="clm",
        model=ModelConfig(arch="gpt2"),
        seq_len=32,
        batch_size=4,
        steps=12,
        ckpt_every=5,
        log_every=1,
        eval_every=4,
        eval_batches=1,
        eval_holdout=0.1,
    )
    killed = tmp_path / "killed"
    child = mp.get_context("fork").Process(target=run_and_die_at, args=(8, ws, run, killed))
    child.start()
    child.join(timeout=300)
    assert child.exitcode == -signal.SIGKILL
    assert _steps(read_metrics(killed / METRICS_FILE, "train")) == list(range(1, 9))
    assert _steps(read_metrics(killed / METRICS_FILE, "eval")) == [4, 8]

    straight = tmp_path / "straight"
    _train(ws, run, straight)
    # TensorBoard reads a folder's event files in name order, which starts with the creation second
    born = max(int(p.name.split(".")[3]) for p in (killed / "tb").glob("events.out.tfevents.*"))
    while time.time() < born + 1:
        time.sleep(0.05)
    _train(ws, run, killed)  # resumes at the step-5 checkpoint

    def deterministic(rows: list[dict]) -> list[dict]:  # without timings and memory
        return [{k: v for k, v in r.items() if k not in ("tokens_per_s", "mfu", "mem_gb")} for r in rows]

    for kind, steps in (("train", list(range(1, 13))), ("mix", list(range(1, 13))), ("eval", [4, 8, 12])):
        want = read_metrics(straight / METRICS_FILE, kind)
        got = read_metrics(killed / METRICS_FILE, kind)
        assert _steps(got) == _steps(want) == steps
        assert deterministic(got) == deterministic(want)  # bit-identical resume: the same values
    for tag in ("train/loss", "train/lr", "eval/loss"):
        want = _scalars(straight, tag)
        assert [s for s, _ in _scalars(killed, tag)] == [s for s, _ in want]
        assert [v for _, v in _scalars(killed, tag)] == pytest.approx([v for _, v in want], rel=1e-6)
