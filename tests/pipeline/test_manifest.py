from pathlib import Path

import pytest
import yaml

from pipeline.cli.manifest import ManifestError, load_manifest, parse_manifest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted((REPO / "manifests").glob("*.yaml")), ids=lambda p: p.name)
def test_every_checked_in_manifest_loads(path):
    m = load_manifest(path)
    assert m.sources


def test_demo_manifest_paths_exist():
    m = load_manifest(REPO / "manifests" / "demo.yaml")
    for src in m.sources:
        for p in src.paths:
            assert (m.base_dir / p).exists(), p
    assert {r.objective for r in m.pretrain.runs} == {"clm", "mlm", "span", "plm"}


def _demo() -> dict:
    return yaml.safe_load((REPO / "manifests" / "demo.yaml").read_text())


def test_unknown_field_is_named():
    data = _demo()
    data["pipeline"]["filters"]["min_charz"] = 3
    with pytest.raises(ManifestError, match=r"pipeline\.filters\.min_charz: unknown field"):
        parse_manifest(data, REPO / "manifests")


def test_non_positive_weight_is_named():
    data = _demo()
    data["sources"][1]["weight"] = 0
    with pytest.raises(ManifestError, match=r"sources\.1\.weight: must be greater than 0"):
        parse_manifest(data, REPO / "manifests")


def test_negative_weight_and_duplicate_names():
    data = _demo()
    data["sources"][0]["weight"] = -1
    data["sources"][2]["name"] = "web"
    with pytest.raises(ManifestError) as e:
        parse_manifest(data, REPO / "manifests")
    assert "sources.0.weight" in str(e.value)


def test_shares_must_sum_to_about_one():
    data = {"sources": [{"name": "a", "weight": 0.5, "tokens": 10}], "mix": {"weights": "shares"}}
    with pytest.raises(ManifestError, match="sum to 0.5"):
        parse_manifest(data, REPO)


def test_bad_yaml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sources: [\n")
    with pytest.raises(ManifestError, match="not valid YAML"):
        load_manifest(bad)
    with pytest.raises(ManifestError, match="not found"):
        load_manifest(tmp_path / "nope.yaml")


def test_source_sampling_loads_and_bad_method_is_named():
    data = _demo()
    data["sources"][0]["sampling"] = "pareto"
    data["sources"][1]["sampling"] = {"method": "rehydrate"}
    m = parse_manifest(data, REPO / "manifests")
    assert [s.sampling.method if s.sampling else None for s in m.sources] == ["pareto", "rehydrate", None]
    data["sources"][2]["sampling"] = "best"
    with pytest.raises(ManifestError, match=r"sources\.2\.sampling\.method"):
        parse_manifest(data, REPO / "manifests")
