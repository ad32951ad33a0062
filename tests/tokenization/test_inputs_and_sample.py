"""Training inputs (dataset dirs, JSONL, Parquet, Arrow; sources) and the mixture-weighted training sample."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from pipeline.cli.tokenizer import app
from pipeline.core.atomic import sha256_file, write_arrow, write_json
from tokenization.inputs import DatasetError, iter_input_docs, iter_inputs, source_text_bytes
from tokenization.mixture import mixture_of_weights
from tokenization.sample import load_weights, sample_docs, sample_rates

EN = "The lighthouse keeper climbed the stairs at dusk. "
ZH = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"


def dataset(root: Path, rows: dict[str, list[str]]) -> Path:
    """One shard per source with the pipeline manifest fields the sampler reads (source, text_bytes)."""
    entries = []
    for k, (src, texts) in enumerate(sorted(rows.items())):
        rel = f"data/shard-{k:05d}.arrow"
        write_arrow(
            root / rel,
            pa.table(
                {"id": [f"{src}{i}" for i in range(len(texts))], "text": texts, "source": [src] * len(texts)}
            ),
        )
        entries.append(
            {
                "path": rel,
                "source": src,
                "rows": len(texts),
                "text_bytes": sum(len(t.encode()) for t in texts),
                "sha256": sha256_file(root / rel),
            }
        )
    write_json(root / "manifest.json", {"shards": entries})
    return root


def test_inputs_give_sources(tmp_path: Path):
    ds = dataset(tmp_path / "ds", {"poems": [ZH] * 3, "prose": [EN] * 2})
    assert list(iter_input_docs(ds)) == [("poems", ZH)] * 3 + [("prose", EN)] * 2
    write_arrow(tmp_path / "a.arrow", pa.table({"text": [EN, None, ZH]}))
    assert list(iter_input_docs(tmp_path / "a.arrow")) == [("a", EN), ("a", ZH)]
    pq.write_table(pa.table({"body": [EN], "source": ["web"]}), tmp_path / "b.parquet")
    assert list(iter_input_docs(tmp_path / "b.parquet", "body")) == [("web", EN)]
    (tmp_path / "c.jsonl").write_text(
        json.dumps({"text": ZH, "source": "x"}) + "\n" + json.dumps({"text": EN}) + "\n"
    )
    assert list(iter_input_docs(tmp_path / "c.jsonl")) == [("x", ZH), ("c", EN)]
    both = list(iter_inputs([tmp_path / "a.arrow", tmp_path / "c.jsonl"]))
    assert [s for s, _ in both] == ["a", "a", "x", "c"]
    with pytest.raises(DatasetError, match="input not found"):
        list(iter_inputs([tmp_path / "a.arrow", tmp_path / "missing.jsonl"]))  # checked before reading
    with pytest.raises(DatasetError, match=r"a\.arrow.*missing column"):
        list(iter_input_docs(tmp_path / "a.arrow", "body"))
    # Sizes from the dataset manifest; from one pass over files.
    assert source_text_bytes([ds]) == {"poems": 3 * len(ZH.encode()), "prose": 2 * len(EN.encode())}
    assert source_text_bytes([tmp_path / "c.jsonl"]) == {"c": len(EN.encode()), "x": len(ZH.encode())}


def test_load_weights_from_mixture_json_and_manifest(tmp_path: Path):
    (tmp_path / "m.json").write_text(json.dumps(mixture_of_weights({"a": 1, "b": 3})))
    assert load_weights(tmp_path / "m.json") == {"a": 0.25, "b": 0.75}  # the stream's probabilities
    (tmp_path / "m.yaml").write_text(
        yaml.safe_dump({"sources": [{"name": "a", "weight": 0.6}, {"name": "b", "weight": 0.4}]})
    )
    assert load_weights(tmp_path / "m.yaml") == {"a": 0.6, "b": 0.4}
    (tmp_path / "bad.json").write_text(json.dumps({**mixture_of_weights({"a": 1}), "sources": {}}))
    with pytest.raises(DatasetError, match="sources"):
        load_weights(tmp_path / "bad.json")


def test_sample_follows_token_weights_not_corpus_sizes():
    # prose is 9x larger than poems, but the mixture gives poems 75% of training.
    docs = [("poems", f"p{i}") for i in range(1000)] + [("prose", f"q{i}") for i in range(9000)]
    sizes = {"poems": 1000, "prose": 9000}
    rates = sample_rates({"poems": 0.75, "prose": 0.25}, sizes, sample_bytes=8000)
    assert rates == pytest.approx({"poems": 6.0, "prose": 8000 * 0.25 / 9000})
    out = list(sample_docs(docs, rates, seed=1))
    poems = sum(t.startswith("p") for t in out)
    assert poems == 6000  # integer rate: exactly 6 copies each
    assert (len(out) - poems) == pytest.approx(2000, rel=0.05)
    assert out == list(sample_docs(docs, rates, seed=1))  # same seed, same sample
    assert out != list(sample_docs(docs, rates, seed=2))
    # Unweighted sources are left out; weighted sources absent from the data are renormalised away.
    rates = sample_rates({"poems": 1.0, "gone": 1.0}, sizes)
    assert rates["prose"] == 0.0 and rates["poems"] == pytest.approx(10.0)
    with pytest.raises(DatasetError, match="no mixture source"):
        sample_rates({"gone": 1.0}, sizes)


def test_cli_train_with_mixture_and_kind(tmp_path: Path):
    ds = dataset(
        tmp_path / "ds",
        {"poems": [f"{ZH}第{i}首" for i in range(60)], "prose": [f"{EN} n{i}" for i in range(240)]},
    )
    (tmp_path / "mix.json").write_text(json.dumps(mixture_of_weights({"poems": 0.8, "prose": 0.2})))
    runner = CliRunner()
    args = ["train", "--input", str(ds), "--tokenizer", str(tmp_path / "tok"), "--vocab-size", "600"]
    r = runner.invoke(app, [*args, "--mixture", str(tmp_path / "mix.json"), "--kind", "char", "--seed", "3"])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "tok" / "yuliao_tokenizer.json").read_text())
    assert m["kind"] == "char" and m["config"]["seed"] == 3
    sampling = m["training"]["sampling"]
    assert sampling["rates"]["poems"] > 1 > sampling["rates"]["prose"]  # up- and down-sampled
    assert m["training"]["heldout_docs"] == 6  # every 50th of 300 input documents
    assert "TGH level-1 coverage" in r.output and "sentencepiece_bpe" in r.output  # side by side by default
    assert m["report"]["sentencepiece_bpe"]["heldout_docs"] == m["report"]["yuliao"]["heldout_docs"] == 6
    r = runner.invoke(app, [*args, "--kind", "unigram"])
    assert r.exit_code == 2
    r = runner.invoke(app, [*args, "--holdout-every", "0", "--split-cjk-chars"])
    assert r.exit_code == 0, r.output
    m = json.loads((tmp_path / "tok" / "yuliao_tokenizer.json").read_text())
    assert (
        m["training"]["heldout_docs"] == 0 and m["training"]["docs"] == 300 and m["config"]["split_cjk_chars"]
    )
