"""Basic rules every document meets first: length, letter ratio, repeated lines.

"Letters" use `str.isalpha`, which is True for Han characters, so Chinese is judged like
English here; script-specific judgement is in the family modules.
"""

from __future__ import annotations

from pipeline.config import FilterConfig
from pipeline.steps.filters.base import PASS, Doc, RuleResult, fail


def too_short(doc: Doc, cfg: FilterConfig) -> RuleResult:
    return PASS if doc.visible_chars >= cfg.min_chars else fail("too_short")


def too_long(doc: Doc, cfg: FilterConfig) -> RuleResult:
    # cheap bound first: visible <= len, so most documents never need the count
    if len(doc.text) <= cfg.max_chars or doc.visible_chars <= cfg.max_chars:
        return PASS
    return fail("too_long")


def low_letter_ratio(doc: Doc, cfg: FilterConfig) -> RuleResult:
    letters = sum(map(str.isalpha, doc.text))
    if doc.visible_chars and letters / doc.visible_chars >= cfg.min_letter_ratio:
        return PASS
    return fail("low_letter_ratio")


def duplicate_lines(doc: Doc, cfg: FilterConfig) -> RuleResult:
    """Gopher rule: share of non-empty lines that repeat an earlier line."""
    lines = [line.strip() for line in doc.lines]
    if len(lines) < cfg.min_lines_for_duplicate_rule:
        return PASS
    repeated = len(lines) - len(set(lines))
    if repeated / len(lines) > cfg.max_duplicate_line_fraction:
        return fail("duplicate_lines")
    return PASS


def basic(doc: Doc, cfg: FilterConfig) -> RuleResult:
    """The basic rules in order; the first failure's reason."""
    for rule in (too_short, too_long, low_letter_ratio, duplicate_lines):
        result = rule(doc, cfg)
        if not result[0]:
            return result
    return PASS
