"""Chinese rule pack, for documents whose `lang` is zh.

Sources for the defaults (see `pipeline.config.filters.ChineseConfig`):
  * ChineseWebText / EvalWeb (Chen et al. 2023, github.com/CASIA-LM/ChineseWebText,
    `preprocess.py`): Han share ≥ 0.3, mean line length ≥ 10, sensitive words per line ≤ 0.5,
    repeated character 13-grams ≤ 0.5 (whitespace removed, lowercased), length > 200 chars;
  * FineWeb-2 `configs/cmn_Hani.yml`: lines ending in punctuation ≥ 0.106.
Deviations, each because it is wrong for good Chinese text in our sample: the length minimum
counts Han characters and is 20, not 200 (a quatrain is a complete text); line statistics
use non-blank lines (ChineseWebText counts paragraph gaps as zero-length lines); the mean
line length minimum is 8 (five-character regulated verse with its title line averages 9–10).
Repeated-character runs are ours (no published threshold): separators such as ─── or ====
are layout, not text, and do not count.  Cleaning may leave either width of punctuation (NFKC
folds ！？ to ASCII, the clean step's cjk_fullwidth option restores them), so both end a sentence.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

from pipeline.config.filters import ChineseConfig
from pipeline.steps.filters.base import PASS, Doc, RuleResult, fail
from pipeline.steps.filters.zh_keywords import SPAM_KEYWORDS

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
SENTENCE_END = tuple("。！？…!?.")
CLOSERS = "”’」』）)\"'》〉】"
_SEPARATORS = "\u2500-\u257f\\-=_~*#.·•—"  # box drawing and rule characters
_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=8)
def _run_pattern(length: int) -> re.Pattern[str]:
    return re.compile(rf"([^\s{_SEPARATORS}])\1{{{length - 1},}}")


@lru_cache(maxsize=4)
def spam_pattern(keywords: tuple[str, ...]) -> re.Pattern[str]:
    """One alternation over the keywords and their Traditional forms, longest first."""
    import opencc

    s2t = opencc.OpenCC("s2t")
    forms = {k.lower() for k in keywords} | {s2t.convert(k).lower() for k in keywords}
    return re.compile("|".join(map(re.escape, sorted(forms, key=len, reverse=True))))


def han_count(text: str) -> int:
    return len(HAN.findall(text))


def ngram_dup_ratio(text: str, n: int) -> float:
    """ChineseWebText's internal duplication: share of char n-grams that occur more than once."""
    norm = _SPACE.sub("", text.lower())
    total = len(norm) - n + 1
    if total <= 0:
        return 0.0
    counts = Counter(norm[i : i + n] for i in range(total))
    return sum(c for c in counts.values() if c > 1) / total


def chinese(doc: Doc, cfg: ChineseConfig) -> RuleResult:
    han = han_count(doc.text)
    if han < cfg.min_han_chars:
        return fail("zh_too_few_han_chars")
    if han / max(doc.visible_chars, 1) < cfg.min_cjk_ratio:
        return fail("zh_low_han_ratio")
    lines = [line.strip() for line in doc.lines] or [""]
    if sum(map(len, lines)) / len(lines) < cfg.min_mean_line_chars:
        return fail("zh_short_lines")
    ends = sum(line.rstrip(CLOSERS).endswith(SENTENCE_END) for line in lines)
    if ends / len(lines) < cfg.min_sentence_end_ratio:
        return fail("zh_few_sentence_ends")
    runs = sum(len(m.group()) for m in _run_pattern(cfg.char_run_length).finditer(doc.text))
    if runs / max(doc.visible_chars, 1) > cfg.max_char_run_ratio:
        return fail("zh_char_runs")
    if ngram_dup_ratio(doc.text, cfg.dup_ngram_size) > cfg.max_ngram_dup_ratio:
        return fail("zh_ngram_dup")
    keywords = tuple(cfg.spam_keywords) if cfg.spam_keywords is not None else SPAM_KEYWORDS
    if keywords:
        hits = len(spam_pattern(keywords).findall(doc.text.lower()))
        if hits / len(lines) > cfg.max_spam_per_line:
            return fail("zh_spam_keywords")
    return PASS
