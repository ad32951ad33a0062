"""Quality step: score documents with the hashed n-gram classifier; keep GPT-3-style or by threshold.

GPT-3 (Brown et al. 2020, §A.1) kept a Common Crawl document when
`np.random.pareto(alpha) > 1 - document_score` with α = 9: mostly high-scoring documents,
and a few low-scoring ones so the data does not collapse onto the classifier's notion of
quality.  The keep probability is (2 − score)^−α: 1 at score 1, 2.6% at 0.5, 0.2% at 0.

The draw is per document and must not depend on how documents were partitioned or ordered,
so instead of one generator per batch each document gets its own uniform u ∈ (0, 1) from a
64-bit hash of (seed, id), and the Pareto draw u^(−1/α) − 1 — the inverse CDF of the same
distribution numpy samples (Lomax: exp(E/α) − 1 with E ~ Exp(1)).  Vectorised, this costs
about a microsecond per document (a `default_rng` per document costs ~60 µs).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyarrow as pa
import xxhash

from pipeline.config.quality import QualityConfig
from pipeline.quality.model import QualityModel
from pipeline.steps import StepResult
from pipeline.steps.decode import split

STAGE = "quality"
COLUMN = "quality_score"


@lru_cache(maxsize=4)
def load_model(model_dir: str | None) -> QualityModel:
    """The model, loaded once per process per directory (None = the bundled sample model)."""
    return QualityModel.load(model_dir)


def uniforms(ids: list[str], seed: int) -> np.ndarray:
    """One uniform in (0, 1) per id, from the top 53 bits of xxh3(id, seed)."""
    bits = np.array([xxhash.xxh3_64_intdigest(i.encode(), seed=seed) >> 11 for i in ids], dtype=np.float64)
    return (bits + 0.5) / 2.0**53


def pareto_draws(ids: list[str], alpha: float, seed: int) -> np.ndarray:
    """Per-document draws distributed as `np.random.pareto(alpha)`, keyed by (seed, id)."""
    return uniforms(ids, seed) ** (-1.0 / alpha) - 1.0


def quality_score(batch: pa.Table, cfg: QualityConfig) -> StepResult:
    """Add `quality_score` (mode score/pareto/threshold) and drop by the configured rule."""
    if cfg.mode == "off":
        return StepResult.keep_all(batch)
    texts = [t or "" for t in batch.column("text").to_pylist()]
    scores = load_model(cfg.model_dir).score(texts)
    out = batch.append_column(COLUMN, pa.array(scores, pa.float64()))
    drops: dict[int, tuple[str, str]] = {}
    if cfg.mode == "pareto":
        keep = pareto_draws(batch.column("id").to_pylist(), cfg.alpha, cfg.seed) > 1.0 - scores
        drops = {int(i): ("filtered", "quality_pareto") for i in np.flatnonzero(~keep)}
    elif cfg.mode == "threshold":
        drops = {
            int(i): ("filtered", "quality_below_threshold") for i in np.flatnonzero(scores < cfg.threshold)
        }
    return split(out, drops, STAGE)
