"""MinHash signatures, datasketch's own hashing so signatures interoperate with datasketch.

Scheme "affine32" (datasketch ≥ 2.0's default): sha1-32 input hash, murmur3 pre-mix, then
`a·h + b mod 2^32` permutations; values are uint32, half the memory of the legacy scheme.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from datasketch import MinHash

from pipeline.config import DedupConfig
from pipeline.dedup.shingles import shingles

SCHEME = "affine32"


def signatures(texts: Sequence[str], cfg: DedupConfig) -> np.ndarray:
    """(n_docs, num_perm) uint32 signatures; one shared permutation set for the batch."""
    template = MinHash(num_perm=cfg.num_perm, seed=cfg.seed, scheme=SCHEME)
    out = np.empty((len(texts), cfg.num_perm), dtype=template.hashvalues.dtype)
    for i, text in enumerate(texts):
        m = MinHash(num_perm=cfg.num_perm, seed=cfg.seed, permutations=template.permutations, scheme=SCHEME)
        sh = shingles(text, cfg.ngram, cfg.word_ngram)
        if sh:
            m.update_batch(list(sh))
        out[i] = m.hashvalues
    return out
