"""Word boundaries for whole-word masking: which tokens start a word.

Words are found on the original text, then mapped onto tokens through the tokenizer's character
offsets, so the same rule serves every tokenizer kind:
  * a run of CJK characters is segmented by jieba (its bundled dictionary + HMM; deterministic);
  * elsewhere a word is a run of letters/digits (apostrophes inside, as in "don't"), and every
    other non-space character (punctuation, symbols, emoji) is a word of its own; whitespace
    starts nothing, so "\n" or " " tokens join the word before them.
A token starts a word when it is the first token covering a word's first character.  A token that
spans a boundary (a BPE merge across two jieba words) marks only the first word: tokens are the
unit of masking, and the flag says only where a new word begins.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from functools import cache

import numpy as np

from pipeline.core.atomic import private_cache_dir
from tokenization.cjk import RANGES

_CJK = "".join(f"{chr(a)}-{chr(b)}" for a, b in RANGES)
# Group 1: a CJK run (jieba); then a letter/digit word (not CJK, not "_"); then any other non-space.
_WORDS = re.compile(rf"([{_CJK}]+)|[^\W_{_CJK}]+(?:['’][^\W_{_CJK}]+)*|[^\s]")


@cache
def jieba_tokenizer():
    """One initialised jieba tokenizer per process (Dask workers load it once)."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()
    tok.tmp_dir = str(private_cache_dir("jieba"))  # not the shared /tmp/jieba.cache it would unmarshal
    tok.initialize()
    return tok


def segment(text: str) -> tuple[np.ndarray, list[tuple[int, list[str]]]]:
    """Character positions where a word starts (ascending), and each CJK run as (its first
    character, its jieba words): the one segmentation that word starts and knowledge spans share."""
    starts: list[int] = []
    runs: list[tuple[int, list[str]]] = []
    seg = None
    for m in _WORDS.finditer(text):
        if m.group(1) is None:
            starts.append(m.start())
            continue
        seg = seg or jieba_tokenizer()
        pos = m.start()
        words = seg.lcut(m.group(1), HMM=True)
        runs.append((pos, words))
        for word in words:
            starts.append(pos)
            pos += len(word)
    return np.asarray(starts, dtype=np.int64), runs


def word_start_chars(text: str) -> np.ndarray:
    """Character positions where a word starts, ascending."""
    return segment(text)[0]


def word_start_mask(offsets: Sequence[tuple[int, int]], starts: np.ndarray) -> np.ndarray:
    """Per token: does it start a word?  `offsets` are the tokens' (start, end) character spans."""
    n = len(offsets)
    mask = np.zeros(n, dtype=bool)
    if n == 0 or len(starts) == 0:
        return mask
    # First token whose span ends after the word's first character, i.e. the first one covering it
    # (byte-level pieces of one character share the same span: the first of them is taken).
    # Tokens come in text order; the running maximum makes `ends` sorted for searchsorted.
    ends = np.maximum.accumulate(np.fromiter((e for _, e in offsets), dtype=np.int64, count=n))
    idx = np.searchsorted(ends, starts, side="right")
    mask[idx[idx < n]] = True
    return mask


def word_starts(text: str, offsets: Sequence[tuple[int, int]]) -> np.ndarray:
    """Boolean per token of one encoded document."""
    return word_start_mask(offsets, word_start_chars(text))
