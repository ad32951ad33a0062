"""Hostile manifests: alias bombs, infinite weights and run names that are paths are refused at load
time with the field named, and no path built from a manifest can leave the output directory."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli.main import app
from pipeline.cli.manifest import ManifestError, load_manifest, parse_manifest
from pipeline.core.atomic import UnsafePathError, resolve_inside
from tokenization.mixture import build_mixture, solve, table_2_1

# Nine lines, nine aliases per level: 9**9 (387 million) strings once expanded, under an unknown key.
ALIAS_BOMB = """\
sources: [{name: a, weight: 1, tokens: 10}]
junk_a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
junk_b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
junk_c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
junk_d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
junk_e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
junk_f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
junk_g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
junk_h: [*g, *g, *g, *g, *g, *g, *g, *g, *g]
"""

RUN = "{name: %s, objective: clm, model: {arch: gpt2}}"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    return path


def test_alias_bomb_is_refused_at_the_first_anchor_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as e:
        load_manifest(_write(tmp_path, ALIAS_BOMB))
    msg = str(e.value)
    assert "m.yaml, line 2, column 9" in msg and "aliases (*name) are not allowed" in msg
    assert len(msg) < 400


def test_merge_keys_need_aliases_and_are_refused_too(tmp_path: Path) -> None:
    text = "base: &base {weight: 1, tokens: 10}\nsources:\n  - {<<: *base, name: a}\n"
    with pytest.raises(ManifestError, match="anchors .* and aliases .* are not allowed"):
        load_manifest(_write(tmp_path, text))


def test_a_huge_value_under_an_unknown_key_is_not_echoed_whole(tmp_path: Path) -> None:
    text = "sources: [{name: a, weight: 1, tokens: 10}]\njunk: " + "x" * 1_000_000 + "\n"
    with pytest.raises(ManifestError, match="junk: unknown field") as e:
        load_manifest(_write(tmp_path, text))
    assert len(str(e.value)) < 500


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("weight", ".inf", "sources.0.weight"),
        ("weight", ".nan", "sources.0.weight"),
        ("max_epochs", ".inf", "sources.0.max_epochs"),
        ("sampling", "{method: score, temperature: .inf}", "sources.0.sampling.temperature"),
    ],
)
def test_non_finite_numbers_are_refused_naming_the_field(
    tmp_path: Path, field: str, value: str, named: str
) -> None:
    fields = {"weight": "1", "tokens": "10", field: value}
    source = ", ".join(f"{k}: {v}" for k, v in fields.items())
    text = f"sources:\n  - {{name: a, {source}}}\n  - {{name: b, weight: 1, tokens: 10}}\n"
    with pytest.raises(ManifestError, match=re.escape(f"{named}: must be a finite number")):
        load_manifest(_write(tmp_path, text))


def test_infinite_run_float_is_refused() -> None:
    data = {"sources": [{"name": "a", "weight": 1}], "pretrain": {"runs": [_run("r") | {"lr": math.inf}]}}
    with pytest.raises(ManifestError, match=r"pretrain\.runs\.0\.lr: must be a finite number"):
        parse_manifest(data, Path("."))


def test_the_mix_solver_refuses_infinite_weights_instead_of_printing_nan() -> None:
    with pytest.raises(ValueError, match="positive finite"):
        solve(["a", "b"], [math.inf, 1.0], [10, 10], 100)
    with pytest.raises(ValueError, match="positive finite"):
        solve(["a", "b"], [1e308, 1e308], [10, 10], 100)  # each finite, the sum is not
    with pytest.raises(ValueError, match="max_epochs"):
        solve(["a", "b"], [1.0, 1.0], [10, 10], 100, max_epochs=[math.nan, None])
    assert "nan" not in table_2_1(build_mixture(solve(["a", "b"], [1e300, 1.0], [10, 10], 100)))


def _run(name: str) -> dict:
    return {"name": name, "objective": "clm", "model": {"arch": "gpt2"}}


@pytest.mark.parametrize("name", ["/etc", "../x", "a/b", "..", ".hidden", "x" * 65, ""])
def test_run_names_that_are_paths_are_refused_naming_the_run(name: str) -> None:
    data = {"sources": [{"name": "a", "weight": 1}], "pretrain": {"runs": [_run("ok"), _run(name)]}}
    with pytest.raises(ManifestError, match=r"pretrain\.runs\.1\.name: must match"):
        parse_manifest(data, Path("."))


def test_a_plain_run_name_is_accepted() -> None:
    data = {"sources": [{"name": "a", "weight": 1}], "pretrain": {"runs": [_run("gpt2-small_v1.2")]}}
    assert parse_manifest(data, Path(".")).pretrain.runs[0].name == "gpt2-small_v1.2"


def test_the_pretrain_command_refuses_a_run_named_etc_before_any_work(tmp_path: Path) -> None:
    text = f"sources: [{{name: a, weight: 1}}]\npretrain:\n  runs:\n    - {RUN % '/etc'}\n"
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["pretrain", str(_write(tmp_path, text)), "--output", str(out)])
    assert result.exit_code == 2
    assert "pretrain.runs.0.name" in result.output
    assert not out.exists()


@pytest.mark.parametrize("value", ["../tokens", "/etc", "a/../../b", ""])
def test_pretrain_data_paths_stay_inside_the_output(value: str) -> None:
    data = {"sources": [{"name": "a", "weight": 1}], "pretrain_data": {"tokens": value}}
    with pytest.raises(ManifestError, match=r"pretrain_data\.tokens: .*relative path inside the output"):
        parse_manifest(data, Path("."))


def test_resolve_inside_refuses_every_way_out(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)
    assert resolve_inside(root / "models", "gpt") == root / "models" / "gpt"
    assert resolve_inside(root, "tokens/mixture.json") == root / "tokens" / "mixture.json"
    for parts in [("/etc",), ("..", "x"), ("models", "../../x"), ("link", "x")]:
        with pytest.raises(UnsafePathError, match="outside"):
            resolve_inside(root, *parts)
