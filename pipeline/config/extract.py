"""HTML → text extraction settings.

Extractor quality and speed against bare extractors are in bench/results/2026-12-07-extract.md,
the per-page work limits' measurements in bench/results/2026-12-07-extract-limits.md (kept out
of the code: figures age, reasons do not).

Per-page limits are counted in work, never time, so a rerun on any machine gives the same
ledger: readability's cost grows with elements × nesting, so pages past `readability_max_work`
go to trafilatura, whose cost grows with the element count (superlinearly for some shapes),
so pages over `trafilatura_max_elements` go to resiliparse, whose C extractor is fast but
costs elements × nesting depth in one uninterruptible call; pages over `max_elements` or
`max_depth` are filtered.  `timeout_s` is only a last-resort net for what the counts miss.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipeline.config.base import Strict

# The `extractor` column's values and the pages that get each (the report lists them).
PAGE_TYPES = {
    "readability": "article",
    "readability+posts": "thread or look-alike sections (every post's body, or every section)",
    "trafilatura": "no main block found, or nested past readability_max_work",
    "resiliparse": "over trafilatura_max_elements",
}


class ExtractConfig(Strict):
    extractor: Literal["auto", "trafilatura", "resiliparse"] = Field(
        default="auto",
        description="auto: readability's main block, every post on thread pages, trafilatura where "
        "readability finds none; trafilatura or resiliparse (~20x faster): that one on every page",
    )
    fast: bool = Field(default=True, description="trafilatura without its fallbacks: ~2x faster")
    include_tables: bool = True
    include_title: bool = Field(
        default=False, description="the <title> as the first line (benchmarks' main text has none)"
    )
    readability_max_work: int | None = Field(
        default=300_000,
        gt=0,
        description="pages whose elements' depths sum to more skip readability for trafilatura; "
        "null: no limit",
    )
    trafilatura_max_elements: int | None = Field(
        default=20_000,
        gt=0,
        description="pages with more HTML elements skip trafilatura and are extracted by resiliparse; "
        "null: no limit",
    )
    max_elements: int | None = Field(
        default=200_000,
        gt=0,
        description="pages extracted by resiliparse with more elements are filtered "
        "(extract_too_complex:elements); null: no limit",
    )
    max_depth: int | None = Field(
        default=256,
        gt=0,
        description="pages extracted by resiliparse nested deeper are filtered (extract_too_complex:depth); "
        "trafilatura's parser (libxml2) stops at 256 itself; null: no limit",
    )
    timeout_s: float | None = Field(
        default=60.0,
        gt=0,
        description="last-resort wall-clock limit per page, far above what the work limits allow; a page "
        "over it is quarantined (extract_timeout_nondeterministic: a rerun may differ); null: none",
    )

    @model_validator(mode="after")
    def _budget_within_cap(self) -> ExtractConfig:
        t, m = self.trafilatura_max_elements, self.max_elements
        if m is not None and (t is None or t > m):
            raise ValueError(
                f"extract.trafilatura_max_elements ({'null' if t is None else t}) must be at most "
                f"extract.max_elements ({m}): pages between the two would escape the element cap"
            )
        return self
