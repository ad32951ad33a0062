"""Near duplicates: MinHash LSH candidates, verified by estimated Jaccard before they count."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from datasketch import LeanMinHash, MinHashLSH

from pipeline.config import DedupConfig
from pipeline.dedup.minhash import SCHEME


def near_duplicates(ids: Sequence[str], sigs: np.ndarray, cfg: DedupConfig) -> dict[str, str]:
    """Map each near-duplicate id to an earlier kept id it matches.

    Greedy in the given order: a document is a duplicate if an already kept document is an
    LSH candidate whose estimated Jaccard reaches the threshold; otherwise it is kept and
    indexed.  The caller's order is the deterministic tie-break.
    """
    lsh = MinHashLSH(threshold=cfg.threshold, num_perm=cfg.num_perm)
    order = {doc_id: i for i, doc_id in enumerate(ids)}
    kept_sigs: dict[str, np.ndarray] = {}
    dupes: dict[str, str] = {}
    for doc_id, sig in zip(ids, sigs, strict=True):
        m = LeanMinHash(seed=cfg.seed, hashvalues=sig, scheme=SCHEME)
        match = None
        for cand in sorted(lsh.query(m), key=order.__getitem__):
            if float(np.mean(kept_sigs[cand] == sig)) >= cfg.threshold:
                match = cand
                break
        if match is None:
            lsh.insert(doc_id, m)
            kept_sigs[doc_id] = sig
        else:
            dupes[doc_id] = match
    return dupes
