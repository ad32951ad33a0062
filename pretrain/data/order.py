"""The order in which one source serves its documents, epoch after epoch, touching few shards at a time.

A global permutation of a source's documents would make every block of the stream open
thousands of shards.  Instead each epoch (1) shuffles the source's shards, (2) cuts that shard
order into groups of GROUP_SHARDS consecutive shards and (3) shuffles the documents inside each
group.  Every epoch is still a permutation of all documents and is reshuffled from epoch to
epoch; a block of the stream opens at most a couple of groups per source, and the stream's
window shuffle then mixes examples further.  Everything is a function of (seed, source, epoch):
nothing is stored and any rank or worker computes the same order.
"""

from __future__ import annotations

import numpy as np

GROUP_SHARDS = 16  # shards whose documents are shuffled together (a constant of the stream format)


class SourceOrder:
    """k-th document of epoch e for one source; caches the current epoch's permutations (forward walk)."""

    def __init__(self, seed: int, source_index: int, docs_per_shard: np.ndarray) -> None:
        self.seed, self.s = seed, source_index
        self.counts = np.asarray(docs_per_shard, dtype=np.int64)
        self.first = np.concatenate([[0], np.cumsum(self.counts)])  # doc id of each shard's first doc
        self.n = int(self.first[-1])
        self._epoch: int | None = None
        self._groups: dict[int, np.ndarray] = {}

    def _plan(self, epoch: int) -> None:
        """Shard order and group boundaries (in documents) of one epoch."""
        rng = np.random.default_rng([self.seed, 1, self.s, epoch])
        self._shards = rng.permutation(len(self.counts))  # shards in this epoch's order
        sizes = self.counts[self._shards]
        self._group_first = np.concatenate([[0], np.cumsum(sizes)])[::GROUP_SHARDS]  # doc offset per group
        if self._group_first[-1] != self.n:
            self._group_first = np.append(self._group_first, self.n)
        self._epoch, self._groups = epoch, {}

    def _group(self, g: int) -> np.ndarray:
        """Doc ids of group g in shuffled order."""
        if g not in self._groups:
            for old in [k for k in self._groups if k < g - 1]:
                del self._groups[old]  # the walk only moves forward
            shards = self._shards[g * GROUP_SHARDS : (g + 1) * GROUP_SHARDS]
            ids = np.concatenate([np.arange(self.first[s], self.first[s + 1]) for s in shards])
            rng = np.random.default_rng([self.seed, 3, self.s, int(self._epoch or 0), g])
            self._groups[g] = ids[rng.permutation(len(ids))]
        return self._groups[g]

    def docs(self, epoch: int, k: np.ndarray) -> np.ndarray:
        """Doc ids at positions k (0 <= k < n) of epoch `epoch`."""
        if epoch != self._epoch:
            self._plan(epoch)
        k = np.asarray(k, dtype=np.int64)
        g = np.searchsorted(self._group_first, k, side="right") - 1
        out = np.empty(len(k), dtype=np.int64)
        for gi in np.unique(g):
            sel = g == gi
            out[sel] = self._group(int(gi))[k[sel] - self._group_first[gi]]
        return out
