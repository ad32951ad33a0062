"""One run layout: every verb's `--output OUT` names the same run folder, so the chain needs no path flags."""

import json
import random
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pipeline.cli.main import app
from pipeline.cli.manifest import parse_manifest
from pipeline.core.atomic import UnsafePathError
from pipeline.core.layout import run_layout

runner = CliRunner()

STOP = ["the", "and", "of", "to", "with", "that", "have"]  # Gopher wants stop words in English text
NOUNS = ["river", "garden", "library", "mountain", "harbour", "meadow", "station", "orchard", "village"]
OTHER = ["walked", "carried", "painted", "listened", "opened", "quiet", "bright", "gentle", "golden"]
WORDS = STOP + NOUNS + OTHER
HANZI = "山川湖海城市书本花园星空河流田野风雨日月春夏秋冬学生老师朋友家门窗灯路桥村镇"


def _text(i: int) -> str:
    """A distinct, unrepetitive document (the Gopher repetition rules drop templated text)."""
    rng = random.Random(i)
    zh = "。".join("".join(rng.choices(HANZI, k=12)) for _ in range(12))
    en = ". ".join(" ".join(rng.choices(WORDS, k=10)).capitalize() for _ in range(12))
    return f"{zh}。\n\n{en}."


def _manifest(tmp_path: Path) -> Path:
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"text": _text(i)}, ensure_ascii=False) + "\n" for i in range(40)))
    run = {"name": "gpt", "objective": "clm", "model": {"arch": "gpt2"}, "steps": 1}
    data = {"sources": [{"name": "web", "paths": [str(docs)], "weight": 1.0}], "pretrain": {"runs": [run]}}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def test_verbs_find_each_other_through_one_output_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    manifest, out = _manifest(tmp_path), tmp_path / "out"
    steps = [
        ["pipeline", "run", str(manifest), "--scheduler", "inline"],
        ["tokenizer", "train", "--vocab-size", "500", "--no-compare-sentencepiece"],
        ["tokenizer", "encode"],
    ]
    for args in steps:
        r = runner.invoke(app, [*args, "--output", str(out)])
        assert r.exit_code == 0, r.output
    rows = json.loads((out / "dataset" / "manifest.json").read_text())["rows"]
    assert rows > 0
    assert (out / "report" / "report.md").is_file()  # the run's report, beside the dataset, not in it

    seen: dict[str, Path] = {}

    def record(run, tokens: Path, mixture: Path, tokenizer: Path, run_dir: Path) -> dict:
        seen.update(tokens=tokens, mixture=mixture, tokenizer=tokenizer, run_dir=run_dir)
        losses = {"losses": [1.0, 0.5], "first20_mean": 1.0, "last20_mean": 0.5}
        return {"name": run.name, "objective": run.objective, "model_dir": str(run_dir / "model"), **losses}

    monkeypatch.setattr("pretrain.train.train", record)  # where `pretrain` looks, not how it trains
    r = runner.invoke(app, ["pretrain", str(manifest), "--output", str(out)])
    assert r.exit_code == 0, r.output
    encoded = json.loads((seen["tokens"] / "manifest.json").read_text())
    assert encoded["rows"] == rows
    assert encoded["dataset"]["path"] == str((out / "dataset").resolve())  # encode read the run's dataset
    assert (seen["tokenizer"] / "tokenizer.json").is_file()
    assert seen["mixture"] == seen["tokens"] / "mixture.json"
    assert seen["run_dir"] == out / "models" / "gpt"

    r = runner.invoke(app, ["report", str(out)])  # finds the tokenizer and the run's result too
    assert r.exit_code == 0, r.output
    assert "tokenizer: bpe, vocab size 500" in r.output and "\ngpt     clm" in r.output


def test_manifest_paths_move_inside_the_run_folder(tmp_path: Path):
    data = {
        "sources": [{"name": "a", "weight": 1}],
        "pretrain_data": {"tokens": "tok/v2", "tokenizer": "bpe"},
    }
    layout = parse_manifest(data, tmp_path).layout(tmp_path / "out")
    assert layout.tokens == tmp_path / "out" / "tok" / "v2"
    assert layout.mixture == layout.tokens / "mixture.json"  # follows the tokens it mixes
    assert layout.tokenizer == tmp_path / "out" / "bpe"
    assert layout.dataset == tmp_path / "out" / "dataset"
    assert layout == run_layout(tmp_path / "out", tokens="tok/v2", tokenizer="bpe")


def test_a_model_name_cannot_leave_models(tmp_path: Path):
    layout = run_layout(tmp_path)
    assert layout.model("gpt") == tmp_path / "models" / "gpt"
    with pytest.raises(UnsafePathError):
        layout.model("../dataset")


def test_report_on_a_folder_without_a_dataset_names_what_it_wants(tmp_path: Path):
    r = runner.invoke(app, ["report", str(tmp_path)])
    assert r.exit_code == 2 and "pipeline run --output" in r.output
