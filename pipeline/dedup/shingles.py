"""Script-aware shingles: char n-grams inside CJK runs, word n-grams elsewhere.

Chinese and Japanese have no spaces, so word n-grams would turn a whole paragraph into one
"word" (the text-dedup failure mode); char n-grams over Han/kana/Hangul runs keep the
resolution that space-delimited scripts get from words.
"""

from __future__ import annotations

import re

from pipeline.dedup.normalize import normalize_for_dedup

_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
_WORD = re.compile(r"\w+")


def _ngrams(units: list[str], n: int, sep: str) -> list[str]:
    if len(units) <= n:
        return [sep.join(units)] if units else []
    return [sep.join(units[i : i + n]) for i in range(len(units) - n + 1)]


def shingles(text: str, char_n: int = 5, word_n: int = 5) -> set[bytes]:
    norm = normalize_for_dedup(text)
    out: set[str] = set()
    last = 0
    for m in _CJK_RUN.finditer(norm):
        out.update(_ngrams(_WORD.findall(norm[last : m.start()]), word_n, " "))
        out.update(_ngrams(list(m.group()), char_n, ""))
        last = m.end()
    out.update(_ngrams(_WORD.findall(norm[last:]), word_n, " "))
    return {s.encode("utf-8", "surrogatepass") for s in out}
