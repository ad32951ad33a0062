"""Words that do not misfire on unsegmented Chinese.

Splitting on whitespace turns a Chinese paragraph into one "word", so every word-count,
word-length and n-gram rule misjudges it.  Here words are whitespace-separated, as in the
Gopher rules (and RedPajama-V2's quality signals), except that runs of Han characters and
kana are segmented with jieba (dictionary only, HMM off: faster and deterministic) and the
non-CJK pieces around them (Chinese punctuation, Latin words inside Chinese text) are words of
their own.  Punctuation stays attached to its word ("end." is one word), so a technical page
full of paths and parentheses is not judged as mostly non-words, as it is by a tokenizer that
makes every mark a token.  Kana have no dictionary entries and come out one per word.

jieba's dictionary is loaded once per process, on the first CJK text: 1.5–2.5 s from its
marshal cache on the dev machine, ~4 s the first time (it builds the cache).  The cache lives in
the user's own cache folder (`private_cache_dir("jieba")`), not jieba's default shared /tmp/jieba.cache,
which it would unmarshal whoever wrote it.  Workers that see no CJK text never pay the load;
`init_seconds()` reports the cost.
"""

from __future__ import annotations

import logging
import re
import threading
import time

from pipeline.core.atomic import private_cache_dir

# Han, kana, CJK punctuation (、。「」) and full-width forms: jieba splits them all
_CJK = "\u3000-\u303f\uff00-\uffef\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_CJK_RUN = re.compile(f"([{_CJK}]+)")


def is_segmented(word: str) -> bool:
    """True for a word cut by jieba (or a kana character): its length is not a word length."""
    return not word.isascii() and _CJK_RUN.match(word) is not None


_lock = threading.Lock()
_jieba = None
_init_seconds: float | None = None


def _segmenter():
    """jieba's default tokenizer, initialised on first use (once per process)."""
    global _jieba, _init_seconds
    if _jieba is None:
        with _lock:
            if _jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                t = time.perf_counter()
                jieba.dt.tmp_dir = str(private_cache_dir("jieba"))
                jieba.initialize()
                _init_seconds = time.perf_counter() - t
                _jieba = jieba.dt
    return _jieba


def init_seconds() -> float | None:
    """Seconds this process spent loading jieba's dictionary (None: not loaded yet)."""
    return _init_seconds


def words(text: str) -> list[str]:
    """Whitespace words, with CJK runs segmented by jieba."""
    out: list[str] = []
    for token in text.split():
        if token.isascii() or not _CJK_RUN.search(token):
            out.append(token)
            continue
        for k, piece in enumerate(_CJK_RUN.split(token)):
            if k % 2:  # odd pieces are the CJK runs
                out.extend(_segmenter().lcut(piece, HMM=False))
            elif piece:
                out.append(piece)
    return out
