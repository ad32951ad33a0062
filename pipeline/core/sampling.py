"""`sources[].sampling`: how documents are drawn inside one source (see tokenization/mixing.py).

In the core because both sides read it: the pipeline's source config validates it and
tokenization's sampler realises it.
"""

from __future__ import annotations

from typing import Any, Literal

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
