"""GPT-3-style quality classifier: features, training on the sample, files, the scoring step, CLI."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from pydantic import ValidationError
from typer.testing import CliRunner

from pipeline.cli.quality import quality_train_command
from pipeline.config.quality import QualityConfig, QualityTrainConfig
from pipeline.core.atomic import write_arrow
from pipeline.quality.data import read_texts
from pipeline.quality.features import FeatureSpec, featurize, featurize_many
from pipeline.quality.model import BUNDLED, QualityModel
from pipeline.quality.sample_set import Example, boilerplate, build, scramble
from pipeline.quality.step import load_model, pareto_draws, quality_score
from pipeline.quality.train import auc, holdout_mask, train

SPEC = FeatureSpec(buckets_log2=12)
POEM = "《静夜思》\n作者:李白\n床前明月光,疑是地上霜。\n举头望明月,低头思故乡。"
# navigation as the sample's pages have it (a sanity check of the scores' direction: a model
# trained on one small sample does not generalise to unseen spam; held-out metrics measure it)
NAV = "Download the ebook\n• 上一页\n• 下一页\n• 起始页\nPrev Next Home\nReport a bug in GIMP Report a documentation error"


# --- features ------------------------------------------------------------------------------


def test_features_are_script_aware_and_normalised() -> None:
    idx, val = featurize("床前明月光", SPEC)
    assert len(idx) <= 5 + 4 + 3 and len(idx) >= 10  # char 1-, 2-, 3-grams (collisions aside)
    assert np.isclose(np.linalg.norm(val), 1.0)
    assert np.all(np.diff(idx) > 0) and idx.dtype == np.int32
    assert (featurize("Hello World", SPEC)[0] == featurize("hello world", SPEC)[0]).all()
    assert len(featurize("", SPEC)[0]) == 0
    # a CJK run splits the words around it: no word n-gram spans "abc" and "def"
    a, _ = featurize("abc 中文 def", FeatureSpec(buckets_log2=20, char_ngrams=(1,), word_ngrams=(2,)))
    assert len(a) == 2 + 1  # two characters + one word bigram ("abc def": the run is cut out)


def test_features_are_identical_in_another_process() -> None:
    here = featurize(POEM + " mixed English text", SPEC)[0].tolist()
    code = (
        "from pipeline.quality.features import FeatureSpec, featurize;"
        f"print(featurize({POEM + ' mixed English text'!r}, FeatureSpec(buckets_log2=12))[0].tolist())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == here  # no salted hash()


def test_csr_take_and_dot_match_dense() -> None:
    texts = ["alpha beta gamma", POEM, "", "beta beta delta 中文"]
    x = featurize_many(texts, SPEC)
    dense = np.zeros((len(texts), SPEC.buckets))
    for r in range(len(texts)):
        dense[r, x.indices[x.indptr[r] : x.indptr[r + 1]]] = x.data[x.indptr[r] : x.indptr[r + 1]]
    w = np.random.default_rng(0).normal(size=SPEC.buckets)
    assert np.allclose(x.dot(w), dense @ w)
    rows = np.array([3, 0, 3])
    assert np.allclose(x.take(rows).dot(w), dense[rows] @ w)


def test_auc_and_holdout() -> None:
    assert auc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5
    assert auc(np.array([1, 1]), np.array([0.1, 0.2])) is None
    groups = [f"g{i // 3}" for i in range(3000)]
    held = holdout_mask(groups, 0.2, seed=1)
    assert 0.15 < held.mean() < 0.25
    assert all(held[i] == held[i - i % 3] for i in range(3000))  # whole groups


# --- training on the sample ----------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_set() -> list[Example]:
    """GIMP help pages (main text vs whole page) and the poems: ~850 texts."""
    return build(html_files=("web-zh.warc.gz",))


def test_sample_set_has_both_sides(sample_set: list[Example]) -> None:
    kinds = {e.kind for e in sample_set}
    assert kinds == {"main", "poem", "full_page", "boilerplate", "scrambled"}
    by_group: dict[str, dict[str, str]] = {}
    for e in sample_set:
        by_group.setdefault(e.group, {})[e.kind] = e.text
    page = next(g for g in by_group.values() if "main" in g and "full_page" in g)
    assert len(page["full_page"]) > len(page["main"])  # the whole page includes its boilerplate
    assert all(e.label == (e.kind in ("main", "poem")) for e in sample_set)


def test_classifier_separates_held_out_pages(sample_set: list[Example]) -> None:
    cfg = QualityTrainConfig(buckets_log2=16, epochs=40, holdout=0.3, seed=0)
    texts, labels = [e.text for e in sample_set], [e.label for e in sample_set]
    model, summary = train(texts, labels, cfg, groups=[e.group for e in sample_set])
    held = summary["holdout"]
    assert held["positives"] > 30 and held["negatives"] > 30
    assert held["accuracy"] >= 0.85 and held["auc"] >= 0.93, held
    assert summary["train"]["accuracy"] >= held["accuracy"] - 0.02
    s = model.score([POEM, NAV])
    assert s[0] > 0.5 > s[1]


def test_train_rejects_bad_labels() -> None:
    with pytest.raises(ValueError, match="both classes"):
        train(["a", "b"], [1, 1], QualityTrainConfig(buckets_log2=8))
    with pytest.raises(ValueError, match="same length"):
        train(["a", "b"], [1], QualityTrainConfig(buckets_log2=8))


def test_boilerplate_and_scramble_helpers() -> None:
    full = "Home\nNews\nThe main text line.\nAnother main line.\nCopyright"
    assert boilerplate(full, "The main text line.\nAnother main line.") == "Home\nNews\nCopyright"
    import random

    s = scramble("one two three four five\n床前明月光", random.Random(0))
    assert sorted(s.splitlines()[0].split()) == sorted(["one", "two", "three", "four", "five"])
    assert sorted(s.splitlines()[1]) == sorted("床前明月光")


# --- model files ---------------------------------------------------------------------------


def _model(bias: float = 0.0, good: float = 0.0) -> QualityModel:
    """A hand-set model: `bias`, plus weight `good` on the word 'good' and −`good` on 'spam'."""
    w = np.zeros(SPEC.buckets, dtype=np.float32)
    w[featurize("good", SPEC)[0]] = good
    w[featurize("spam", SPEC)[0]] = -good
    return QualityModel(SPEC, w, bias)


def test_model_files_load_without_pickle(tmp_path: Path) -> None:
    model = _model(bias=0.3, good=4.0)
    model.save(tmp_path / "m")
    with np.load(tmp_path / "m" / "model.npz", allow_pickle=False) as z:
        assert set(z.files) == {"indices", "weights", "bias"}
        assert z["indices"].dtype == np.int32 and z["weights"].dtype == np.float32
        assert len(z["indices"]) == 2  # only the nonzero weights are stored
    config = json.loads((tmp_path / "m" / "model.json").read_text())
    assert config["format"] == "yuliao-quality-v1" and config["features"]["buckets_log2"] == 12
    loaded = QualityModel.load(tmp_path / "m")
    texts = ["good good text", "spam spam", "neutral"]
    assert np.allclose(loaded.score(texts), model.score(texts))
    (tmp_path / "m" / "model.json").write_text(json.dumps({**config, "format": "other"}))
    with pytest.raises(ValueError, match="not a yuliao-quality-v1"):
        QualityModel.load(tmp_path / "m")


def test_bundled_model() -> None:
    size = sum(p.stat().st_size for p in BUNDLED.iterdir())
    assert size <= 2 * 1024 * 1024
    model = QualityModel.load()  # default: the bundled sample model
    assert model.meta["training"]["holdout"]["accuracy"] >= 0.9
    s = model.score([POEM, NAV])
    assert s[0] > 0.5 > s[1]


# --- the step ------------------------------------------------------------------------------


def _batch(texts: list[str], prefix: str = "d") -> pa.Table:
    n = len(texts)
    return pa.table(
        {
            "id": [f"{prefix}-{i}" for i in range(n)],
            "source": ["s"] * n,
            "text": texts,
            "bytes": [len(t.encode()) for t in texts],
        }
    )


@pytest.fixture
def model_dir(tmp_path: Path) -> str:
    path = tmp_path / "model"
    _model(good=6.0).save(path)
    load_model.cache_clear()
    return str(path)


def test_step_modes(model_dir: str) -> None:
    batch = _batch(["good good news", "spam spam spam", "plain words"])
    off = quality_score(batch, QualityConfig())
    assert off.kept.equals(batch) and off.dropped.num_rows == 0
    scored = quality_score(batch, QualityConfig(mode="score", model_dir=model_dir))
    s = scored.kept.column("quality_score").to_pylist()
    assert scored.kept.num_rows == 3 and s[0] > 0.9 and s[1] < 0.1 and s[2] == pytest.approx(0.5)
    assert scored.kept.schema.field("quality_score").type == pa.float64()
    cut = quality_score(batch, QualityConfig(mode="threshold", model_dir=model_dir, threshold=0.6))
    assert cut.kept.column("id").to_pylist() == ["d-0"]
    assert [(r["id"], r["reason"], r["stage"]) for r in cut.dropped.to_pylist()] == [
        ("d-1", "quality_below_threshold", "quality"),
        ("d-2", "quality_below_threshold", "quality"),
    ]


def test_pareto_is_deterministic_regardless_of_partitioning(model_dir: str) -> None:
    texts = [("good " if i % 3 else "spam ") + f"document number {i}" for i in range(400)]
    cfg = QualityConfig(mode="pareto", model_dir=model_dir, seed=7)
    whole = quality_score(_batch(texts), cfg)
    batch = _batch(texts)
    parts = [quality_score(batch.slice(200, 200), cfg), quality_score(batch.slice(0, 200), cfg)]
    kept = sorted(i for p in parts for i in p.kept.column("id").to_pylist())
    assert kept == sorted(whole.kept.column("id").to_pylist())
    assert {r["reason"] for r in whole.dropped.to_pylist()} == {"quality_pareto"}
    assert whole.kept.num_rows + whole.dropped.num_rows == 400
    other = quality_score(_batch(texts), cfg.model_copy(update={"seed": 8}))
    assert other.kept.column("id").to_pylist() != whole.kept.column("id").to_pylist()


def test_pareto_keeps_high_scores_more_often(tmp_path: Path) -> None:
    ids = [f"doc-{i}" for i in range(4000)]
    rates = {}
    for score in (0.1, 0.5, 0.9, 0.99):
        path = tmp_path / f"m{score}"
        _model(bias=float(np.log(score / (1 - score)))).save(path)  # every document scores `score`
        result = quality_score(_batch(["x"] * 4000).set_column(0, "id", pa.array(ids)),
                               QualityConfig(mode="pareto", model_dir=str(path)))  # fmt: skip
        rates[score] = result.kept.num_rows / 4000
        assert rates[score] == pytest.approx((2 - score) ** -9, abs=0.03)  # GPT-3's keep probability
    assert rates[0.1] < rates[0.5] < rates[0.9] < rates[0.99]


def test_pareto_draws_follow_numpy_pareto() -> None:
    ours = pareto_draws([f"id-{i}" for i in range(20000)], alpha=9.0, seed=0)
    ref = np.random.default_rng(0).pareto(9.0, size=20000)
    q = [0.1, 0.5, 0.9, 0.99]
    assert np.allclose(np.quantile(ours, q), np.quantile(ref, q), rtol=0.1)
    assert (pareto_draws(["a", "b"], 9.0, 0) == pareto_draws(["a", "b"], 9.0, 0)).all()


def test_quality_config_validation() -> None:
    assert QualityConfig().mode == "off" and QualityConfig().alpha == 9.0
    with pytest.raises(ValidationError):
        QualityConfig(mode="sometimes")
    with pytest.raises(ValidationError):
        QualityConfig.model_validate({"mode": "score", "modeldir": "x"})


# --- inputs and the command ----------------------------------------------------------------


def test_read_texts_formats(tmp_path: Path) -> None:
    rows = [{"text": "first", "n": 1}, {"text": "", "n": 2}, {"text": "third", "n": 3}]
    with gzip.open(tmp_path / "a.jsonl.gz", "wt") as fh:
        fh.write("\n".join(json.dumps(r) for r in rows) + "\n")
    table = pa.Table.from_pylist(rows)
    pq.write_table(table, tmp_path / "a.parquet")
    write_arrow(tmp_path / "a.arrow", table)
    (tmp_path / "ds" / "data").mkdir(parents=True)
    (tmp_path / "ds" / "manifest.json").write_text("{}")
    write_arrow(tmp_path / "ds" / "data" / "shard-00000-0000.arrow", table)
    for name in ("a.jsonl.gz", "a.parquet", "a.arrow", "ds"):
        assert read_texts(tmp_path / name) == ["first", "third"], name
    with pytest.raises(ValueError, match="no column 'body'"):
        read_texts(tmp_path / "a.parquet", "body")
    with pytest.raises(ValueError, match="unsupported input"):
        read_texts(tmp_path / "a.csv")


def test_train_command(tmp_path: Path) -> None:
    good = [
        f"The committee published report number {i} on river water quality and its causes." for i in range(60)
    ]
    bad = [f"Home | Login | Cart ({i}) | Buy now | Cheap deals | Click here | Sign up" for i in range(60)]
    for name, texts in (("pos.jsonl", good), ("neg.jsonl", bad)):
        (tmp_path / name).write_text("".join(json.dumps({"body": t}) + "\n" for t in texts))
    app = typer.Typer()
    app.command()(quality_train_command)
    args = ["--positive", str(tmp_path / "pos.jsonl"), "--negative", str(tmp_path / "neg.jsonl")]
    args += ["--output", str(tmp_path / "m"), "--text-field", "body", "--buckets-log2", "12", "--epochs", "5"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert metrics["train"]["accuracy"] == 1.0 and metrics["inputs"]["positive"] == [
        str(tmp_path / "pos.jsonl")
    ]
    assert QualityModel.load(tmp_path / "m").score(["Click here | Buy now | Login"])[0] < 0.5
    bad_args = [a if a != "body" else "text" for a in args]
    result = CliRunner().invoke(app, bad_args)
    assert result.exit_code == 2 and "no field 'text'" in result.output
