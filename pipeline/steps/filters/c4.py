"""C4 document rules (Raffel et al. 2020, §2.2; TFDS `c4_utils.clean_page`).

Only the decisions about whole pages live here: "lorem ipsum" anywhere, a curly bracket
anywhere (C4's code filter, off by default), and fewer than 3 sentences on lines C4 would
keep.  C4 also *removes lines* (no terminal punctuation, under 5 words, mentioning
javascript or cookie/terms-of-use policy); that edit is the boilerplate step's job, so here
such lines simply do not count towards the sentence minimum, which is how they affect the
page decision in C4.
"""

from __future__ import annotations

import re

from pipeline.config.filters import C4Config
from pipeline.steps.filters.base import PASS, Doc, RuleResult, fail

END_MARKS = (".", "?", "!", '"', "”")  # C4: period, question/exclamation mark, end quote
ELLIPSIS = "..."
POLICY = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies")
MAX_WORD_CHARS = 1000  # TFDS: lines with a longer "word" are dropped
_CITATION = re.compile(r"\[\d*\]|\[edit\]|\[citation needed\]")
# a sentence ends at terminal punctuation (plus closing quotes/brackets) before a space or the end
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)")


def counted_sentences(line: str, min_words: int) -> int:
    """Sentences C4 would keep from this line (0 when it would remove the line)."""
    line = _CITATION.sub("", line.strip())
    words = line.split()
    if len(words) < min_words or any(len(w) > MAX_WORD_CHARS for w in words):
        return 0
    if not line.endswith(END_MARKS) or line.endswith(ELLIPSIS):
        return 0
    lower = line.lower()
    if "javascript" in lower or any(p in lower for p in POLICY):
        return 0
    return max(1, len(_SENTENCE_END.findall(line)))


def c4(doc: Doc, cfg: C4Config) -> RuleResult:
    lower = doc.text.lower()
    if cfg.lorem_ipsum and "lorem ipsum" in lower:
        return fail("c4_lorem_ipsum")
    if cfg.curly_bracket and "{" in doc.text:
        return fail("c4_curly_bracket")
    if cfg.min_sentences:
        total = 0
        for line in doc.lines:
            total += counted_sentences(line, cfg.min_words_per_line)
            if total >= cfg.min_sentences:
                return PASS
        return fail("c4_too_few_sentences")
    return PASS
