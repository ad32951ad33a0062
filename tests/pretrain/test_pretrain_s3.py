"""`yuliao mix` and `yuliao pretrain` with the run folder on an object store (a local moto server): the
trainer streams the token shards from s3://, checkpoints there, a run that dies after its step-5
checkpoint resumes from the stored checkpoint, and the losses and model equal an uninterrupted local
run's."""

from __future__ import annotations

import importlib.util
import json
import shutil
import uuid
from pathlib import Path

import fsspec
import pytest
import torch
import yaml
from transformers import AutoModelForCausalLM
from typer.testing import CliRunner

from pipeline.cli.main import app
from pretrain.metrics import read_metrics
from tests.pretrain.fixtures import WEIGHTS, build_tokenizer, build_tokens, make_docs
from tests.s3_server import BUCKET, objects, s3_server

runner = CliRunner()
RUN = {
    "name": "gpt",
    "objective": "clm",
    "model": {"arch": "gpt2"},
    "steps": 10,
    "seq_len": 32,
    "batch_size": 8,
    "log_every": 5,
    "ckpt_every": 5,
}


@pytest.fixture(scope="module")
def s3():
    with pytest.MonkeyPatch.context() as mp, s3_server(mp) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def local_run(tmp_path_factory) -> tuple[Path, Path]:
    """(manifest, run folder holding tokenizer/ and tokens/), as `tokenizer train` and `encode` leave it."""
    root = tmp_path_factory.mktemp("pre")
    docs = make_docs(40)
    tokenizer = build_tokenizer(root / "run" / "tokenizer", [t for texts in docs.values() for t in texts])
    build_tokens(root / "run" / "tokens", tokenizer, docs)
    manifest = root / "m.yaml"
    sources = [{"name": name, "weight": w} for name, w in WEIGHTS.items()]
    manifest.write_text(yaml.safe_dump({"sources": sources, "pretrain": {"runs": [RUN]}}))
    return manifest, root / "run"


def _invoke(*args: str) -> str:
    r = runner.invoke(app, list(args))
    assert r.exit_code == 0, (r.output, r.exception)
    return r.output


def _fetch(url: str, local: Path) -> Path:
    fs, path = fsspec.core.url_to_fs(url)
    fs.get(f"{path}/", str(local), recursive=True)
    return local


def test_pretrain_on_s3_resumes_from_its_checkpoint_to_the_losses_of_a_local_run(
    s3, local_run, tmp_path, monkeypatch
):
    manifest, made = local_run
    prefix = f"pre-{uuid.uuid4().hex[:8]}/run"
    remote = f"s3://{BUCKET}/{prefix}"
    fs, _ = fsspec.core.url_to_fs(remote)
    for name in ("tokenizer", "tokens"):
        fs.put(f"{made / name}/", f"{BUCKET}/{prefix}/{name}", recursive=True)
    local = tmp_path / "run"
    shutil.copytree(made, local)

    _invoke("mix", str(manifest), "--output", str(local))
    _invoke("pretrain", str(manifest), "--output", str(local))
    _invoke("mix", str(manifest), "--output", remote)
    mixture = json.loads(objects(f"{prefix}/tokens/")["mixture.json"][1])
    expected = json.loads((local / "tokens" / "mixture.json").read_text())
    assert mixture["tokens"].pop("path") == f"{remote}/tokens"
    expected["tokens"].pop("path")
    assert mixture == expected

    import pretrain.train as T

    real_lr_at = T.lr_at

    def dies_at_step_7(step: int, run) -> float:  # a preemption after the step-5 checkpoint
        if step == 7:
            raise RuntimeError("preempted")
        return real_lr_at(step, run)

    monkeypatch.setattr(T, "lr_at", dies_at_step_7)
    r = runner.invoke(app, ["pretrain", str(manifest), "--output", remote])
    assert isinstance(r.exception, RuntimeError) and "preempted" in str(r.exception)
    monkeypatch.undo()
    stored = objects(f"{prefix}/models/gpt/")
    assert not any(k.startswith("model/") for k in stored) and "losses.json" not in stored
    state = tmp_path / "state.pt"
    state.write_bytes(stored["checkpoint/state.pt"][1])
    assert torch.load(state, weights_only=True)["step"] == 5
    assert [m["step"] for m in read_metrics(f"{remote}/models/gpt/metrics.jsonl", "train")] == [5]

    out = _invoke("pretrain", str(manifest), "--output", remote)
    assert f"resumed at step 5 from {remote}/models/gpt/checkpoint" in out
    stored = objects(f"{prefix}/models/gpt/")
    losses = json.loads((local / "models" / "gpt" / "losses.json").read_text())["losses"]
    assert len(losses) == 10
    assert json.loads(stored["losses.json"][1])["losses"] == losses  # bit-identical on CPU
    assert json.loads(stored["result.json"][1])["model_dir"] == f"{remote}/models/gpt/model"
    assert {".yuliao/owner.json", ".yuliao/done/model", "model/config.json", "model/tokenizer.json"} <= set(
        stored
    )
    assert [m["step"] for m in read_metrics(f"{remote}/models/gpt/metrics.jsonl", "train")] == [5, 10]
    if importlib.util.find_spec("tensorboard") is not None:  # staged locally, uploaded at checkpoints
        assert any(k.startswith("tb/events.out.tfevents") for k in stored)

    fetched = AutoModelForCausalLM.from_pretrained(_fetch(f"{remote}/models/gpt/model", tmp_path / "model"))
    straight = AutoModelForCausalLM.from_pretrained(local / "models" / "gpt" / "model")
    a, b = straight.state_dict(), fetched.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
