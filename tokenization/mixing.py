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
source tokens) still counts passes.  The stream-time sampler realises the copies per pass with
counter-based draws (`tokenization.sampler`).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

Method = Literal["uniform", "pareto", "score", "rehydrate"]
# (smallest cluster size, weight): 1 -> x1, 2 -> x2, 3-4 -> x3, 5-100 -> x5, >100 -> x1.
DEFAULT_REHYDRATE_BUCKETS: tuple[tuple[int, float], ...] = (
    (1, 1.0),
    (2, 2.0),
    (3, 3.0),
    (5, 5.0),
    (101, 1.0),
)
COLUMN = {"score": "quality_score", "pareto": "quality_score", "rehydrate": "cluster_size"}


class SamplingConfig(BaseModel):
    """`sampling:` of one source; a bare string (`sampling: pareto`) means that method with defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    method: Method = "uniform"
    alpha: float = Field(default=9.0, gt=0, description="pareto: shape (GPT-3 used 9)")
    temperature: float = Field(default=1.0, gt=0, description="score: weight = score ** (1/temperature)")
    buckets: tuple[tuple[int, float], ...] = Field(
        default=DEFAULT_REHYDRATE_BUCKETS,
        description="rehydrate: (smallest cluster_size, weight) pairs, ascending sizes",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"method": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_buckets(self) -> SamplingConfig:
        sizes = [s for s, _ in self.buckets]
        if not sizes or sizes[0] != 1 or sizes != sorted(set(sizes)):
            raise ValueError("buckets must start at cluster size 1 and ascend without repeats")
        if any(w < 0 for _, w in self.buckets):
            raise ValueError("bucket weights must be >= 0")
        return self

    @property
    def column(self) -> str | None:
        """The per-document column this method reads (None for uniform)."""
        return COLUMN.get(self.method)


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
