"""MinHash signatures, datasketch's own hashing so signatures interoperate with datasketch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from datasketch import MinHash

from pipeline.config import DedupConfig
from pipeline.dedup.shingles import shingles


def signatures(texts: Sequence[str], cfg: DedupConfig) -> np.ndarray:
    """(n_docs, num_perm) uint64 signatures; one shared permutation set for the batch."""
    template = MinHash(num_perm=cfg.num_perm, seed=cfg.seed)
    out = np.empty((len(texts), cfg.num_perm), dtype=np.uint64)
    for i, text in enumerate(texts):
        m = MinHash(num_perm=cfg.num_perm, seed=cfg.seed, permutations=template.permutations)
        sh = shingles(text, cfg.ngram, cfg.word_ngram)
        if sh:
            m.update_batch(list(sh))
        out[i] = m.hashvalues
    return out
