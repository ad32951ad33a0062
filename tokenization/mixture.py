"""The mixture manifest the trainer's stream consumes, GPT-3's Table 2.1 view of it, and materialising it.

`build_mixture` turns a solved plan (`pipeline.mix.solve`: epochs per source for a token budget,
caps re-solved) into `mixture.json` v2: the v1 fields the current stream reads (seed, sources ->
probability, weight, epochs, ...) plus each source's within-source `sampling` and the sampler's
format constants.  `materialise` writes the first N examples of the token-level stream as
fixed-size chunk shards, for trainers that cannot sample at stream time.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pipeline.core.atomic import sha256_file, write_arrow, write_json
from tokenization import __version__
from tokenization.mixing import SamplingConfig
from tokenization.sampler import BLOCK, TokenMixtureSampler

FORMAT = "yuliao.mixture.v2"
ROWS_PER_SHARD = 8192


def build_mixture(
    plan, sampling: dict[str, SamplingConfig] | None = None, seed: int = 0, tokens_dir: Path | None = None
) -> dict[str, Any]:
    """mixture.json v2 from a `pipeline.mix.MixPlan`."""
    sampling = sampling or {}
    mixture: dict[str, Any] = {
        "format": FORMAT,
        "seed": seed,
        "budget_tokens": plan.budget_tokens,
        "weight_sum_given": plan.weight_sum_given,
        "unit": "tokens",
        "sampler": {
            "module": "tokenization.sampler",
            "block": BLOCK,
            "rule": "source ~ probability per chunk",
        },
        "sources": {
            s.name: {**asdict(s), "sampling": sampling.get(s.name, SamplingConfig()).model_dump(mode="json")}
            for s in plan.sources
        },
        "resolved": [s.name for s in plan.sources if s.capped],
        "code_version": __version__,
    }
    if tokens_dir is not None:
        mixture["tokens"] = {
            "path": str(Path(tokens_dir).resolve()),
            "manifest_sha256": sha256_file(Path(tokens_dir) / "manifest.json"),
        }
        docs = json.loads((Path(tokens_dir) / "manifest.json").read_text()).get("docs_per_source") or {}
        for name, q in document_probabilities(mixture["sources"], docs).items():
            mixture["sources"][name]["document_probability"] = q
    return mixture


def document_probabilities(sources: dict[str, Any], docs: dict[str, int]) -> dict[str, float]:
    """Per-source probabilities for a stream that draws a source per DOCUMENT (not per chunk).

    Drawing documents with the token shares p_s over-weights sources with long documents; drawing
    them with q_s ∝ p_s / (mean tokens per document + 1 EOS) gives token shares p_s in
    expectation.  Empty when a source's document count is unknown.
    """
    if not all(docs.get(n, 0) > 0 for n in sources):
        return {}
    raw = {n: float(s["probability"]) / (int(s["tokens"]) / docs[n] + 1.0) for n, s in sources.items()}
    total = sum(raw.values())
    return {n: q / total for n, q in raw.items()}


def table_2_1(mixture: dict[str, Any]) -> str:
    """GPT-3 Table 2.1 (source, tokens, weight in the mix, epochs at the budget), plus how weights were
    normalised (`given` as written, `weight` the share of the budget, `p` the stream probability),
    tokens drawn, up/down-sampling and the sampling inside each source."""
    lines = [
        f"{'source':<16}{'tokens':>17}{'given':>8}{'weight':>8}{'p':>8}{'epochs':>8}{'drawn':>18}  sampling",
        "-" * 100,
    ]
    for name, s in mixture["sources"].items():
        e = float(s["epochs"])
        how = "up-sampled" if e > 1 + 1e-9 else "down-sampled" if e < 1 - 1e-9 else "once"
        flag = " (capped: re-solved)" if s.get("capped") else ""
        within = s.get("sampling", {}).get("method", "uniform")
        given = float(s.get("weight_given", s["weight"]))
        lines.append(
            f"{name:<16}{int(s['tokens']):>17,}{given:>8.3g}{float(s['weight']):>8.1%}"
            f"{float(s['probability']):>8.1%}{e:>8.2f}{float(s['tokens_drawn']):>18,.0f}  {how}, {within}{flag}"
        )
    total = float(mixture["weight_sum_given"])
    drawn = sum(float(s["tokens_drawn"]) for s in mixture["sources"].values())
    lines.append(
        f"budget {int(mixture['budget_tokens']):,} tokens, {drawn:,.0f} drawn; weights given summed to "
        f"{total:g}, stream probability p = weight / sum of weights"
    )
    if mixture.get("resolved"):
        lines.append(
            f"max_epochs bound for {', '.join(mixture['resolved'])}: pinned at the cap, "
            "the remaining weight re-spread over the other sources in proportion to their weights"
        )
    return "\n".join(lines)


def materialise(
    mixture: dict[str, Any], tokens_dir: str | Path, out_dir: str | Path, chunk_len: int, examples: int
) -> dict[str, Any]:
    """Write examples [0, examples) of the token-level stream as shards of fixed-size chunks."""
    sampler, docs = TokenMixtureSampler.from_tokens_dir(tokens_dir, mixture, chunk_len)
    out_dir = Path(out_dir)
    dtype = json.loads((Path(tokens_dir) / "manifest.json").read_text())["dtype"]
    shards, per_source = [], dict.fromkeys(sampler.sources, 0)
    for i, lo in enumerate(range(0, examples, ROWS_PER_SHARD)):
        g = np.arange(lo, min(examples, lo + ROWS_PER_SHARD), dtype=np.int64)
        src, _ = sampler.plan(g)
        tokens = sampler.chunks(g, docs.doc).astype(dtype)
        names = [sampler.sources[k] for k in src]
        for n in names:
            per_source[n] += chunk_len
        table = pa.table(
            {
                "example": pa.array(g, pa.int64()),
                "source": pa.array(names, pa.string()),
                "input_ids": pa.FixedSizeListArray.from_arrays(pa.array(tokens.reshape(-1)), chunk_len),
            }
        )
        path = out_dir / f"mix-{i:05d}.arrow"
        write_arrow(path, table)
        shards.append({"path": path.name, "rows": len(g), "sha256": sha256_file(path)})
    manifest = {
        "format": FORMAT + ".materialised",
        "chunk_len": chunk_len,
        "examples": examples,
        "dtype": dtype,
        "shards": shards,
        "tokens_per_source": per_source,
        "share_per_source": {s: n / max(1, examples * chunk_len) for s, n in per_source.items()},
        "mixture": mixture,
    }
    write_json(out_dir / "manifest.json", manifest)
    return manifest
