"""Basic quality rules (length, letter ratio, Gopher repeated lines).

Each rule is a small pure function `(text, cfg) -> (True, None) | (False, reason)` in the
style of datatrove's filters, applied in order; the first failing rule's reason is the
ledger reason, so the report can say how much each rule removed.  "Letters" use
`str.isalpha`, which is True for Han characters, so Chinese is judged like English.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from pipeline.config import FilterConfig
from pipeline.steps import StepResult
from pipeline.steps.decode import split

STAGE = "filter"

RuleResult = tuple[bool, str | None]
Rule = Callable[[str, FilterConfig], RuleResult]
PASS: RuleResult = (True, None)


def visible_chars(text: str) -> int:
    return len(text) - sum(map(str.isspace, text))


def too_short(text: str, cfg: FilterConfig) -> RuleResult:
    return PASS if visible_chars(text) >= cfg.min_chars else (False, "too_short")


def too_long(text: str, cfg: FilterConfig) -> RuleResult:
    # cheap bound first: visible <= len, so most documents never need the count
    if len(text) <= cfg.max_chars or visible_chars(text) <= cfg.max_chars:
        return PASS
    return False, "too_long"


def low_letter_ratio(text: str, cfg: FilterConfig) -> RuleResult:
    visible = visible_chars(text)
    letters = sum(map(str.isalpha, text))
    if visible and letters / visible >= cfg.min_letter_ratio:
        return PASS
    return False, "low_letter_ratio"


def duplicate_lines(text: str, cfg: FilterConfig) -> RuleResult:
    """Gopher rule: share of non-empty lines that repeat an earlier line."""
    lines = [s for line in text.split("\n") if (s := line.strip())]
    if len(lines) < cfg.min_lines_for_duplicate_rule:
        return PASS
    repeated = len(lines) - len(set(lines))
    if repeated / len(lines) > cfg.max_duplicate_line_fraction:
        return False, "duplicate_lines"
    return PASS


RULES: tuple[Rule, ...] = (too_short, too_long, low_letter_ratio, duplicate_lines)


def first_failure(text: str, cfg: FilterConfig) -> str | None:
    """Reason code of the first rule `text` fails, None if it passes them all."""
    for rule in RULES:
        ok, reason = rule(text, cfg)
        if not ok:
            return reason
    return None


def quality_filter(batch: pa.Table, cfg: FilterConfig) -> StepResult:
    texts = batch.column("text").to_pylist()
    drops = {
        i: ("filtered", r) for i, t in enumerate(texts) if (r := first_failure(t or "", cfg)) is not None
    }
    return split(batch, drops, STAGE)
