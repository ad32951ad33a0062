"""Within-source sampling reaches the trainer: per-document draws counted through `PretrainStream`, the
trainer's own data path, against the frequencies `sampling:` promises; `--materialise` writes those
same examples."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from pipeline.cli.main import app
from pipeline.core.atomic import read_arrow, sha256_file, write_arrow, write_json
from pipeline.core.sampling import SamplingConfig
from pretrain.data.stream import PretrainStream
from pretrain.objectives import clm_collate
from tokenization.materialise import materialise
from tokenization.mixture import mixture_of_weights
from tokenization.sampling import copies_per_pass, document_weights
from tokenization.stream import WINDOW

EOS, FIRST = 2, 10  # document d of source s is LENGTH copies of token FIRST + offset(s) + d
LENGTH, DOCS = 7, 40
SCORES = np.linspace(0.0, 1.0, DOCS)
CLUSTERS = np.array([1, 2, 3, 5, 200] * (DOCS // 5))


def write_tokens(
    root: Path, sources: tuple[str, ...] = ("web",), shards: int = 2, lengths: np.ndarray | None = None
) -> Path:
    """Token shards as `yuliao tokenizer encode` writes them, with the carried per-document columns
    (document d has LENGTH tokens, or lengths[d])."""
    lengths = np.full(DOCS, LENGTH) if lengths is None else lengths
    entries = []
    per_shard = DOCS // shards
    for k in range(shards):
        rows: dict[str, list] = {
            "id": [],
            "source": [],
            "input_ids": [],
            "quality_score": [],
            "cluster_size": [],
        }
        for i, s in enumerate(sources):
            for d in range(k * per_shard, (k + 1) * per_shard):
                rows["id"].append(f"{s}-{d}")
                rows["source"].append(s)
                rows["input_ids"].append([FIRST + 100 * i + d] * int(lengths[d]))
                rows["quality_score"].append(float(SCORES[d]))
                rows["cluster_size"].append(int(CLUSTERS[d]))
        table = pa.table({**rows, "input_ids": pa.array(rows["input_ids"], pa.list_(pa.uint16()))})
        path = root / f"shard-{k:05d}.arrow"
        write_arrow(path, table)
        entries.append(
            {
                "path": path.name,
                "rows": len(rows["id"]),
                "sha256": sha256_file(path),
                "docs_per_source": dict.fromkeys(sources, per_shard),
                "tokens_per_source": dict.fromkeys(
                    sources, int(lengths[k * per_shard : (k + 1) * per_shard].sum())
                ),
            }
        )
    write_json(
        root / "manifest.json",
        {
            "shards": entries,
            "tokens_per_source": dict.fromkeys(sources, int(lengths.sum())),
            "docs_per_source": dict.fromkeys(sources, DOCS),
            "eos_id": EOS,
            "pad_id": 0,
            "dtype": "uint16",
        },
    )
    return root


def draws_seen_by_the_trainer(
    tokens: Path, mixture: dict, windows: int = 2, chunk_len: int = 32
) -> np.ndarray:
    """Documents drawn in the first `windows` shuffle windows, counted from the CLM batches the trainer gets."""
    stream = PretrainStream(
        tokens,
        mixture,
        partial(clm_collate, eos_id=EOS, doc_attention=False),
        chunk_len,
        batch_size=256,
        seed=5,
    )
    seen = np.zeros(1000, np.int64)
    batches = stream.iter_batches()
    for _ in range(windows * WINDOW // 256):
        _, batch = next(batches)
        ids = batch["input_ids"].numpy().reshape(-1)
        seen += np.bincount(ids, minlength=1000)
    return seen[FIRST : FIRST + DOCS] / LENGTH  # whole documents (a cut one counts as its fraction)


def expected_draws(cfg: SamplingConfig, values: np.ndarray, total: float) -> np.ndarray:
    copies = copies_per_pass(document_weights(cfg, values), np.full(DOCS, LENGTH))
    return total * copies / copies.sum()


@pytest.mark.parametrize(
    ("method", "values"), [("pareto", SCORES), ("score", SCORES), ("rehydrate", CLUSTERS)]
)
def test_sampling_changes_the_documents_the_trainer_sees(tmp_path: Path, method: str, values: np.ndarray):
    tokens = write_tokens(tmp_path / "tokens")
    cfg = SamplingConfig(method=method)
    seen = draws_seen_by_the_trainer(tokens, mixture_of_weights({"web": 1.0}, seed=3, web=cfg))
    expected = expected_draws(cfg, values, seen.sum())
    # Each pass draws floor(c) + Bernoulli(frac c) copies: counts stay within a few sigma of expectation.
    assert np.all(np.abs(seen - expected) <= 4 * np.sqrt(expected) + 1.5), (seen.round(1), expected.round(1))
    uniform = draws_seen_by_the_trainer(tokens, mixture_of_weights({"web": 1.0}, seed=3))
    assert np.ptp(uniform) <= 1.0  # uniform: every document once per pass
    assert np.abs(seen - uniform).max() > 10  # so the method really moved the draws


def test_pareto_follows_gpt3_keep_probability(tmp_path: Path):
    """GPT-3 kept a document when pareto(9) > 1 - score: the best document is drawn 2**9 times the worst."""
    tokens = write_tokens(tmp_path / "tokens")
    seen = draws_seen_by_the_trainer(
        tokens, mixture_of_weights({"web": 1.0}, web=SamplingConfig(method="pareto"))
    )
    assert seen[-1] > 100 * max(seen[0], 1.0)
    assert seen[-5:].sum() > 0.5 * seen.sum()  # the top eighth of the scores takes over half the draws


def test_sources_keep_their_token_shares_under_sampling(tmp_path: Path):
    tokens = write_tokens(tmp_path / "tokens", sources=("web", "wiki"))
    mixture = mixture_of_weights({"web": 0.75, "wiki": 0.25}, web=SamplingConfig(method="pareto"))
    stream = PretrainStream(
        tokens, mixture, partial(clm_collate, eos_id=EOS, doc_attention=False), 32, 256, 0
    )
    ids = np.concatenate(
        [
            b["input_ids"].numpy().reshape(-1)
            for _, (_, b) in zip(range(16), stream.iter_batches(), strict=False)
        ]
    )
    web = ((ids >= FIRST) & (ids < FIRST + DOCS)).sum()
    wiki = ((ids >= FIRST + 100) & (ids < FIRST + 100 + DOCS)).sum()
    assert web / (web + wiki) == pytest.approx(0.75, abs=0.02)


def test_sampling_without_its_column_names_the_field_and_the_fix(tmp_path: Path):
    tokens = write_tokens(tmp_path / "tokens")
    for shard in json.loads((tokens / "manifest.json").read_text())["shards"]:
        table = read_arrow(tokens / shard["path"]).drop_columns(["quality_score"])
        write_arrow(tokens / shard["path"], table)
    stream = PretrainStream(
        tokens, mixture_of_weights({"web": 1.0}, web=SamplingConfig(method="pareto")), clm_collate, 32, 8, 0
    )
    with pytest.raises(ValueError, match=r"sources\.web\.sampling is 'pareto'.*'quality_score' column"):
        next(stream.iter_batches())


def test_a_changed_sampling_refuses_to_resume(tmp_path: Path):
    tokens = write_tokens(tmp_path / "tokens")
    uniform = PretrainStream(tokens, mixture_of_weights({"web": 1.0}), clm_collate, 32, 8, seed=0)
    pareto = PretrainStream(
        tokens,
        mixture_of_weights({"web": 1.0}, web=SamplingConfig(method="pareto")),
        clm_collate,
        32,
        8,
        seed=0,
    )
    with pytest.raises(ValueError, match="mixture changed"):
        pareto.load_state_dict(uniform.state_dict())


def test_materialised_examples_are_the_trainers_examples(tmp_path: Path):
    tokens = write_tokens(tmp_path / "tokens", sources=("web", "wiki"))
    mixture = mixture_of_weights({"web": 0.5, "wiki": 0.5}, seed=1, wiki=SamplingConfig(method="rehydrate"))
    made = materialise(mixture, tokens, tmp_path / "mat", chunk_len=16, examples=WINDOW + 100, seed=7)
    rows = np.concatenate(
        [
            np.stack(
                read_arrow(tmp_path / "mat" / s["path"]).column("input_ids").to_numpy(zero_copy_only=False)
            )
            for s in made["shards"]
        ]
    )
    stream = PretrainStream(
        tokens, mixture, lambda chunks, rngs, word_starts=None: {"x": chunks}, 16, 64, seed=7
    )
    trainer = np.concatenate(
        [b["x"] for _, (_, b) in zip(range(-(-(WINDOW + 100) // 64)), stream.iter_batches(), strict=False)]
    )
    np.testing.assert_array_equal(rows, trainer[: WINDOW + 100])
    assert sum(made["tokens_per_source"].values()) == (WINDOW + 100) * 16
    assert made["share_per_source"]["web"] == pytest.approx(0.5, abs=0.03)


def test_cli_mix_materialises_and_reruns_byte_identical(tmp_path: Path):
    tokens = write_tokens(tmp_path / "tokens", sources=("web", "wiki"))
    (tmp_path / "mix.json").write_text(json.dumps(mixture_of_weights({"web": 0.8, "wiki": 0.2}, seed=2)))
    args = ["mix", str(tmp_path / "mix.json"), "--tokens", str(tokens), "--sampling", "web=score"]
    args += ["--materialise", str(tmp_path / "mat"), "--chunk-len", "16", "--examples", "300"]
    runner = CliRunner()
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    written = json.loads((tokens / "mixture.json").read_text())
    assert written["sources"]["web"]["sampling"]["method"] == "score"
    made = json.loads((tmp_path / "mat" / "manifest.json").read_text())
    assert made["examples"] == 300 and sum(made["tokens_per_source"].values()) == 300 * 16
    first = (tmp_path / "mat" / made["shards"][0]["path"]).read_bytes()
    assert runner.invoke(app, args).exit_code == 0
    assert (tmp_path / "mat" / made["shards"][0]["path"]).read_bytes() == first


def test_the_mix_meter_counts_passes_under_sampling(tmp_path: Path):
    """Long documents score high here, so pareto draws fewer documents per pass than the source holds:
    epochs must count passes (tokens drawn / source tokens), not documents drawn / documents."""
    from pretrain.data.meter import MixMeter
    from tokenization.shards import TokenShards

    lengths = 1 + np.arange(DOCS)  # document d has d + 1 tokens; its score rises with d
    tokens = write_tokens(tmp_path / "tokens", lengths=lengths)
    meter = MixMeter(
        TokenShards(tokens), mixture_of_weights({"web": 1.0}, web=SamplingConfig(method="pareto"))
    )
    seen = meter.update(200_000)["web"]
    passes = 200_000 / (lengths + 1).sum()  # EOS included, as the stream holds it
    assert seen["epochs"] == pytest.approx(passes, rel=0.05)
