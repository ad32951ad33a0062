"""Round 1 (per partition): every document's shuffle rows, in one file grouped by shard.

A document emits one row for its text hash (exact dedup), one for its normalised URL (URL
dedup, optional) and one per LSH band; rows are (key, gid, aux) with aux = the text hash
(the URL hash in the URL band), so a bucket can fold exact copies into one member.
Documents without a single shingle have no bands (exact dedup still applies to them).
Bytes per document in the shuffle: 24 × (bands + 1), uncompressed (shuffle_file.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa

from pipeline.core.atomic import write_parquet
from pipeline.dedup.plan import BAND_SCHEMA, Plan, done_stats, finish


def band_rows(table: pa.Table, gids: np.ndarray, plan: Plan) -> tuple[np.ndarray, ...]:
    """(key, gid, aux, band hash) of every shuffle row of these documents."""
    from pipeline.dedup.exact import text_key, url_key
    from pipeline.dedup.lsh import EXACT_BAND, URL_BAND, band_hashes, shuffle_keys
    from pipeline.dedup.minhash import EMPTY
    from pipeline.dedup.store import signature_matrix

    cfg = plan.cfg
    n = len(gids)
    thash = np.fromiter((text_key(h) for h in table.column("text_hash").to_pylist()), np.uint64, n)
    aux_text = thash if cfg.exact else gids  # without exact dedup copies stay separate members
    keys, gs, aux, hashes = [], [], [], []
    if cfg.exact:
        keys.append(shuffle_keys(thash, EXACT_BAND))
        gs.append(gids)
        aux.append(thash)
        hashes.append(thash)
    if cfg.url and "url" in table.column_names:
        urls = table.column("url").to_pylist()
        has = np.array([bool(u) for u in urls], bool)
        uh = np.fromiter((url_key(u) for u in urls if u), np.uint64, int(has.sum()))
        keys.append(shuffle_keys(uh, URL_BAND))
        gs.append(gids[has])
        aux.append(uh)
        hashes.append(uh)
    if cfg.near and "minhash" in table.column_names:
        sigs = signature_matrix(table.column("minhash"))
        live = ~(sigs == EMPTY).all(axis=1)
        bh = band_hashes(sigs[live], plan.bands, plan.rows)
        band_no = np.broadcast_to(np.arange(plan.bands, dtype=np.uint64), bh.shape)
        keys.append(shuffle_keys(bh.ravel(), band_no.ravel()))
        gs.append(np.repeat(gids[live], plan.bands))
        aux.append(np.repeat(aux_text[live], plan.bands))
        hashes.append(bh.ravel())
    if not keys:
        e = np.empty(0, np.uint64)
        return e, e, e, e
    return tuple(np.concatenate(x) for x in (keys, gs, aux, hashes))


def write_sharded(
    key: np.ndarray,
    gid: np.ndarray,
    aux: np.ndarray,
    hashes: np.ndarray,
    shards: int,
    path_of: Callable[[int], Path],
) -> None:
    """One Parquet file per non-empty shard: the persisted index's layout (index.py)."""
    from pipeline.dedup.lsh import shard_of
    from pipeline.dedup.shuffle_file import group_rows

    order, bounds = group_rows(shard_of(hashes, shards), shards)
    key, gid, aux = key[order], gid[order], aux[order]
    for s in range(shards):
        lo, hi = bounds[s], bounds[s + 1]
        if hi > lo:
            write_parquet(path_of(s), pa.table([key[lo:hi], gid[lo:hi], aux[lo:hi]], schema=BAND_SCHEMA))


def bands_path(plan: Plan, part_name: str) -> Path:
    return plan.root / "bands" / f"{part_name}.arrow"


def scatter_marker(plan: Plan, p: int) -> Path:
    return plan.root / "scatter" / plan.names[p]


def scatter_task(p: int, plan: Plan) -> dict:
    from pipeline.core.atomic import read_arrow
    from pipeline.dedup.lsh import shard_of
    from pipeline.dedup.shuffle_file import write_grouped
    from pipeline.dedup.store import make_gids

    name = plan.names[p]
    marker = scatter_marker(plan, p)
    if (stats := done_stats(marker)) is not None:
        return stats
    t0 = time.perf_counter()
    table = read_arrow(plan.paths[p])
    key, gid, aux, hashes = band_rows(table, make_gids(p, table.num_rows), plan)
    rows = pa.table([key, gid, aux], schema=BAND_SCHEMA)
    write_grouped(bands_path(plan, name), rows, shard_of(hashes, plan.shards), plan.shards)
    return finish(
        marker, {"docs": table.num_rows, "band_rows": len(key), "seconds": time.perf_counter() - t0}
    )
