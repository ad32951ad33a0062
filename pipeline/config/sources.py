"""Mixture sources: where records live and how much of training each should be."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from pipeline.config.base import Strict
from pipeline.core.sampling import SamplingConfig


class SourceConfig(Strict):
    """One mixture source: where its records live and how much of training it should be."""

    model_config = ConfigDict(allow_inf_nan=False)  # `weight: .inf` would make every share nan

    name: str = Field(
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", description="mixture source name, used in ids"
    )
    paths: list[str] = Field(default_factory=list, description="files or globs, any fsspec URL")
    format: Literal["auto", "warc", "jsonl", "parquet", "arrow", "text"] = Field(
        default="auto",
        description="auto: from each file's extension (.warc[.gz], .jsonl[.gz|.zst], .parquet, .arrow); "
        "text: a folder of .txt files, one document each",
    )
    text_field: str = "text"
    weight: float = Field(gt=0, description="share of training tokens (normalised over sources)")
    tokens: int | None = Field(default=None, gt=0, description="declared token count (mixing without data)")
    max_epochs: float | None = Field(default=None, gt=0)
    sampling: SamplingConfig | None = Field(
        default=None,
        description="sampling inside the source: uniform (default), pareto (GPT-3, on quality_score), "
        "score, or rehydrate (by dedup cluster_size)",
    )


def _unique_names(sources: list[SourceConfig]) -> list[SourceConfig]:
    names = [s.name for s in sources]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"source names must be unique, repeated: {dupes}")
    return sources


class SourcesMixin(Strict):
    sources: list[SourceConfig] = Field(min_length=1)

    @field_validator("sources")
    @classmethod
    def _check_sources(cls, v: list[SourceConfig]) -> list[SourceConfig]:
        return _unique_names(v)

    @model_validator(mode="after")
    def _weights_sum(self) -> SourcesMixin:
        if sum(s.weight for s in self.sources) <= 0:
            raise ValueError("source weights must sum to a positive number")
        return self
