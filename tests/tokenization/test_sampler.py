"""Stream-time token-level sampler: token shares, resumability, source-local streams, shards, materialising."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from pipeline.cli.tokenizer import app
from pipeline.core.atomic import read_arrow, sha256_file, write_arrow, write_json
from tokenization.sampler import BLOCK, SourceDraws, SourceStream, TokenMixtureSampler

WEIGHTS = {"web": 0.6, "books": 0.3, "wiki": 0.1}


def fake_lengths(seed: int = 0) -> dict[str, np.ndarray]:
    """Books have 50x longer documents than web: per-document sampling would over-weight them."""
    rng = np.random.default_rng(seed)
    return {
        "web": rng.integers(20, 200, 3000),
        "books": rng.integers(5000, 10000, 40),
        "wiki": rng.integers(100, 1000, 300),
    }


def mixture(**extra) -> dict:
    return {"seed": 11, "sources": {s: {"probability": p, **extra.get(s, {})} for s, p in WEIGHTS.items()}}


@pytest.mark.parametrize("chunk_len", [128, 512, 2048])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_token_shares_within_one_percent_over_a_million_tokens(chunk_len: int, seed: int):
    m = mixture()
    m["seed"] = seed
    sampler = TokenMixtureSampler(m, fake_lengths(), chunk_len, eos_id=2)
    n_tokens = 10**6
    n_examples = -(-n_tokens // chunk_len)
    counts = sampler.source_counts(n_examples)
    src, _ = sampler.plan(np.arange(n_examples))
    # Tokens, not examples: the last example is cut at exactly 10^6 tokens.
    tokens = np.full(n_examples, chunk_len)
    tokens[-1] = n_tokens - chunk_len * (n_examples - 1)
    for i, s in enumerate(sampler.sources):
        share = tokens[src == i].sum() / n_tokens
        assert abs(share - WEIGHTS[s]) <= 0.01, (s, share)
        assert counts[s] == int((src == i).sum())


def test_per_document_sampling_would_miss_the_weights():
    """The bug this sampler fixes: picking a source per document gives books ~95% of tokens."""
    lengths = fake_lengths()
    mean = {s: lengths[s].mean() for s in WEIGHTS}
    doc_level = {s: WEIGHTS[s] * mean[s] for s in WEIGHTS}
    assert doc_level["books"] / sum(doc_level.values()) > 0.9


def test_draws_are_a_pure_function_of_the_example_index():
    d = SourceDraws([0.5, 0.3, 0.2], seed=7)
    g = np.arange(20 * BLOCK + 17)
    src, local = d.draw(g)
    for s in range(3):  # each source's examples are its chunks 0, 1, 2, ... in order
        assert (local[src == s] == np.arange((src == s).sum())).all()
    probe = np.array([len(g) - 1, 5, 3 * BLOCK, BLOCK - 1, 400, 5])
    fresh_src, fresh_local = SourceDraws([0.5, 0.3, 0.2], seed=7).draw(probe)  # resume: no history
    assert (fresh_src == src[probe]).all() and (fresh_local == local[probe]).all()
    assert not (SourceDraws([0.5, 0.3, 0.2], seed=8).draw(g)[0] == src).all()
    # Every block holds within 2 of BLOCK * p examples of each source (stratified draws).
    per_block = np.stack([np.bincount(d.block_sources(b), minlength=3) for b in range(50)])
    assert (np.abs(per_block - BLOCK * np.array([0.5, 0.3, 0.2])) < 2).all()
    # Resuming far ahead is a prefix sum, not a replay.
    far = SourceDraws([0.5, 0.3, 0.2], seed=7).counts_before(10**6)
    np.testing.assert_allclose(far / far.sum(), [0.5, 0.3, 0.2], atol=1e-4)


def test_source_stream_is_every_document_once_per_pass_with_eos():
    lengths = np.array([3, 1, 4, 1, 5])
    stream = SourceStream("s", lengths, seed=3)
    per_pass = int((lengths + 1).sum())
    spans = stream.pieces(0, 2 * per_pass)
    docs = [d for d, a, b in spans if d >= 0 and a == 0]
    assert sorted(docs[:5]) == sorted(docs[5:]) == [0, 1, 2, 3, 4]
    assert sum(b - a for _, a, b in spans) == 2 * per_pass
    assert sum(1 for d, _, _ in spans if d < 0) == 10  # one EOS after every document
    # Any window equals the same slice of the full walk.
    assert stream.pieces(7, 5) == SourceStream("s", lengths, seed=3).pieces(7, 5)


def test_weighted_passes_favour_high_scores():
    lengths = np.full(200, 50)
    copies = np.where(np.arange(200) < 100, 1.6, 0.4)  # top half scores 4x the bottom half
    stream = SourceStream("s", lengths, seed=1, copies=copies)
    seen = np.zeros(200)
    for p in range(20):
        np.add.at(seen, stream.pass_docs(p).order, 1)
    assert seen[:100].mean() / seen[100:].mean() == pytest.approx(4.0, rel=0.1)


def test_sampler_uses_quality_columns(tmp_path: Path):
    lengths = {"web": np.full(400, 30), "wiki": np.full(50, 30)}
    score = np.linspace(0, 1, 400)
    m = {
        "seed": 0,
        "sources": {"web": {"probability": 0.9, "sampling": "score"}, "wiki": {"probability": 0.1}},
    }
    sampler = TokenMixtureSampler(
        m,
        lengths,
        31,
        eos_id=2,
        doc_columns=lambda s, c: score if (s, c) == ("web", "quality_score") else None,
    )
    src, local = sampler.plan(np.arange(2000))
    web_docs = [sampler.pieces(int(g))[1][0][0] for g in np.flatnonzero(src == 0)[:1500]]
    docs = np.array(web_docs)
    assert (docs >= 200).mean() > 0.7  # better half drawn far more often
    with pytest.raises(ValueError, match="quality_score"):
        TokenMixtureSampler(m, lengths, 31, eos_id=2)


# ---------------------------------------------------------------------------------- real shards


def write_token_shards(root: Path) -> Path:
    """Token shards as `yuliao tokenizer encode` writes them (two shards, interleaved sources)."""
    rng = np.random.default_rng(0)
    entries, per_source = [], {}
    for k in range(2):
        rows = {"id": [], "source": [], "input_ids": [], "quality_score": []}
        for j in range(60):
            src = ["web", "books", "wiki"][j % 3]
            n = int(rng.integers(1, 40 if src != "books" else 400))
            rows["id"].append(f"{src}-{k}-{j}")
            rows["source"].append(src)
            rows["input_ids"].append(rng.integers(10, 900, n).astype(np.uint16).tolist())
            rows["quality_score"].append(float(rng.random()))
            per_source[src] = per_source.get(src, 0) + n
        table = pa.table(
            {
                "id": rows["id"],
                "source": rows["source"],
                "input_ids": pa.array(rows["input_ids"], pa.list_(pa.uint16())),
                "quality_score": rows["quality_score"],
            }
        )
        write_arrow(root / f"shard-{k:05d}.arrow", table)
        entries.append(
            {"path": f"shard-{k:05d}.arrow", "rows": 60, "sha256": sha256_file(root / f"shard-{k:05d}.arrow")}
        )
    write_json(
        root / "manifest.json",
        {
            "shards": entries,
            "tokens_per_source": per_source,
            "docs_per_source": {"web": 40, "books": 40, "wiki": 40},
            "eos_id": 2,
            "pad_id": 0,
            "dtype": "uint16",
        },
    )
    return root


def test_chunks_from_token_shards_match_pretrain_numbering(tmp_path: Path):
    from pretrain.data.shards import TokenShards

    tokens = write_token_shards(tmp_path / "tokens")
    sampler, docs = TokenMixtureSampler.from_tokens_dir(tokens, mixture(), chunk_len=64)
    shards = TokenShards(tokens)
    for s in sampler.sources:
        np.testing.assert_array_equal(docs.doc_lengths(s), shards.doc_lengths(s))
        for i in (0, 5, len(docs.doc_lengths(s)) - 1):
            np.testing.assert_array_equal(docs.doc(s, i), shards.doc(s, i))
    g = np.arange(300)
    chunks = sampler.chunks(g, shards.doc)  # the pretrain reader's fetch works as is
    assert chunks.shape == (300, 64)
    src, local = sampler.plan(g)
    # Concatenating one source's chunks in local order gives its documents joined by EOS.
    web = sampler.sources.index("web")
    order = np.argsort(local[src == web])
    stream = chunks[src == web][order].reshape(-1)
    first_pass = sampler.streams[web].pass_docs(0).order
    expected = np.concatenate([np.append(shards.doc("web", int(d)), 2) for d in first_pass])
    n = min(len(stream), len(expected))
    np.testing.assert_array_equal(stream[:n], expected[:n])


def test_cli_mix_materialises_the_stream(tmp_path: Path):
    tokens = write_token_shards(tmp_path / "tokens")
    m = {"seed": 3, "budget_tokens": 64 * 500, "weight_sum_given": 1.0}
    m["sources"] = {
        s: {"probability": p, "weight": p, "tokens": 1, "epochs": 1.0, "tokens_drawn": 1.0, "capped": False}
        for s, p in WEIGHTS.items()
    }
    m["sources"]["web"]["sampling"] = {"method": "score"}
    (tmp_path / "mix.json").write_text(json.dumps(m))
    runner = CliRunner()
    args = [
        "mix",
        str(tmp_path / "mix.json"),
        "--tokens",
        str(tokens),
        "--output",
        str(tmp_path / "out.json"),
    ]
    args += ["--materialise", str(tmp_path / "mat"), "--chunk-len", "64"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    made = json.loads((tmp_path / "mat" / "manifest.json").read_text())
    assert made["examples"] == 500 and sum(made["tokens_per_source"].values()) == 500 * 64
    for s, p in WEIGHTS.items():
        assert made["share_per_source"][s] == pytest.approx(p, abs=0.01)
    table = read_arrow(tmp_path / "mat" / made["shards"][0]["path"])
    assert table.schema.field("input_ids").type == pa.list_(pa.uint16(), 64)
    first = (tmp_path / "mat" / made["shards"][0]["path"]).read_bytes()
    r = runner.invoke(app, args)
    assert r.exit_code == 0 and (tmp_path / "mat" / made["shards"][0]["path"]).read_bytes() == first
    assert json.loads((tmp_path / "out.json").read_text())["sources"]["web"]["sampling"]["method"] == "score"


def test_cli_mix_solves_a_run_manifest_against_measured_tokens(tmp_path: Path):
    import yaml

    tokens = write_token_shards(tmp_path / "tokens")
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
    # For document-level streams: books' documents are ~10x longer, so drawn ~10x less often per token.
    q = {s: v["document_probability"] for s, v in m["sources"].items()}
    assert sum(q.values()) == pytest.approx(1) and q["books"] < m["sources"]["books"]["probability"] / 3


def test_cli_mix_prints_gpt3_table_from_declared_tokens(tmp_path: Path):
    repo = Path(__file__).resolve().parents[2]
    gpt3 = repo / "manifests" / "gpt3_mixture.yaml"
    runner = CliRunner()
    r = runner.invoke(app, ["mix", str(gpt3)])  # no token shards: the paper's own token counts
    assert r.exit_code == 0, r.output
    rows = {line.split()[0]: line.split() for line in r.output.splitlines()[2:7]}
    # source, tokens, given, weight, p, epochs (GPT-3 Table 2.1 from its tokens and rounded shares)
    assert rows["common_crawl"][1:6] == ["410,000,000,000", "0.6", "60.0%", "59.4%", "0.44"]
    assert rows["webtext2"][1:6] == ["19,000,000,000", "0.22", "22.0%", "21.8%", "3.47"]
    assert [rows[s][5] for s in ("books1", "books2", "wikipedia")] == ["2.00", "0.44", "3.00"]
    assert "weights given summed to 1.01" in r.output
    out = tmp_path / "gpt3.json"
    r = runner.invoke(app, ["mix", str(gpt3), "--sampling", "common_crawl=pareto", "--output", str(out)])
    assert r.exit_code == 0, r.output
    m = json.loads(out.read_text())
    assert m["sources"]["common_crawl"]["sampling"]["method"] == "pareto"
    assert m["sources"]["wikipedia"]["sampling"]["method"] == "uniform"
    assert m["budget_tokens"] == 300_000_000_000 and m["weight_sum_given"] == pytest.approx(1.01)
    r = runner.invoke(app, ["mix", str(gpt3), "--sampling", "cc=pareto"])
    assert r.exit_code == 2 and "cc" in r.output
    r = runner.invoke(app, ["mix", str(gpt3), "--sampling", "common_crawl=temperature"])
    assert r.exit_code == 2 and "sampling" in r.output
