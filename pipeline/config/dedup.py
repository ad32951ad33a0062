"""Exact, near-duplicate and repeated-line removal settings.

Defaults are tuned for recall at the 0.8 threshold on Chinese and English (see
pipeline/dedup/lsh.py for how bands × rows follow from threshold, permutations and weights).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipeline.config.base import Strict


class LineDedupConfig(Strict):
    """CCNet-style removal of lines (or paragraphs) that recur across many kept documents."""

    enabled: bool = False
    unit: Literal["line", "paragraph"] = Field(
        default="line", description="line = one text line; paragraph = blank-line separated block"
    )
    min_count: int = Field(
        default=20, ge=2, description="strip a unit found in at least this many distinct kept documents"
    )
    min_chars: int = Field(
        default=5, ge=0, description="units shorter than this (after normalising) are never stripped"
    )


class DedupConfig(Strict):
    exact: bool = True
    url: bool = Field(default=False, description="also keep one document per normalised URL")
    near: bool = True
    num_perm: int = Field(default=128, ge=16, le=1024)
    threshold: float = Field(
        default=0.6,
        gt=0,
        lt=1,
        # word bigrams differ more than char 5-grams under the same edit: on English-heavy Chinese pages
        # a pair at 0.8 by char 5-grams can fall to ~0.6 by the script-aware shingles
        description="Jaccard over the shingles; 0.6 over script-aware ones catches pairs at 0.8 by char 5-grams",
    )
    ngram: int = Field(default=5, ge=1, description="char n-gram size for Han/kana/Hangul runs")
    word_ngram: int = Field(default=2, ge=1, description="word n-gram size for space-delimited text")
    shingle: Literal["script", "char"] = Field(
        default="script",
        description="script: char n-grams in CJK runs, word n-grams elsewhere; char: char n-grams everywhere",
    )
    run_gap: int = Field(
        default=10, ge=0, description="other chars (punctuation, digits, a Latin word) a CJK run may span"
    )
    t2s: bool = Field(default=False, description="fold traditional to simplified Chinese (OpenCC) first")
    seed: int = Field(default=1, ge=0, description="datasketch MinHash seed (permutations)")
    bands: int | None = Field(default=None, ge=1, description="LSH bands; None = optimal for the weights")
    rows: int | None = Field(default=None, ge=1, description="LSH rows per band; set together with bands")
    fp_weight: float = Field(default=0.05, ge=0, le=1, description="LSH false-positive weight")
    fn_weight: float = Field(default=0.95, ge=0, le=1, description="LSH false-negative weight")
    lsh_threshold: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="threshold the LSH bands are designed for (default: threshold)",
    )
    verify: Literal["exact", "estimate", "none"] = Field(
        default="exact",
        description="check LSH candidates by exact shingle Jaccard, by signature agreement, or not at all",
    )
    max_bucket: int = Field(
        default=50,
        ge=2,
        description="all pairs in LSH buckets up to this many texts; larger: a sliding window",
    )
    keep: Literal["first", "longest"] = Field(
        default="first",
        description="which copy a cluster keeps after the highest quality_score: the first in input "
        "order, or the longest text (then the smallest id)",
    )
    shards: int = Field(
        default=0, ge=0, description="band-key shuffle shards; 0 = from the job size (dedup/plan.py)"
    )
    lines: LineDedupConfig = LineDedupConfig()

    @model_validator(mode="after")
    def _bands_rows_together(self) -> DedupConfig:
        if (self.bands is None) != (self.rows is None):
            raise ValueError("set both bands and rows, or neither")
        if self.bands is not None and self.rows is not None and self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands × rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")
        return self
