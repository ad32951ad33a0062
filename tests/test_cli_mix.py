"""`yuliao mix`: one verb solves a manifest (declared or measured tokens) or adopts a mixture.json; the old
`pipeline mix` / `tokenizer mix` names still work for one release and say where the verb moved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli.main import app
from tests.tokenization.test_stream_sampling import write_tokens

GPT3 = Path(__file__).resolve().parents[1] / "manifests" / "gpt3_mixture.yaml"


@pytest.mark.parametrize("old", [["pipeline", "mix"], ["tokenizer", "mix"]])
def test_old_verb_names_are_aliases_with_a_deprecation_line(tmp_path: Path, old: list[str]):
    runner = CliRunner()
    new = runner.invoke(app, ["mix", str(GPT3), "--mixture", str(tmp_path / "new.json")])
    aliased = runner.invoke(app, [*old, str(GPT3), "--mixture", str(tmp_path / "old.json")])
    assert new.exit_code == aliased.exit_code == 0, aliased.output
    assert f"`yuliao {' '.join(old)}` is deprecated" in aliased.output and "deprecated" not in new.output
    assert (tmp_path / "new.json").read_bytes() == (tmp_path / "old.json").read_bytes()


def test_cli_mix_solves_a_run_manifest_against_measured_tokens(tmp_path: Path):
    import yaml

    tokens = write_tokens(tmp_path / "tokens", sources=("web", "books", "wiki"))
    measured = json.loads((tokens / "manifest.json").read_text())["tokens_per_source"]
    manifest = {
        "sources": [
            {"name": "web", "weight": 0.6},
            {"name": "books", "weight": 0.3},
            {"name": "wiki", "weight": 0.1, "max_epochs": 1.0},
        ],
        "mix": {"budget_tokens": 4 * sum(measured.values()), "seed": 9},
    }
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(manifest))
    r = CliRunner().invoke(app, ["mix", str(tmp_path / "m.yaml"), "--tokens", str(tokens)])
    assert r.exit_code == 0, r.output
    m = json.loads((tokens / "mixture.json").read_text())
    assert (
        m["seed"] == 9 and m["resolved"] == ["wiki"] and m["sources"]["wiki"]["epochs"] == pytest.approx(1.0)
    )
    assert m["sources"]["web"]["tokens"] == measured["web"]
    assert "(capped: re-solved)" in r.output and "max_epochs bound for wiki" in r.output
    assert sum(s["probability"] for s in m["sources"].values()) == pytest.approx(1)


def test_cli_mix_prints_gpt3_table_from_declared_tokens(tmp_path: Path):
    repo = Path(__file__).resolve().parents[1]
    gpt3 = repo / "manifests" / "gpt3_mixture.yaml"
    runner = CliRunner()
    r = runner.invoke(
        app, ["mix", str(gpt3), "--output", str(tmp_path)]
    )  # no token shards: the paper's own token counts
    assert r.exit_code == 0, r.output
    rows = {line.split()[0]: line.split() for line in r.output.splitlines()[2:7]}
    # source, tokens, given, weight, p, epochs (GPT-3 Table 2.1 from its tokens and rounded shares)
    assert rows["common_crawl"][1:6] == ["410,000,000,000", "0.6", "60.0%", "59.4%", "0.44"]
    assert rows["webtext2"][1:6] == ["19,000,000,000", "0.22", "22.0%", "21.8%", "3.47"]
    assert [rows[s][5] for s in ("books1", "books2", "wikipedia")] == ["2.00", "0.44", "3.00"]
    assert "weights given summed to 1.01" in r.output
    out = tmp_path / "gpt3.json"
    r = runner.invoke(app, ["mix", str(gpt3), "--sampling", "common_crawl=pareto", "--mixture", str(out)])
    assert r.exit_code == 0, r.output
    m = json.loads(out.read_text())
    assert m["sources"]["common_crawl"]["sampling"]["method"] == "pareto"
    assert m["sources"]["wikipedia"]["sampling"]["method"] == "uniform"
    assert m["budget_tokens"] == 300_000_000_000 and m["weight_sum_given"] == pytest.approx(1.01)
    r = runner.invoke(app, ["mix", str(gpt3), "--output", str(tmp_path), "--sampling", "cc=pareto"])
    assert r.exit_code == 2 and "cc" in r.output
    r = runner.invoke(
        app, ["mix", str(gpt3), "--output", str(tmp_path), "--sampling", "common_crawl=temperature"]
    )
    assert r.exit_code == 2 and "sampling" in r.output
