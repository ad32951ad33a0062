"""Gopher quality and repetition rules (Rae et al. 2021, "Scaling Language Models", App. A).

Follows datatrove's GopherQualityFilter / GopherRepetitionFilter, with these deliberate
differences:
  * words are whitespace words with CJK runs segmented (`words.words`); datatrove makes every
    punctuation mark a token, which fails technical pages on the alphabetic-word rule; a
    word's length is measured without its edge punctuation;
  * lines are the non-blank lines (datatrove counts blank lines in the bullet and ellipsis
    denominators, so paragraph spacing changed the verdict);
  * stop words are matched case-insensitively ("The" counts);
  * the top n-gram must occur at least twice;
  * an n-gram's characters are its words' characters without separators, for top and
    duplicated n-grams alike, so Chinese (no spaces) and English are measured the same way.
"""

from __future__ import annotations

import re

import numpy as np
from numba import njit

from pipeline.config.filters import GopherQualityConfig, GopherRepetitionConfig
from pipeline.steps.filters.base import PASS, Doc, RuleResult, fail
from pipeline.steps.filters.words import is_segmented

# datatrove's PUNCTUATION set (ASCII and CJK punctuation, control characters)
PUNCTUATION = frozenset(
    "!/—”:％１〈&(、━\\【#%「」，】；+^]~“《„';’{|∶´[=-`*．（–？！：$～«〉,><》)?）。…@_.\"}►»"
    + "".join(map(chr, [*range(0, 9), *range(11, 32), *range(127, 160)]))
)
_STRIP = "".join(PUNCTUATION)
BULLETS = ("•", "-", "*", "·", "●", "○", "▪", "■", "◦", "‣", "–")
_MULT = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit multiplier (golden ratio)
_PARAGRAPH = re.compile(r"\n{2,}")
_LINE = re.compile(r"\n+")


def gopher_quality(doc: Doc, cfg: GopherQualityConfig) -> RuleResult:
    words = doc.words
    n_words = max(len(words), 1)
    # words with a character that is not punctuation; their length without edge punctuation
    content = [w for w in words if w.strip(_STRIP)]  # stripping punctuation leaves something
    if len(content) < cfg.min_words:
        return fail("gopher_too_few_words")
    if len(content) > cfg.max_words:
        return fail("gopher_too_many_words")
    # jieba words are 1-4 characters by construction: the 3-10 range only means something for
    # space-delimited words, so it is judged on those, and only where they are the majority
    # (decided by script, not by `lang`, so a mislabelled Japanese page is not "short words")
    spaced = [w for w in content if not is_segmented(w)]
    if spaced and len(spaced) * 2 >= len(content):
        mean = sum(len(w.strip(_STRIP)) for w in spaced) / len(spaced)
        if mean < cfg.min_mean_word_length:
            return fail("gopher_short_words")
        if mean > cfg.max_mean_word_length:
            return fail("gopher_long_words")
    text = doc.text
    if text.count("#") / n_words > cfg.max_symbol_word_ratio:
        return fail("gopher_hash_ratio")
    if (text.count("...") + text.count("…")) / n_words > cfg.max_symbol_word_ratio:
        return fail("gopher_ellipsis_ratio")
    lines = doc.lines
    if lines:
        if sum(s.lstrip().startswith(BULLETS) for s in lines) / len(lines) > cfg.max_bullet_line_ratio:
            return fail("gopher_bullet_lines")
        ends = sum(s.rstrip().endswith(("...", "…")) for s in lines)
        if ends / len(lines) > cfg.max_ellipsis_line_ratio:
            return fail("gopher_ellipsis_lines")
    alpha = sum(1 for w in words if w.isalpha() or any(c.isalpha() for c in w))  # fast path first
    if alpha / n_words < cfg.min_alpha_word_ratio:
        return fail("gopher_alpha_words")
    stop = cfg.stop_words.get(doc.lang)
    if stop is not None and cfg.min_stop_words:
        present = {w.lower() for w in words} & set(stop)
        if len(present) < cfg.min_stop_words:
            return fail("gopher_stop_words")
    return PASS


def duplicates(items: list[str]) -> tuple[int, int]:
    """(repeated items, their characters): every occurrence after an item's first."""
    seen: set[str] = set()
    count = chars = 0
    for item in items:
        if item in seen:
            count += 1
            chars += len(item)
        else:
            seen.add(item)
    return count, chars


def ngram_hashes(ids: np.ndarray, n: int) -> np.ndarray:
    """64-bit hash of every word n-gram (polynomial over word ids; wraps mod 2**64)."""
    if len(ids) < n:
        return np.zeros(0, dtype=np.uint64)
    h = np.zeros(len(ids) - n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            h = h * _MULT + ids[k : len(ids) - n + 1 + k]
    return h


def top_ngram_chars(grams: np.ndarray, cum: np.ndarray, n: int) -> int:
    """Characters covered by the most frequent n-gram (earliest first on ties), per occurrence.

    0 when no n-gram repeats: one occurrence is not repetition (datatrove counts it, so a short
    text whose longest n-gram is a fifth of it fails — common for Chinese words).
    """
    if not len(grams):
        return 0
    _, first, counts = np.unique(grams, return_index=True, return_counts=True)
    if counts.max() < 2:
        return 0
    best = np.flatnonzero(counts == counts.max())
    start = int(first[best].min())
    return int(cum[start + n] - cum[start]) * int(counts.max())


def duplicated_ngram_chars(grams: np.ndarray, cum: np.ndarray, n: int) -> int:
    """Characters in n-grams seen before, skipping past each repeat (datatrove's count)."""
    return int(_duplicated_ngram_chars(grams, cum, n))


@njit(cache=True)
def _duplicated_ngram_chars(grams, cum, n):  # pragma: no cover - compiled
    # Sequential by nature (a repeat skips the next n-1 n-grams, unseen), so numpy cannot do
    # it; as a Python loop it ran once per n (six times) per document over every n-gram.
    seen = set()
    chars = 0
    i = 0
    while i < grams.shape[0]:
        h = grams[i]
        if h in seen:
            chars += cum[i + n] - cum[i]
            i += n
        else:
            seen.add(h)
            i += 1
    return chars


def gopher_repetition(doc: Doc, cfg: GopherRepetitionConfig) -> RuleResult:
    text = doc.text
    if not text.strip():
        return PASS  # the basic rules judge empty documents
    size = len(text)
    paragraphs = _PARAGRAPH.split(text.strip())
    count, chars = duplicates(paragraphs)
    if count / len(paragraphs) > cfg.max_dup_para_frac:
        return fail("gopher_dup_para_frac")
    if chars / size > cfg.max_dup_para_char_frac:
        return fail("gopher_dup_para_char_frac")
    lines = _LINE.split(text)
    count, chars = duplicates(lines)
    if count / len(lines) > cfg.max_dup_line_frac:
        return fail("gopher_dup_line_frac")
    if chars / size > cfg.max_dup_line_char_frac:
        return fail("gopher_dup_line_char_frac")
    vocab: dict[str, int] = {}
    ids = np.array([vocab.setdefault(w, len(vocab)) + 1 for w in doc.words], dtype=np.uint64)
    cum = np.concatenate([[0], np.cumsum([len(w) for w in doc.words], dtype=np.int64)])
    for n, frac in sorted(cfg.top_ngram_char_frac.items()):
        if top_ngram_chars(ngram_hashes(ids, n), cum, n) / size > frac:
            return fail(f"gopher_top_{n}_gram")
    for n, frac in sorted(cfg.dup_ngram_char_frac.items()):
        if duplicated_ngram_chars(ngram_hashes(ids, n), cum, n) / size > frac:
            return fail(f"gopher_dup_{n}_gram")
    return PASS
