"""What every rule shares: the result pair and a document whose derived views are computed once.

Rules are plain functions `(doc, cfg) -> (True, None) | (False, reason)` (datatrove style).
Several families need the same lines or words, and word segmentation of Chinese is the one
expensive step, so `Doc` computes each view lazily and at most once per document.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from pipeline.steps.filters.words import words

RuleResult = tuple[bool, str | None]
PASS: RuleResult = (True, None)


def fail(reason: str) -> RuleResult:
    return False, reason


@dataclass
class Doc:
    text: str
    lang: str = "und"

    @cached_property
    def lines(self) -> list[str]:
        """Non-blank lines, as written (datatrove's FineWeb and C4 rules see these)."""
        return [line for line in self.text.split("\n") if line.strip()]

    @cached_property
    def words(self) -> list[str]:
        """Word and punctuation tokens (jieba inside CJK runs); see `words.words`."""
        return words(self.text)

    @cached_property
    def visible_chars(self) -> int:
        return sum(map(len, self.text.split()))  # str.split() cuts at exactly the isspace characters
