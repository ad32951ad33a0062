"""Sampling inside a source: which of its documents the stream repeats, keeps or thins.

Across sources the mixture is token-weighted (GPT-3: each source's share of training tokens).
Inside a source, `sampling` says how documents are drawn, from per-document columns that the
pipeline may write and encoding carries into the token shards:

* `uniform`   every document once per pass (the default; the columns are not needed);
* `score`     expected copies ∝ quality_score ** (1 / temperature);
* `pareto`    GPT-3's quality filter as a weight: GPT-3 kept a document when
              `np.random.pareto(alpha) > 1 - quality_score`, which happens with probability
              (2 - score) ** -alpha; alpha = 9 as in the paper;
* `rehydrate` FineWeb-2-style re-weighting by the size of a document's duplicate cluster
              (`cluster_size`, 1 = unique): moderately duplicated pages were found to be better
              than unique ones, heavily duplicated ones are boilerplate; `buckets` maps the
              smallest cluster size of each bucket to a weight.

Weights become expected copies per *pass* over the source, scaled so a pass holds the source's
own token count in expectation: then `epochs` from the token-weighted solve (tokens drawn /
source tokens) still counts passes.  `tokenization.order` realises the copies pass by pass with
seeded draws, so a rerun and every rank see the same copies.
"""

from __future__ import annotations

import numpy as np

from pipeline.core.sampling import SamplingConfig


def document_weights(cfg: SamplingConfig, values: np.ndarray | None) -> np.ndarray | None:
    """Relative weight per document (None = uniform); `values` is the method's column."""
    if cfg.method == "uniform":
        return None
    if values is None:
        raise ValueError(f"sampling {cfg.method!r} needs a {cfg.column!r} column in the token shards")
    v = np.asarray(values, dtype=np.float64)
    if np.isnan(v).any():
        raise ValueError(f"sampling {cfg.method!r}: {cfg.column!r} has nulls/NaN")
    if cfg.method == "score":
        return np.clip(v, 0.0, None) ** (1.0 / cfg.temperature)
    if cfg.method == "pareto":
        return (2.0 - np.clip(v, 0.0, 1.0)) ** -cfg.alpha
    sizes = np.array([s for s, _ in cfg.buckets], dtype=np.float64)
    weights = np.array([w for _, w in cfg.buckets], dtype=np.float64)
    return weights[np.searchsorted(sizes, np.maximum(v, 1.0), side="right") - 1]


def copies_per_pass(weights: np.ndarray | None, lengths: np.ndarray) -> np.ndarray | None:
    """Expected copies of each document per pass, scaled so a pass holds the source's tokens on average."""
    if weights is None:
        return None
    tokens = lengths.astype(np.float64) + 1.0  # +1: the EOS after each document
    mass = float(np.dot(weights, tokens))
    if mass <= 0:
        raise ValueError("every document has weight 0: nothing to sample")
    return weights * (tokens.sum() / mass)
