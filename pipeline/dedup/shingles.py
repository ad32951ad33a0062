"""Script-aware shingles: char n-grams inside unsegmented-script runs, word n-grams elsewhere.

Chinese and Japanese have no spaces, so word n-grams would turn a whole paragraph into one
"word" (the text-dedup failure mode); char n-grams over Han/kana/Hangul (and Thai, Lao,
Khmer, Myanmar) runs keep the resolution that space-delimited scripts get from words.

A run goes from one such character to the next as long as at most `gap` other characters
sit between them, and keeps those characters: punctuation, spaces, digits and the odd
Latin word inside a Chinese sentence ("安装 apt 软件包", "2024年3月", "(nat),能够") are
part of the text a reader compares.  Cutting runs at every punctuation mark instead breaks
template-heavy pages (navigation "首页 | 产品 | 帮助") into short runs that each become one
shingle, which made distinct help pages look like copies (precision 0.97 on a synthetic
help-page set vs 1.0 with spans).  Words (`\\w+`) outside runs form one stream per
document, so a mixed page gets both kinds; a run or stream shorter than n is a single
shingle.  Text is normalised first (`normalize_for_dedup`).

`shingles` is the readable reference; `ShingleKernel` does the same in numba for batches
(hashing each shingle's UTF-8 bytes with xxh32 in place, no per-shingle Python objects),
and tests check the two agree on every script class.
"""

from __future__ import annotations

import functools
import re

import numpy as np
from numba import njit, uint32

from pipeline.dedup.normalize import fold, fold_table, normalize_for_dedup
from pipeline.dedup.xxh32 import xxh32

# Scripts written without spaces between words: Hangul Jamo, Thai, Lao, Myanmar, Khmer,
# CJK marks (々〆〇), kana, Bopomofo, Hangul compatibility Jamo, CJK ext. A, CJK unified,
# Hangul syllables, CJK compatibility, CJK ext. B–G.
UNSEGMENTED = (
    "\u0e00-\u0eff\u1000-\u109f\u1100-\u11ff\u1780-\u17ff\u3005-\u3007\u3040-\u30ff"
    "\u3100-\u312f\u3130-\u318f\u31a0-\u31bf\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
)
_WORD = re.compile(f"[^\\W{UNSEGMENTED}]+")
RUN_GAP = 10

OTHER, WORD, RUN, SPACE, IN_RUN = 0, 1, 2, 3, 4


@functools.cache
def _run_pattern(gap: int) -> re.Pattern[str]:
    u = UNSEGMENTED
    return re.compile(f"[{u}](?:[^{u}]{{0,{gap}}}[{u}])*")


def _ngrams(units: list[str], n: int, sep: str) -> list[str]:
    if len(units) <= n:
        return [sep.join(units)] if units else []
    return [sep.join(units[i : i + n]) for i in range(len(units) - n + 1)]


def shingles(
    text: str, char_n: int = 5, word_n: int = 2, t2s: bool = False, gap: int = RUN_GAP
) -> set[bytes]:
    """The shingle set of one document, as UTF-8 bytes (what datasketch's hashfunc sees)."""
    norm = normalize_for_dedup(text, t2s)
    out: set[str] = set()
    outside, last = [], 0
    for m in _run_pattern(gap).finditer(norm):
        out.update(_ngrams(list(m.group()), char_n, ""))
        outside.append(norm[last : m.start()])
        last = m.end()
    outside.append(norm[last:])
    out.update(_ngrams(_WORD.findall(" ".join(outside)), word_n, " "))
    return {s.encode("utf-8", "surrogatepass") for s in out}


@functools.cache
def class_table() -> np.ndarray:
    """Class of every code point (OTHER, WORD, RUN, SPACE), from the same regexes as `shingles`."""
    everything = np.arange(0x110000, dtype="<u4").tobytes().decode("utf-32-le", "surrogatepass")
    table = np.zeros(0x110000, np.uint8)
    for pattern, cls in ((r"\w+", WORD), (f"[{UNSEGMENTED}]+", RUN), (r"\s+", SPACE)):
        for m in re.finditer(pattern, everything):
            table[m.start() : m.end()] = cls
    return table


@njit(inline="always")
def _put_utf8(out, p, cp):
    if cp < 0x80:
        out[p] = cp
        return p + 1
    if cp < 0x800:
        out[p] = 0xC0 | (cp >> 6)
        out[p + 1] = 0x80 | (cp & 0x3F)
        return p + 2
    if cp < 0x10000:  # surrogates included, as "surrogatepass" encodes them
        out[p] = 0xE0 | (cp >> 12)
        out[p + 1] = 0x80 | ((cp >> 6) & 0x3F)
        out[p + 2] = 0x80 | (cp & 0x3F)
        return p + 3
    out[p] = 0xF0 | (cp >> 18)
    out[p + 1] = 0x80 | ((cp >> 12) & 0x3F)
    out[p + 2] = 0x80 | ((cp >> 6) & 0x3F)
    out[p + 3] = 0x80 | (cp & 0x3F)
    return p + 4


@njit(cache=True)
def _needs_python(cps, starts, fold):
    """Documents with a char the fold table cannot fold exactly (see normalize.fold_table)."""
    n = starts.shape[0] - 1
    out = np.zeros(n, np.bool_)
    for d in range(n):
        for i in range(starts[d], starts[d + 1]):
            if fold[cps[i]] == 0xFFFFFFFF:
                out[d] = True
                break
    return out


@njit(inline="always")
def _push(cp, c, j, p, pending, utf8, boff, cls):
    """Append one folded char: spaces only mark a pending separator."""
    if c == SPACE:
        return j, p, j > 0
    if pending:
        boff[j] = p
        cls[j] = SPACE
        utf8[p] = 32
        p += 1
        j += 1
    boff[j] = p
    cls[j] = c
    return j + 1, _put_utf8(utf8, p, cp), False


@njit(cache=True)
def _normalise(cps, start, end, table, fold, expansions, folded, utf8, boff, cls):
    """Fold (unless `folded`), collapse whitespace to single spaces, strip, encode as UTF-8.

    Fills `boff` (byte offset of every normalised char, plus the end) and `cls` (its
    class); returns (chars, bytes).  The common case (a char folding to one char) is
    written out in the loop rather than through `_push`: numba's code for the helper's
    tuple return made this loop 2.5x slower (0.74 vs 0.29 s over the dedup bench's 35M chars).
    """
    j = 0
    p = 0
    pending = False
    for i in range(start, end):
        cp = cps[i] if folded else fold[cps[i]]
        if cp >= 0x110000:  # expands to several chars (rare: ligatures, "…", "㎏")
            o = cp & 0x7FFFFFFF
            for e in range(o + 1, o + 1 + expansions[o]):
                j, p, pending = _push(expansions[e], table[expansions[e]], j, p, pending, utf8, boff, cls)
            continue
        c = table[cp]
        if c == SPACE:
            pending = j > 0
            continue
        if pending:
            boff[j] = p
            cls[j] = SPACE
            utf8[p] = 32
            p += 1
            j += 1
            pending = False
        boff[j] = p
        cls[j] = c
        p = _put_utf8(utf8, p, cp)
        j += 1
    boff[j] = p
    return j, p


@njit(cache=True)
def _folded_lengths(cps, starts, side_starts, fold, expansions, folded):
    """Upper bound of each document's length in chars after folding (documents folded in
    Python already are their length in the side array)."""
    n = starts.shape[0] - 1
    out = np.empty(n, np.int64)
    for d in range(n):
        if folded[d]:
            out[d] = side_starts[d + 1] - side_starts[d]
            continue
        m = starts[d + 1] - starts[d]
        for i in range(starts[d], starts[d + 1]):
            v = fold[cps[i]]
            if v >= 0x110000:
                m += expansions[v & 0x7FFFFFFF] - 1
        out[d] = m
    return out


@njit(cache=True)
def _shingle_hashes(utf8, boff, cls, nch, char_n, word_n, gap, wbuf, wst, wen, hs):
    """xxh32 of every shingle of one normalised document into `hs`; returns how many."""
    k = 0
    i = 0
    while i < nch:
        if cls[i] != RUN:
            i += 1
            continue
        last = i
        j = i + 1
        while j < nch and j <= last + gap + 1:
            if cls[j] == RUN:
                last = j
            j += 1
        j = last + 1
        for t in range(i, j):
            if cls[t] != RUN:
                cls[t] = IN_RUN  # its words belong to the run, not to the word stream
        if j - i <= char_n:
            hs[k] = xxh32(utf8, boff[i], boff[j], 0)
            k += 1
        else:
            for t in range(i, j - char_n + 1):
                hs[k] = xxh32(utf8, boff[t], boff[t + char_n], 0)
                k += 1
        i = j
    nw = 0
    q = 0
    i = 0
    while i < nch:
        if cls[i] != WORD:
            i += 1
            continue
        j = i
        while j < nch and cls[j] == WORD:
            j += 1
        wst[nw] = q
        for b in range(boff[i], boff[j]):
            wbuf[q] = utf8[b]
            q += 1
        wen[nw] = q
        wbuf[q] = 32
        q += 1
        nw += 1
        i = j
    if 0 < nw <= word_n:
        hs[k] = xxh32(wbuf, wst[0], wen[nw - 1], 0)
        k += 1
    elif nw > word_n:
        for t in range(nw - word_n + 1):
            hs[k] = xxh32(wbuf, wst[t], wen[t + word_n - 1], 0)
            k += 1
    return k


@njit(cache=True)
def _fmix32(h):
    h ^= h >> 16
    h = uint32(h * uint32(0x85EBCA6B))
    h ^= h >> 13
    h = uint32(h * uint32(0xC2B2AE35))
    h ^= h >> 16
    return h


@njit(cache=True)
def _batch(
    cps,
    starts,
    side,
    side_starts,
    folded,
    table,
    fold,
    expansions,
    char_n,
    word_n,
    gap,
    a,
    b,
    sigs,
    want_sets,
):
    """Normalise, shingle and (MinHash | collect hashes) every document of a batch.

    Document d is cps[starts[d]:starts[d + 1]], or, where `folded[d]` (folded in Python
    already), side[side_starts[d]:side_starts[d + 1]].

    MinHash is datasketch's affine32 scheme: murmur3 fmix32 of the shingle hash, then
    min over k of `a_k·h + b_k mod 2^32`; the inner loop over permutations vectorises.
    With `want_sets`, returns each document's sorted unique shingle hashes instead.
    Returns (shingle hashes, their offsets, normalised UTF-8, its offsets).
    """
    n = starts.shape[0] - 1
    lengths = _folded_lengths(cps, starts, side_starts, fold, expansions, folded)
    longest = max(1, lengths.max()) if n else 1
    utf8 = np.empty(4 * lengths.sum() + 1, np.uint8)
    ustarts = np.zeros(n + 1, np.int64)
    boff = np.empty(longest + 1, np.int64)
    cls = np.empty(longest, np.uint8)
    wbuf = np.empty(8 * longest + 1, np.uint8)
    wst = np.empty(longest, np.int64)
    wen = np.empty(longest, np.int64)
    hs = np.empty(2 * longest + 1, np.uint32)
    out_sizes = np.zeros(n + 1, np.int64)
    out_hashes = np.empty(0 if not want_sets else lengths.sum() + n, np.uint32)
    perms = a.shape[0]
    ustarts[0] = 0
    for d in range(n):
        base = ustarts[d]
        src, at = (side, side_starts) if folded[d] else (cps, starts)
        nch, nb = _normalise(
            src, at[d], at[d + 1], table, fold, expansions, folded[d], utf8[base:], boff, cls
        )
        ustarts[d + 1] = base + nb
        k = _shingle_hashes(utf8[base:], boff, cls, nch, char_n, word_n, gap, wbuf, wst, wen, hs)
        if want_sets:
            uniq = np.unique(hs[:k])
            out_hashes[out_sizes[d] : out_sizes[d] + uniq.shape[0]] = uniq
            out_sizes[d + 1] = out_sizes[d] + uniq.shape[0]
            continue
        sig = sigs[d]
        for p in range(perms):
            sig[p] = uint32(0xFFFFFFFF)
        for s in range(k):
            h = _fmix32(hs[s])
            for p in range(perms):
                sig[p] = min(sig[p], uint32(a[p] * h + b[p]))
    return out_hashes[: out_sizes[n]], out_sizes, utf8, ustarts


class ShingleKernel:
    """Batch shingling with fixed settings; one instance per (config, worker)."""

    def __init__(self, char_n: int, word_n: int, t2s: bool = False, gap: int = RUN_GAP):
        self.char_n, self.word_n, self.t2s, self.gap = char_n, word_n, t2s, gap
        self.table = class_table()
        self.fold, self.expansions = fold_table()

    @staticmethod
    def _encode(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """UTF-32 code points of all texts and each text's start.  Encoded text by text: joining
        first would build the whole batch once more as a str (up to 4 bytes a char), memory a
        fresh Dask worker must fault in (a page fault costs 20-60 us on a VM)."""
        starts = np.zeros(len(texts) + 1, np.int64)
        np.cumsum(np.fromiter(map(len, texts), np.int64, len(texts)), out=starts[1:])
        cps = np.empty(starts[-1], np.uint32)
        for t, lo, hi in zip(texts, starts[:-1], starts[1:], strict=True):
            cps[lo:hi] = np.frombuffer(t.encode("utf-32-le", "surrogatepass"), np.uint32)
        return cps, starts

    def _code_points(
        self, texts: list[str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(code points, starts, folded side array, its starts, which texts are in it).

        Most texts are folded by the kernel through `fold_table` (no Python per char);
        texts with a char it cannot fold exactly, or all non-ASCII ones when t2s is on,
        go through `normalize.fold` first and into a side array, so the batch's code points
        are not copied to splice them in.
        """
        texts = [t or "" for t in texts]
        cps, starts = self._encode(texts)
        if self.t2s:
            python = np.array([not t.isascii() for t in texts], np.bool_)
        else:
            python = _needs_python(cps, starts, self.fold)
        side, side_starts = cps[:0], np.zeros_like(starts)
        if python.any():
            folded = [fold(t, self.t2s) if p else "" for t, p in zip(texts, python, strict=True)]
            side, side_starts = self._encode(folded)
        return cps, starts, side, side_starts, python

    def run(
        self, texts: list[str], a: np.ndarray, b: np.ndarray, want_sets: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(signatures, normalised UTF-8 bytes, their offsets, shingle hashes, their offsets)."""
        cps, starts, side, side_starts, folded = self._code_points(texts)
        sigs = np.empty((0 if want_sets else len(texts), a.shape[0]), np.uint32)
        args = (
            self.table,
            self.fold,
            self.expansions,
            self.char_n,
            self.word_n,
            self.gap,
            a,
            b,
            sigs,
            want_sets,
        )
        hashes, hstarts, utf8, ustarts = _batch(cps, starts, side, side_starts, folded, *args)
        return sigs, utf8, ustarts, hashes, hstarts

    def hash_sets(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Sorted unique xxh32 shingle hashes of each text, concatenated, and their offsets."""
        empty = np.zeros(1, np.uint32)
        _, _, _, hashes, offsets = self.run(texts, empty, empty, want_sets=True)
        return hashes, offsets
