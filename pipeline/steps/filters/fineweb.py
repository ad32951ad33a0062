"""FineWeb's own quality rules (Penedo et al. 2024, "The FineWeb Datasets", §3.3.4).

Added by FineWeb on top of Gopher and C4, as released in datatrove's FineWebQualityFilter:
too few lines ending in punctuation, too many short lines, too many characters in duplicated
lines, and too many newlines per word (list-like pages).  The duplicated-line threshold is
the paper's 0.1; datatrove's default is 0.01.
"""

from __future__ import annotations

from pipeline.config.filters import FineWebConfig
from pipeline.steps.filters.base import PASS, Doc, RuleResult, fail
from pipeline.steps.filters.gopher import duplicates

# the sentence terminals of the major scripts (datatrove uses Unicode's Sentence_Terminal)
TERMINAL = tuple(".!?。！？｡．؟۔।॥።‼⁇⁈⁉")


def fineweb(doc: Doc, cfg: FineWebConfig) -> RuleResult:
    lines = [line.rstrip() for line in doc.lines]
    if not lines:
        return PASS  # the basic rules judge empty documents
    if sum(line.endswith(TERMINAL) for line in lines) / len(lines) < cfg.min_line_punct_ratio:
        return fail("fineweb_line_punct_ratio")
    if sum(len(line) <= cfg.short_line_chars for line in lines) / len(lines) > cfg.max_short_line_ratio:
        return fail("fineweb_short_line_ratio")
    chars = max(len(doc.text) - doc.text.count("\n"), 1)
    if duplicates(lines)[1] / chars > cfg.max_dup_line_char_ratio:
        return fail("fineweb_dup_line_char_ratio")
    if doc.text.count("\n") / max(len(doc.words), 1) > cfg.max_newline_word_ratio:
        return fail("fineweb_list_ratio")
    return PASS
