"""Typed, validated configuration for the data pipeline (loaded from manifests/*.yaml).

Every model forbids unknown fields, so a typo in a manifest fails before any work starts
with the field's path in the message (see `pipeline.cli.manifest`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(Strict):
    """One mixture source: where its records live and how much of training it should be."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$", description="mixture source name, used in ids")
    paths: list[str] = Field(default_factory=list, description="files or globs, any fsspec URL")
    format: Literal["auto", "warc", "jsonl", "parquet"] = Field(
        default="auto", description="auto: from each file's extension (.warc[.gz], .jsonl[.gz], .parquet)"
    )
    text_field: str = "text"
    weight: float = Field(gt=0, description="share of training tokens (normalised over sources)")
    tokens: int | None = Field(default=None, gt=0, description="declared token count (mixing without data)")
    max_epochs: float | None = Field(default=None, gt=0)


class ExtractConfig(Strict):
    include_tables: bool = True
    include_title: bool = True


class CleanConfig(Strict):
    unicode_form: Literal["NFKC", "NFC", "none"] = "NFKC"
    strip_control_chars: bool = True
    normalize_whitespace: bool = True


class LangIdConfig(Strict):
    enabled: bool = True
    keep_langs: list[str] | None = Field(default=None, description="ISO 639-1 codes; None keeps all")


class FilterConfig(Strict):
    """Basic quality rules; each failing rule drops the document with its own reason code."""

    min_chars: int = Field(default=20, ge=0, description="visible (non-space) characters")
    max_chars: int = Field(default=1_000_000, gt=0)
    min_letter_ratio: float = Field(
        default=0.5, ge=0, le=1, description="letters (incl. CJK) / visible chars"
    )
    max_duplicate_line_fraction: float = Field(default=0.3, ge=0, le=1, description="Gopher: repeated lines")
    min_lines_for_duplicate_rule: int = Field(default=4, ge=1)


class DedupConfig(Strict):
    exact: bool = True
    near: bool = True
    num_perm: int = Field(default=128, ge=16, le=1024)
    threshold: float = Field(default=0.8, gt=0, lt=1)
    ngram: int = Field(default=5, ge=1, description="char n-gram size for CJK runs")
    word_ngram: int = Field(default=5, ge=1, description="word n-gram size for space-delimited text")
    seed: int = 1


class PipelineConfig(Strict):
    partition_records: int | None = Field(default=None, gt=0, description="reserved: split big files")
    shard_rows: int = Field(default=2000, gt=0, description="max documents per output shard")
    seed: int = 0
    extract: ExtractConfig = ExtractConfig()
    clean: CleanConfig = CleanConfig()
    langid: LangIdConfig = LangIdConfig()
    filters: FilterConfig = FilterConfig()
    dedup: DedupConfig = DedupConfig()


class MixConfig(Strict):
    """GPT-3-style token-weighted mix: weights become epochs for a token budget."""

    budget_tokens: int | None = Field(
        default=None, gt=0, description="training tokens; default = sum of tokens"
    )
    weights: Literal["relative", "shares"] = Field(
        default="relative",
        description="relative: normalised to sum 1; shares: published fractions of the budget, used as written",
    )
    seed: int = 0


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
