"""HTML → text extraction settings.

Extractor speed and text overlap, and the per-page work limits' measurements, are in
bench/results/2026-12-07-extract-limits.md (kept out of the code: figures age, reasons do not).

Per-page limits are counted in work, never time, so a rerun on any machine gives the same
ledger: trafilatura's cost grows with the page's element count (superlinearly for some shapes),
so pages over `trafilatura_max_elements` go to resiliparse, whose C extractor is fast but
costs elements × nesting depth in one uninterruptible call; pages over `max_elements` or
`max_depth` are filtered.  `timeout_s` is only a last-resort net for what the counts miss.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipeline.config.base import Strict


class ExtractConfig(Strict):
    extractor: Literal["trafilatura", "resiliparse"] = Field(
        default="trafilatura", description="trafilatura: best main text; resiliparse: ~20x faster"
    )
    fast: bool = Field(default=True, description="trafilatura without its fallbacks: ~2x faster")
    include_tables: bool = True
    include_title: bool = True
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
