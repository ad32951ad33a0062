"""The `yuliao` command line, and the whole chain through it on a small slice of the sample."""

import gzip
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from pipeline.cli.main import app

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "pipeline" / "sample_data"
runner = CliRunner()


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["pipeline"],
        ["pipeline", "run"],
        ["pipeline", "dedup"],
        ["mix"],
        ["pipeline", "mix"],
        ["tokenizer", "mix"],
        ["tokenizer", "train"],
        ["tokenizer", "encode"],
        ["pretrain"],
        ["report"],
        ["demo"],
    ],
)
def test_every_command_has_help(args):
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_invalid_manifest_fails_fast_naming_the_field(tmp_path):
    data = yaml.safe_load((REPO / "manifests" / "demo.yaml").read_text())
    data["sources"][0]["weight"] = -0.5
    data["sources"][1]["colour"] = "blue"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    result = runner.invoke(app, ["pipeline", "run", str(bad), "--output", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "sources.0.weight" in result.output and "sources.1.colour: unknown field" in result.output
    assert not (tmp_path / "out").exists()  # nothing started


def test_dedup_command_removes_planted_copies(tmp_path):
    with gzip.open(SAMPLE / "mirror.jsonl.gz", "rt") as fh:
        originals = [json.loads(line) for line in fh][:12]
    docs = [{"doc": f"o{i}", "body": d["text"]} for i, d in enumerate(originals)]
    docs += [{"doc": "x0", "body": originals[0]["text"]}]  # exact copy
    docs += [
        {"doc": "x1", "body": originals[1]["text"].replace("\n\n", "\n", 3) + "\n转载请注明出处。"}
    ]  # near copy
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
    out = tmp_path / "dedup"
    args = ["pipeline", "dedup", "--input", str(path), "--id-field", "doc", "--text-field", "body"]
    result = runner.invoke(app, [*args, "--output", str(out)])
    assert result.exit_code == 0, result.output
    kept = (out / "kept_ids.txt").read_text().split()
    # o7 is the sample's own near copy of o0 (a mirror of the same page): the first copy stays
    assert kept == [d["doc"] for d in docs if d["doc"] not in ("x0", "x1", "o7")]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["documents"] == len(docs) and summary["kept"] == len(kept)
    assert summary["duplicates_exact"] == 1 and summary["duplicates_near"] == 2
    assert "| exact copy | 1 |" in (out / "report" / "report.md").read_text()

    bad = runner.invoke(app, [*args, "--output", str(tmp_path / "bad"), "--verify", "maybe"])
    assert bad.exit_code == 2 and "verify" in bad.output
    missing = runner.invoke(
        app, ["pipeline", "dedup", "--input", str(tmp_path / "no.jsonl"), "--output", str(out)]
    )
    assert missing.exit_code == 2 and "no such file" in missing.output


def test_whole_chain_through_the_cli(tmp_path):
    """pipeline → tokenizer → encode → mix → pretrain → report, wired only through files."""
    data = yaml.safe_load((REPO / "manifests" / "demo.yaml").read_text())
    data["sources"] = [
        {"name": "poems", "paths": [str(SAMPLE / "poems.warc.gz")], "weight": 0.5},
        {"name": "mirror", "paths": [str(SAMPLE / "mirror.jsonl.gz")], "weight": 0.5},
    ]
    data["tokenizer"]["vocab_size"] = 1200
    data["pretrain"]["runs"] = [dict(data["pretrain"]["runs"][0], steps=8, seq_len=32, log_every=4)]
    manifest = tmp_path / "m.yaml"
    manifest.write_text(yaml.safe_dump(data, allow_unicode=True))
    out = tmp_path / "out"

    # one --output for every verb: each finds the others' folders through the run layout
    r = runner.invoke(app, ["pipeline", "run", str(manifest), "--output", str(out), "--scheduler", "inline"])
    assert r.exit_code == 0, r.output
    assert "ledger rows" in r.output
    r = runner.invoke(app, ["tokenizer", "train", "--output", str(out), "--vocab-size", "1200"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["tokenizer", "encode", "--output", str(out), "--workers", "0"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["mix", str(manifest), "--output", str(out)])  # finds OUT/tokens, writes beside it
    assert r.exit_code == 0, r.output
    mixture = json.loads((out / "tokens" / "mixture.json").read_text())
    assert set(mixture["sources"]) == {"poems", "mirror"}
    assert sum(s["probability"] for s in mixture["sources"].values()) == pytest.approx(1)
    r = runner.invoke(app, ["pretrain", str(manifest), "--output", str(out)])
    assert r.exit_code == 0, r.output
    result = json.loads((out / "models" / "gpt" / "result.json").read_text())
    assert len(result["losses"]) == 8

    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(out / "models" / "gpt" / "model")
    tok = AutoTokenizer.from_pretrained(out / "models" / "gpt" / "model")
    assert model.config.vocab_size == len(tok) == 1200

    r = runner.invoke(app, ["report", str(out)])
    assert r.exit_code == 0, r.output
    report = (out / "report" / "report.md").read_text()
    assert "ledger rows" in report and (out / "report" / "losses.png").exists()
