"""One shuffle shard's buckets → exact groups and LSH candidate pairs.

Rows are (key, gid, aux): `key` is band + bucket (lsh.shuffle_keys), `gid` the global
document number, `aux` the document's text hash in LSH and exact bands (its URL hash in the
URL band).  Sorted by (key, aux, gid), a bucket is a run of equal keys:

* exact / URL band: each run of equal aux is a group of copies; emitted as a star from
  its smallest gid (the group's canonical member) to each other member;
* LSH band: copies of one text are one member (their canonical), since exact groups are
  complete in every bucket (equal texts have equal signatures); all pairs of members up to
  `max_bucket` members, beyond that each member with the next `max_bucket - 1` (linear in
  the bucket, so a million near-identical pages cannot blow up the pair count).

Pairs where both sides come from a persisted index (gid ≥ INDEX_GID) are dropped: they
were decided in an earlier run.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from numba import njit

from pipeline.core.atomic import write_parquet
from pipeline.dedup.plan import BAND_SCHEMA, IDENT_SCHEMA, PAIR_SCHEMA, Plan, done_stats, finish, read_tables
from pipeline.dedup.store import INDEX_GID, split_gid


@njit(cache=True)
def _members(keys, aux, lo, hi, out):
    """Canonical gid positions of each distinct aux value in rows [lo, hi); returns count."""
    m = 0
    for i in range(lo, hi):
        if i == lo or aux[i] != aux[i - 1]:
            out[m] = i
            m += 1
    return m


@njit(cache=True)
def _scan(keys, gids, aux, identity_band_from, max_bucket, index_gid, emit, pa, pb, ga, gb, gk):
    """Count (emit=False) or write (emit=True) pairs and identity edges; returns both counts."""
    n = keys.shape[0]
    shift = np.uint64(64 - 11)
    np_, ng = 0, 0
    pos = np.empty(n, np.int64)
    lo = 0
    while lo < n:
        hi = lo + 1
        while hi < n and keys[hi] == keys[lo]:
            hi += 1
        band = np.int64(keys[lo] >> shift)
        if band >= identity_band_from:
            i = lo
            while i < hi:
                j = i + 1
                while j < hi and aux[j] == aux[i]:
                    if emit:
                        ga[ng] = gids[i]
                        gb[ng] = gids[j]
                        gk[ng] = band
                    ng += 1
                    j += 1
                i = j
        elif hi - lo > 1:
            m = _members(keys, aux, lo, hi, pos)
            width = m if m <= max_bucket else max_bucket
            for x in range(m):
                for y in range(x + 1, min(m, x + width)):
                    a = gids[pos[x]]
                    b = gids[pos[y]]
                    if a >= index_gid and b >= index_gid:
                        continue
                    if emit:
                        pa[np_] = min(a, b)
                        pb[np_] = max(a, b)
                    np_ += 1
        lo = hi
    return np_, ng


def scan_buckets(
    keys: np.ndarray, gids: np.ndarray, aux: np.ndarray, identity_band_from: int, max_bucket: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(pair a, pair b, identity canonical, identity member, identity band) for one shard."""
    order = np.lexsort((gids, aux, keys))
    keys, gids, aux = keys[order], gids[order], aux[order]
    z64 = np.empty(0, np.uint64)
    z = np.empty(0, np.int64)
    n_pairs, n_ident = _scan(
        keys, gids, aux, identity_band_from, max_bucket, INDEX_GID, False, z64, z64, z64, z64, z
    )
    pa, pb = np.empty(n_pairs, np.uint64), np.empty(n_pairs, np.uint64)
    ga, gb, gk = np.empty(n_ident, np.uint64), np.empty(n_ident, np.uint64), np.empty(n_ident, np.int64)
    _scan(keys, gids, aux, identity_band_from, max_bucket, INDEX_GID, True, pa, pb, ga, gb, gk)
    return pa, pb, ga, gb, gk


def pairs_path(plan: Plan, shard: int) -> Path:
    return plan.root / "pairs" / f"{shard:05d}.arrow"


def bucket_task(s: int, plan: Plan) -> dict:
    """Round 2 (per shard): this shard's rows of every partition's band file (and of the index's
    segments) → groups/SHARD.parquet and pairs/SHARD.arrow.

    Pairs are grouped by the partition of their smaller gid (this run's side whenever there
    is one), whose verify task then takes its range from every shard's file.
    """
    from pipeline.dedup.lsh import EXACT_BAND
    from pipeline.dedup.scatter import bands_path
    from pipeline.dedup.shuffle_file import read_groups, write_grouped

    marker = plan.root / "bucket" / f"{s:05d}"
    if (stats := done_stats(marker)) is not None:
        return stats
    t0 = time.perf_counter()
    rows = read_groups([bands_path(plan, name) for name in plan.names], s, BAND_SCHEMA)
    if (idx := plan.index) is not None:
        indexed = [p for g in idx.segments if (p := idx.bands_path(s, g)).exists()]
        rows = pa.concat_tables([rows, read_tables(indexed, BAND_SCHEMA)]).combine_chunks()
    key, gid, aux = (rows.column(c).to_numpy() for c in ("key", "gid", "aux"))
    pa_, pb, ga, gb, gk = scan_buckets(key, gid, aux, EXACT_BAND, plan.cfg.max_bucket)
    write_parquet(plan.root / "groups" / f"{s:05d}.parquet", pa.table([ga, gb, gk], schema=IDENT_SCHEMA))
    pairs = pa.table([pa_, pb], schema=PAIR_SCHEMA)
    write_grouped(pairs_path(plan, s), pairs, split_gid(pa_)[1], len(plan.names))
    stats = {
        "band_rows": len(key),
        "pairs": len(pa_),
        "identity": len(ga),
        "seconds": time.perf_counter() - t0,
    }
    return finish(marker, stats)
