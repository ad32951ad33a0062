"""Quality filter thresholds (each rule has its own reason code)."""

from __future__ import annotations

from pydantic import Field

from pipeline.config.base import Strict


class FilterConfig(Strict):
    """Basic quality rules; each failing rule drops the document with its own reason code."""

    min_chars: int = Field(default=20, ge=0, description="visible (non-space) characters")
    max_chars: int = Field(default=1_000_000, gt=0)
    min_letter_ratio: float = Field(
        default=0.5, ge=0, le=1, description="letters (incl. CJK) / visible chars"
    )
    max_duplicate_line_fraction: float = Field(default=0.3, ge=0, le=1, description="Gopher: repeated lines")
    min_lines_for_duplicate_rule: int = Field(default=4, ge=1)
