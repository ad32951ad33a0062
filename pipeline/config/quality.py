"""GPT-3-style quality classifier: how documents are scored and kept, and how a model is trained."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipeline.config.base import Strict


class QualityConfig(Strict):
    """The `quality` step.

    `score` adds `quality_score` (the probability that a document is "reference-like") and
    keeps everything; `pareto` keeps a document when `np.random.pareto(alpha) > 1 - score`
    (Brown et al. 2020, GPT-3 §A.1: low scores are kept rarely, not never); `threshold`
    keeps `score >= threshold`.  The Pareto draw is seeded per document id, so the decision
    does not depend on partitioning or order.
    """

    mode: Literal["off", "score", "pareto", "threshold"] = "off"
    model_dir: str | None = Field(
        default=None,
        description="directory with model.json + model.npz; None = the bundled sample model "
        "(pipeline/quality/models/sample)",
    )
    threshold: float = Field(default=0.5, ge=0, le=1, description="mode threshold: keep score ≥ this")
    alpha: float = Field(default=9.0, gt=0, description="GPT-3 §A.1: Pareto shape α = 9")
    seed: int = Field(default=0, ge=0, description="seed of the per-document Pareto draws")


class QualityTrainConfig(Strict):
    """Hashed n-gram logistic regression (the GPT-3 classifier used Spark's HashingTF + LR)."""

    buckets_log2: int = Field(default=20, ge=8, le=26, description="2^20 hashed feature buckets")
    char_ngrams: list[int] = Field(default=[1, 2, 3], min_length=1, description="inside CJK runs")
    word_ngrams: list[int] = Field(default=[1, 2, 3], min_length=1, description="lowercased words elsewhere")
    max_chars: int = Field(default=20_000, gt=0, description="characters of each text featurized")
    epochs: int = Field(default=60, gt=0)
    batch_size: int = Field(default=256, gt=0)
    learning_rate: float = Field(default=0.05, gt=0, description="Adam step size")
    l2: float = Field(default=1e-4, ge=0, description="(l2 / 2)·‖w‖² added to the mean log loss")
    holdout: float = Field(default=0.1, ge=0, lt=1, description="share of groups held out for metrics")
    seed: int = 0
    min_abs_weight: float = Field(
        default=0.0, ge=0, description="weights smaller than this are dropped when saving (smaller file)"
    )

    @model_validator(mode="after")
    def _positive_orders(self) -> QualityTrainConfig:
        if min(self.char_ngrams + self.word_ngrams) < 1:
            raise ValueError("n-gram orders must be ≥ 1")
        return self
