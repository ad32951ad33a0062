"""Load every numba kernel once (from numba's on-disk cache after the first run).

A fresh process pays this once (about a second, with the imports the first real call makes);
workers run it up front so the first partition's time measures work, not loading.
"""

from __future__ import annotations

import numpy as np

from pipeline.config import DedupConfig


def warm_up(cfg: DedupConfig | None = None) -> None:
    import pyarrow as pa

    import pipeline.dedup.standalone  # noqa: F401  (the standalone tasks' module: 25 ms to import)
    from pipeline.dedup.buckets import scan_buckets
    from pipeline.dedup.cluster import cluster
    from pipeline.dedup.keys import add_dedup_keys
    from pipeline.dedup.lsh import EXACT_BAND
    from pipeline.dedup.minhash import shingle_sets
    from pipeline.dedup.verify import _jaccard_pairs

    cfg = cfg or DedupConfig()
    texts = ["warm up 预热 the kernels", "warm up 预热 the kernels!"]
    # the keys step as a task calls it (signature kernel included): its first Arrow conversion
    # also imports pandas (0.4 s)
    add_dedup_keys(pa.table({"id": ["a", "b"], "text": texts}), cfg)
    hashes, offsets = shingle_sets(texts, cfg)
    _jaccard_pairs(hashes, offsets, np.zeros(1, np.int64), np.ones(1, np.int64), np.empty(1))
    g = np.arange(2, dtype=np.uint64)
    scan_buckets(np.zeros(2, np.uint64), g, g, EXACT_BAND, 2)
    one = np.ones(1)
    cluster(g, np.arange(2), np.zeros(2, bool), (g[:1], g[1:], np.array([EXACT_BAND])), (g[:1], g[1:], one))
