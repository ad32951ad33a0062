"""Unsure candidate pairs in batches of bounded text, for the exact check (verify.py).

A verify task shingles the texts of its unsure pairs' documents; all at once that is memory in
proportion to its partition's candidates (which grow with the partition and the duplicate rate),
so it takes them in batches of about `max_chars` characters of distinct text.  Pairs are first
grouped by connected component of the pair graph (groups of near copies), so a batch holds whole
groups and a text is shingled once unless its group alone outgrows a batch.  The order changes
which batch checks a pair, never its similarity.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A label per node 0..n-1, equal across every edge (a[k], b[k]): min-label hooking with
    pointer jumping, a few vectorised rounds."""
    label = np.arange(n)
    while True:
        la, lb = label[a], label[b]
        low = np.minimum(la, lb)
        hooked = label.copy()
        np.minimum.at(hooked, la, low)
        np.minimum.at(hooked, lb, low)
        hooked = hooked[hooked]
        if np.array_equal(hooked, label):
            return label
        label = hooked


def text_batches(
    pairs: np.ndarray, ia: np.ndarray, ib: np.ndarray, length: np.ndarray, max_chars: int
) -> Iterator[np.ndarray]:
    """`pairs` (positions into ia/ib, documents with `length` characters) in batches whose
    distinct documents hold about `max_chars` characters (one pair may hold more)."""
    if not len(pairs):
        return
    a, b = ia[pairs], ib[pairs]
    order = np.lexsort((b, a, components(len(length), a, b)[a]))
    pairs, a, b = pairs[order], a[order], b[order]
    start, chars, seen = 0, 0, set()
    for k, (x, y) in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
        new = [d for d in dict.fromkeys((x, y)) if d not in seen]
        add = sum(int(length[d]) for d in new)
        if chars and chars + add > max_chars:
            yield pairs[start:k]
            start, chars, seen = k, 0, set()
            new = list(dict.fromkeys((x, y)))
            add = sum(int(length[d]) for d in new)
        seen.update(new)
        chars += add
    yield pairs[start:]
