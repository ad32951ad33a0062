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
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
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
    text: str,
    char_n: int = 5,
    word_n: int = 2,
    t2s: bool = False,
    gap: int = RUN_GAP,
    chars: bool = False,
) -> set[bytes]:
    """The shingle set of one document, as UTF-8 bytes (what datasketch's hashfunc sees); with
    `chars`, char n-grams over the whole normalised text."""
    norm = normalize_for_dedup(text, t2s)
    if chars:
        return {s.encode("utf-8", "surrogatepass") for s in _ngrams(list(norm), char_n, "")}
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
def class_table(chars: bool = False) -> np.ndarray:
    """Class of every code point (OTHER, WORD, RUN, SPACE), from the same regexes as `shingles`.

    With `chars` every non-space char is RUN: since whitespace is collapsed to one space, which a
    run spans, the whole document is one run and its shingles are char n-grams everywhere."""
    everything = np.arange(0x110000, dtype="<u4").tobytes().decode("utf-32-le", "surrogatepass")
    table = np.zeros(0x110000, np.uint8)
    for pattern, cls in ((r"\w+", WORD), (f"[{UNSEGMENTED}]+", RUN), (r"\s+", SPACE)):
        for m in re.finditer(pattern, everything):
            table[m.start() : m.end()] = cls
    if chars:
        table[(table == WORD) | (table == OTHER)] = RUN
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


@njit(inline="always")
def _utf8_len(lead):
    """Bytes of the UTF-8 sequence that starts with this byte (input is valid UTF-8, or WTF-8
    for Python strings holding lone surrogates)."""
    if lead < 0x80:
        return 1
    if lead < 0xE0:
        return 2
    if lead < 0xF0:
        return 3
    return 4


@njit(inline="always")
def _utf8_cp(buf, i, n):
    """The code point of the n-byte sequence at buf[i]."""
    c = np.int64(buf[i])
    if n == 1:
        return c
    c1 = np.int64(buf[i + 1]) & 0x3F
    if n == 2:
        return ((c & 0x1F) << 6) | c1
    c2 = np.int64(buf[i + 2]) & 0x3F
    if n == 3:
        return ((c & 0x0F) << 12) | (c1 << 6) | c2
    return ((c & 0x07) << 18) | (c1 << 12) | (c2 << 6) | (np.int64(buf[i + 3]) & 0x3F)


@njit(cache=True)
def _needs_python(buf, starts, fold, any_non_ascii):
    """Documents with a char the fold table cannot fold exactly (see normalize.fold_table), or
    with `any_non_ascii` (t2s: OpenCC runs in Python) any char outside ASCII."""
    n = starts.shape[0] - 1
    out = np.zeros(n, np.bool_)
    for d in range(n):
        i = starts[d]
        while i < starts[d + 1]:
            k = _utf8_len(buf[i])
            if k > 1 and (any_non_ascii or fold[_utf8_cp(buf, i, k)] == 0xFFFFFFFF):
                out[d] = True
                break
            i += k
    return out


@njit(inline="always")
def _put_char(boff, cls, utf8, j, p, char_class, cp):
    """Write normalised char j (its byte offset, class and UTF-8) at byte p; returns the next
    byte offset (a scalar: see `_normalise` on tuple returns)."""
    boff[j] = p
    cls[j] = char_class
    return _put_utf8(utf8, p, cp)


@njit(inline="always")
def _push(cp, c, j, p, pending, utf8, boff, cls):
    """Append one folded char: spaces only mark a pending separator."""
    if c == SPACE:
        return j, p, j > 0
    if pending:
        p = _put_char(boff, cls, utf8, j, p, SPACE, 32)
        j += 1
    return j + 1, _put_char(boff, cls, utf8, j, p, c, cp), False


@njit(cache=True)
def _normalise(src, start, end, table, fold, expansions, folded, utf8, boff, cls):
    """Decode src[start:end] (UTF-8), fold it (unless `folded`), collapse whitespace to single
    spaces, strip, encode as UTF-8 into `utf8`.

    Fills `boff` (byte offset of every normalised char, plus the end) and `cls` (its
    class); returns (chars, bytes).  The common case (a char folding to one char) is
    written out in the loop rather than through `_push`: numba's code for the helper's
    tuple return made this loop 2.5x slower (0.74 vs 0.29 s over the dedup bench's 35M chars).
    """
    j = 0
    p = 0
    pending = False
    i = start
    while i < end:
        cp = np.int64(src[i])
        if cp < 0x80:  # ASCII: most bytes of most documents
            i += 1
        else:
            k = _utf8_len(src[i])
            cp = _utf8_cp(src, i, k)
            i += k
        if not folded:
            cp = fold[cp]
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
            p = _put_char(boff, cls, utf8, j, p, SPACE, 32)
            j += 1
            pending = False
        p = _put_char(boff, cls, utf8, j, p, c, cp)
        j += 1
    boff[j] = p
    return j, p


@njit(cache=True)
def _folded_lengths(buf, starts, side, side_starts, fold, expansions, folded):
    """Upper bound of each document's length in chars after folding (documents folded in
    Python already are their length in the side buffer)."""
    n = starts.shape[0] - 1
    out = np.zeros(n, np.int64)
    for d in range(n):
        if folded[d]:
            for i in range(side_starts[d], side_starts[d + 1]):
                if side[i] & 0xC0 != 0x80:  # not a continuation byte: one char
                    out[d] += 1
            continue
        m = 0
        i = starts[d]
        while i < starts[d + 1]:
            if buf[i] < 0x80:  # ASCII folds to one ASCII char
                m += 1
                i += 1
                continue
            k = _utf8_len(buf[i])
            v = fold[_utf8_cp(buf, i, k)]
            m += expansions[v & 0x7FFFFFFF] if v >= 0x110000 else 1
            i += k
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
    buf,
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

    Document d is the UTF-8 bytes buf[starts[d]:starts[d + 1]], or, where `folded[d]` (folded
    in Python already), side[side_starts[d]:side_starts[d + 1]].

    MinHash is datasketch's affine32 scheme: murmur3 fmix32 of the shingle hash, then
    min over k of `a_k·h + b_k mod 2^32`; the inner loop over permutations vectorises.
    With `want_sets`, returns each document's sorted unique shingle hashes instead.
    Returns (shingle hashes, their offsets, normalised UTF-8, its offsets).
    """
    n = starts.shape[0] - 1
    lengths = _folded_lengths(buf, starts, side, side_starts, fold, expansions, folded)
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
        src, at = (side, side_starts) if folded[d] else (buf, starts)
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

    def __init__(self, char_n: int, word_n: int, t2s: bool = False, gap: int = RUN_GAP, chars: bool = False):
        self.char_n, self.word_n, self.t2s, self.gap = char_n, word_n, t2s, gap
        self.table = class_table(chars)
        self.fold, self.expansions = fold_table()

    def _side(self, buf: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(folded side buffer, its starts, which documents are in it).

        Most documents are folded by the kernel through `fold_table` (no Python per char);
        those with a char it cannot fold exactly, or all non-ASCII ones when t2s is on, are
        decoded and go through `normalize.fold` first, into a side buffer, so the batch's
        bytes are not copied to splice them in.
        """
        python = _needs_python(buf, starts, self.fold, self.t2s)
        if not python.any():
            return buf[:0], np.zeros_like(starts), python
        folded = [
            fold(bytes(buf[starts[d] : starts[d + 1]]).decode("utf-8", "surrogatepass"), self.t2s)
            if p
            else ""
            for d, p in enumerate(python)
        ]
        side, side_starts = utf8_docs(folded)
        return side, side_starts, python

    def run(
        self, buf: np.ndarray, starts: np.ndarray, a: np.ndarray, b: np.ndarray, want_sets: bool
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Documents buf[starts[d]:starts[d + 1]] (UTF-8, see `utf8_docs`) →
        (signatures, normalised UTF-8 bytes, their offsets, shingle hashes, their offsets)."""
        side, side_starts, folded = self._side(buf, starts)
        sigs = np.empty((0 if want_sets else len(starts) - 1, a.shape[0]), np.uint32)
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
        hashes, hstarts, utf8, ustarts = _batch(buf, starts, side, side_starts, folded, *args)
        return sigs, utf8, ustarts, hashes, hstarts

    def hash_sets(self, buf: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sorted unique xxh32 shingle hashes of each document, concatenated, and their offsets."""
        empty = np.zeros(1, np.uint32)
        _, _, _, hashes, offsets = self.run(buf, starts, empty, empty, want_sets=True)
        return hashes, offsets


Texts = Sequence[str | None] | pa.Array | pa.ChunkedArray


def utf8_docs(texts: Texts) -> tuple[np.ndarray, np.ndarray]:
    """(UTF-8 bytes, start of each document and the end: n + 1 offsets into them); null is "".

    An Arrow string column is used in place (its data buffer and offsets, no copy): the
    kernel decodes UTF-8 itself, so a partition's text never becomes Python strings or a
    4-byte-a-char array.  Python strings are encoded with "surrogatepass" (lone surrogates
    become 3-byte sequences the kernel decodes like any other char).
    """
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    if isinstance(texts, pa.Array):
        if texts.null_count:
            texts = pc.fill_null(texts, "")
        if pa.types.is_large_string(texts.type):
            width = np.int64
        elif pa.types.is_string(texts.type):
            width = np.int32
        else:
            raise TypeError(f"text column of type {texts.type}, expected string")
        _, offsets, data = texts.buffers()
        starts = np.frombuffer(offsets, width)[texts.offset : texts.offset + len(texts) + 1].astype(np.int64)
        buf = np.frombuffer(data if data is not None else b"", np.uint8)
        # read-only like the bytes below, so numba compiles (and warm_up loads) one kernel
        buf.setflags(write=False)
        return buf, starts
    encoded = [(t or "").encode("utf-8", "surrogatepass") for t in texts]
    starts = np.zeros(len(encoded) + 1, np.int64)
    np.cumsum(np.fromiter(map(len, encoded), np.int64, len(encoded)), out=starts[1:])
    return np.frombuffer(b"".join(encoded), np.uint8), starts
