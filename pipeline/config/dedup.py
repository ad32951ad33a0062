"""Exact and near-duplicate removal settings."""

from __future__ import annotations

from pydantic import Field

from pipeline.config.base import Strict


class DedupConfig(Strict):
    exact: bool = True
    near: bool = True
    num_perm: int = Field(default=128, ge=16, le=1024)
    threshold: float = Field(default=0.8, gt=0, lt=1)
    ngram: int = Field(default=5, ge=1, description="char n-gram size for CJK runs")
    word_ngram: int = Field(default=5, ge=1, description="word n-gram size for space-delimited text")
    seed: int = 1
