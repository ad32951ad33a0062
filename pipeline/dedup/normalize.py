"""Normalisation applied before hashing or shingling, so trivial variants compare equal.

NFKC folds full-width/half-width forms and compatibility characters, lower-casing folds
case, whitespace runs collapse to one space; optionally traditional Chinese is folded to
simplified (OpenCC t2s) so a page and its traditional-script mirror hash alike.
"""

from __future__ import annotations

import functools
import unicodedata

import numpy as np


@functools.cache
def _t2s():
    import opencc

    try:
        return opencc.OpenCC("t2s.json")
    except Exception:  # the pure-Python reimplementation names configs without ".json"
        return opencc.OpenCC("t2s")


def fold(text: str, t2s: bool = False) -> str:
    """NFKC (skipped for ASCII, which NFKC leaves unchanged), optional t2s, lower case."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
        if t2s:
            text = _t2s().convert(text)
    return text.lower()


def normalize_for_dedup(text: str, t2s: bool = False) -> str:
    """`fold`, then whitespace runs collapsed to one space and the ends stripped."""
    return " ".join(fold(text, t2s).split())


COMPLEX = np.uint32(0xFFFFFFFF)
EXPANDS = np.uint32(0x80000000)  # table value = EXPANDS | offset of (length, chars...) in expansions
_TABLE_END = 0x30000  # above: no decompositions, case mappings or combining classes (tested)


def _per_char(fn, chars: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """fn applied to each char separately, in one call: NUL separates and never composes."""
    out = np.frombuffer(fn("\x00".join(chars)).encode("utf-32-le", "surrogatepass"), np.uint32)
    nul = np.flatnonzero(out == 0)
    starts = np.r_[0, nul + 1]
    return out, starts, np.r_[nul, len(out)] - starts


@functools.cache
def fold_table() -> tuple[np.ndarray, np.ndarray]:
    """`fold` as a per-code-point table where that is exact: (table, expansions).

    NFKC + lower of a text equals the concatenation of its chars' own NFKC + lower when no
    char involved can compose with or reorder around a neighbour: no combining mark, no
    second half of a canonical decomposition (nor Hangul V/T jamo), no Σ (final-sigma
    rule).  Such chars map to one char (the table value) or several (EXPANDS | offset,
    e.g. … → ...); the others are COMPLEX, and a text holding one is folded by `fold`.
    Built in one pass per property over all code points (about 0.3 s per process).
    """
    chars = np.arange(1, _TABLE_END, dtype="<u4").tobytes().decode("utf-32-le", "surrogatepass")
    nfkc, ns, nl = _per_char(lambda s: unicodedata.normalize("NFKC", s), chars)
    low, ls, ll = _per_char(str.lower, chars)
    nfd, ds, dl = _per_char(lambda s: unicodedata.normalize("NFD", s), chars)
    # arrays below are indexed by code point (cp 0, NUL, maps to itself)
    ns, nl = np.r_[0, ns], np.r_[1, nl]
    lower = np.r_[0, low[ls]].astype(np.uint32)
    bad = np.r_[False, np.fromiter((unicodedata.combining(c) != 0 for c in chars), bool, len(chars))]
    for k in range(1, int(dl.max())):  # later halves of canonical decompositions
        bad[nfd[ds[dl > k] + k]] = True
    bad[0x1161:0x1176] = bad[0x11A8:0x11C3] = True  # Hangul V and T jamo compose algorithmically
    bad[0x3A3] = True
    bad |= np.r_[False, ll != 1]  # lower-casing to several chars (İ → i̇)
    one = nl == 1
    target = np.where(one, nfkc[np.minimum(ns, len(nfkc) - 1)], 0).astype(np.int64)
    target[0] = 0
    table = np.arange(0x110000, dtype=np.uint32)
    table[:_TABLE_END] = COMPLEX
    good = one & ~bad & ~bad[np.minimum(target, _TABLE_END - 1)]
    table[:_TABLE_END][good] = lower[target[good]]
    expansions = [0]
    for cp in np.flatnonzero(~one & ~bad):
        seg = nfkc[ns[cp] : ns[cp] + nl[cp]].astype(np.int64)
        if (seg < _TABLE_END).all() and not bad[seg].any():
            table[cp] = EXPANDS | np.uint32(len(expansions))
            expansions += [len(seg), *lower[seg].tolist()]
    return table, np.array(expansions, np.uint32)
