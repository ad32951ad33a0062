"""Candidate pairs → verified edges: a pair counts only if its similarity reaches the threshold.

"estimate" takes the share of agreeing signature values (datasketch's `jaccard`), whose
standard deviation is sqrt(J(1-J)/num_perm), 0.035 at J = 0.8 with 128 permutations: a pair
at J = 0.82 would be dropped a third of the time.  "exact" therefore recomputes the shingle
sets of the candidates whose estimate is within 4 standard deviations of the threshold
(only those; the rest are decided by the estimate, wrong about once in 30,000) from their
text and takes the true Jaccard of the two sets.  "none" keeps every LSH candidate.
Documents of a persisted index keep no text, so pairs with one of them are estimated.
"""

from __future__ import annotations

import time

import numpy as np
import pyarrow as pa
from numba import njit

from pipeline.config import DedupConfig
from pipeline.core.atomic import write_parquet
from pipeline.dedup.minhash import shingle_sets
from pipeline.dedup.plan import EDGE_SCHEMA, PAIR_SCHEMA, Plan, done_stats, finish
from pipeline.dedup.store import DocStore, open_store, split_gid
from pipeline.dedup.verify_batches import text_batches


@njit(cache=True)
def _jaccard_pairs(hashes, offsets, ia, ib, out):
    for k in range(ia.shape[0]):
        i, j = offsets[ia[k]], offsets[ia[k] + 1]
        p, q = offsets[ib[k]], offsets[ib[k] + 1]
        na, nb = j - i, q - p
        inter = 0
        while i < j and p < q:
            x, y = hashes[i], hashes[p]
            if x == y:
                inter += 1
                i += 1
                p += 1
            elif x < y:
                i += 1
            else:
                p += 1
        union = na + nb - inter
        out[k] = inter / union if union > 0 else 0.0


def estimated_jaccard(sa: np.ndarray, sb: np.ndarray) -> np.ndarray:
    out = np.empty(len(sa), np.float64)
    for lo in range(0, len(sa), 65536):
        out[lo : lo + 65536] = (sa[lo : lo + 65536] == sb[lo : lo + 65536]).mean(axis=1)
    return out


# Characters of text whose shingle sets a task holds at once (verify_batches.py): ~8 bytes of
# hashes per character besides the text, so a task's memory does not follow its candidates.
EXACT_BATCH_CHARS = 16 << 20


def _margin(cfg: DedupConfig) -> float:
    return 4.0 * float(np.sqrt(cfg.threshold * (1.0 - cfg.threshold) / cfg.num_perm))


def similarities(a: np.ndarray, b: np.ndarray, store: DocStore, cfg: DedupConfig) -> np.ndarray:
    """Similarity of each candidate pair (a[k], b[k]) under `cfg.verify`."""
    if len(a) == 0:
        return np.zeros(0, np.float64)
    docs, inv = np.unique(np.concatenate([a, b]), return_inverse=True)
    ia, ib = inv[: len(a)], inv[len(a) :]
    sigs = store.signatures(docs)
    sims = estimated_jaccard(sigs[ia], sigs[ib])
    if cfg.verify != "exact":
        return sims
    unsure = np.abs(sims - cfg.threshold) < _margin(cfg)
    unsure &= ~(split_gid(a)[0] | split_gid(b)[0])
    unsure_pairs = np.flatnonzero(unsure)
    length = np.zeros(len(docs), np.int64)
    if len(unsure_pairs):
        need = np.unique(np.concatenate([ia[unsure_pairs], ib[unsure_pairs]]))
        length[need] = store.lengths(docs[need])
    for sel in text_batches(unsure_pairs, ia, ib, length, EXACT_BATCH_CHARS):
        need, local = np.unique(np.concatenate([ia[sel], ib[sel]]), return_inverse=True)
        hashes, offsets = shingle_sets(store.texts(docs[need]), cfg)
        out = np.empty(len(sel), np.float64)
        _jaccard_pairs(hashes, offsets, local[: len(sel)], local[len(sel) :], out)
        sims[sel] = out
    return sims


def unique_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct (a, b) pairs, in (a, b) order.  Each side becomes its dense rank and the two
    ranks one uint64, so np.unique sorts integers: np.unique(axis=0) sorts rows as opaque
    bytes, ~10x slower on a partition's ~10^5 pairs."""
    if len(a) == 0:
        return a, b
    docs, inv = np.unique(np.concatenate([a, b]), return_inverse=True)
    inv = inv.astype(np.uint64)
    key = np.unique((inv[: len(a)] << np.uint64(32)) | inv[len(a) :])
    return docs[key >> np.uint64(32)], docs[key & np.uint64(0xFFFFFFFF)]


def accepted(sims: np.ndarray, cfg: DedupConfig) -> np.ndarray:
    return np.ones(len(sims), bool) if cfg.verify == "none" else sims >= cfg.threshold


def verify_task(p: int, plan: Plan) -> dict:
    """Round 3 (per partition): its candidate pairs, deduplicated and checked → edges/PART.parquet."""
    from pipeline.dedup.buckets import pairs_path
    from pipeline.dedup.shuffle_file import read_groups

    name = plan.names[p]
    marker = plan.root / "verify" / name
    if (stats := done_stats(marker)) is not None:
        return stats
    t0 = time.perf_counter()
    pairs = read_groups([pairs_path(plan, s) for s in range(plan.shards)], p, PAIR_SCHEMA)
    a, b = pairs.column("a").to_numpy(), pairs.column("b").to_numpy()
    a, b = unique_pairs(a, b)  # a pair met in several bands is checked once
    sims = similarities(a, b, open_store(plan), plan.cfg)
    ok = accepted(sims, plan.cfg)
    edges = pa.table([a[ok], b[ok], sims[ok].astype(np.float32)], schema=EDGE_SCHEMA)
    write_parquet(plan.root / "edges" / f"{name}.parquet", edges)
    stats = {"candidates": len(a), "verified": int(ok.sum()), "seconds": time.perf_counter() - t0}
    return finish(marker, stats)
