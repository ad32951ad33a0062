"""The order in which one source serves its documents, pass after pass, touching few shards at a time.

A global permutation of a source's documents would make every block of the stream open
thousands of shards.  Instead each pass (1) shuffles the source's shards, (2) cuts that shard
order into groups of GROUP_SHARDS consecutive shards and (3) shuffles the documents inside each
group.  A pass holds every document once (`uniform`), or, under within-source sampling,
floor(c_d) + Bernoulli(frac c_d) copies of document d, redrawn each pass (`sampling.py`), so
over passes document d is served c_d times per pass on average.  Everything is a function of
(seed, source, pass): nothing is stored and any rank or worker computes the same order.
"""

from __future__ import annotations

import numpy as np

GROUP_SHARDS = 16  # shards whose documents are shuffled together (a constant of the stream format)
_MAX_EMPTY_PASSES = 1000  # a source whose passes keep drawing no copies cannot feed the stream


class SourceOrder:
    """Document at position k of one source's own stream; caches the current pass (forward walk)."""

    def __init__(
        self, seed: int, source_index: int, docs_per_shard: np.ndarray, copies: np.ndarray | None = None
    ) -> None:
        self.seed, self.s = seed, source_index
        self.counts = np.asarray(docs_per_shard, dtype=np.int64)
        self.first = np.concatenate([[0], np.cumsum(self.counts)])  # doc id of each shard's first doc
        self.n = int(self.first[-1])
        self.copies = None if copies is None else np.asarray(copies, dtype=np.float64)
        if self.copies is not None and len(self.copies) != self.n:
            raise ValueError(f"copies has {len(self.copies)} entries for {self.n} documents")
        self._pass_starts = [0]  # stream position where pass p starts, known for p < len - 1
        self._pass: int | None = None
        self._groups: dict[int, np.ndarray] = {}

    def _multiplicity(self, p: int) -> np.ndarray | None:
        """Copies of each document in pass p (None: one each)."""
        if self.copies is None:
            return None
        whole = np.floor(self.copies)
        u = np.random.default_rng([self.seed, 4, self.s, p]).random(self.n)
        return (whole + (u < self.copies - whole)).astype(np.int64)

    def pass_length(self, p: int) -> int:
        mult = self._multiplicity(p)
        return self.n if mult is None else int(mult.sum())

    def _plan(self, p: int) -> None:
        """Shard order and group boundaries (in stream positions) of one pass."""
        rng = np.random.default_rng([self.seed, 1, self.s, p])
        self._shards = rng.permutation(len(self.counts))  # shards in this pass's order
        self._mult = self._multiplicity(p)
        per_shard = self.counts
        if self._mult is not None:
            cum = np.concatenate([[0], np.cumsum(self._mult)])
            per_shard = cum[self.first[1:]] - cum[self.first[:-1]]
        total = int(per_shard.sum())
        self._group_first = np.concatenate([[0], np.cumsum(per_shard[self._shards])])[::GROUP_SHARDS]
        if self._group_first[-1] != total:
            self._group_first = np.append(self._group_first, total)
        self._pass, self._groups = p, {}

    def _group(self, g: int) -> np.ndarray:
        """Doc ids of group g in shuffled order (a document repeated by its copies this pass)."""
        if g not in self._groups:
            for old in [k for k in self._groups if k < g - 1]:
                del self._groups[old]  # the walk only moves forward
            shards = self._shards[g * GROUP_SHARDS : (g + 1) * GROUP_SHARDS]
            ids = np.concatenate([np.arange(self.first[s], self.first[s + 1]) for s in shards])
            if self._mult is not None:
                ids = np.repeat(ids, self._mult[ids])
            rng = np.random.default_rng([self.seed, 3, self.s, int(self._pass or 0), g])
            self._groups[g] = ids[rng.permutation(len(ids))]
        return self._groups[g]

    def docs(self, p: int, k: np.ndarray) -> np.ndarray:
        """Doc ids at positions k (0 <= k < pass_length(p)) of pass p."""
        if p != self._pass:
            self._plan(p)
        k = np.asarray(k, dtype=np.int64)
        g = np.searchsorted(self._group_first, k, side="right") - 1
        out = np.empty(len(k), dtype=np.int64)
        for gi in np.unique(g):
            sel = g == gi
            out[sel] = self._group(int(gi))[k[sel] - self._group_first[gi]]
        return out

    def take(self, k: np.ndarray) -> np.ndarray:
        """Doc ids at positions k of the source's stream of passes (positions only grow between calls)."""
        k = np.asarray(k, dtype=np.int64)
        if self.copies is None:  # every pass holds each document once
            out = np.empty(len(k), np.int64)
            for p in np.unique(k // self.n):
                sel = k // self.n == p
                out[sel] = self.docs(int(p), k[sel] % self.n)
            return out
        if len(k):
            self._pass_starts_to(int(k.max()))
        starts = np.asarray(self._pass_starts)
        passes = np.searchsorted(starts, k, side="right") - 1
        out = np.empty(len(k), np.int64)
        for p in np.unique(passes):
            sel = passes == p
            out[sel] = self.docs(int(p), k[sel] - starts[p])
        return out

    def _pass_starts_to(self, k: int) -> None:
        """Extend the known pass starts until one pass ends after stream position k."""
        empty = 0
        while self._pass_starts[-1] <= k:
            length = self.pass_length(len(self._pass_starts) - 1)
            empty = empty + 1 if length == 0 else 0
            if empty > _MAX_EMPTY_PASSES:
                raise ValueError(f"source {self.s}: its sampling gives every document 0 copies")
            self._pass_starts.append(self._pass_starts[-1] + length)
