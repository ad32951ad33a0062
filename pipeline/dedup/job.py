"""The global dedup decision over every partition's survivors, as a few shuffle rounds of tasks.

Input: each partition's stage-1 Arrow file (id, text, text_hash, minhash; url and
quality_score when present).  Each round is a set of Dask tasks (or inline calls) with
`.done` markers, so a killed job resumes where it stopped:

    scatter  (per partition)  text-hash, URL and LSH band keys → bands/PART.arrow (rows by shard);
                              standalone dedup runs it in the keys task instead
    bucket   (per shard)      group by key: exact groups + candidate pairs → pairs/SHARD.arrow
                              (rows by partition; groups/SHARD.parquet)
    verify   (per partition)  its candidate pairs' similarity → edges/PART.parquet
    cluster  (driver)         edges only → one decision file per partition
    lines    (optional)       line-hash counts over kept documents → lines/frequent/SHARD.parquet
    index    (optional)       kept documents appended to a persisted band index

A task holds one shard of band rows or one partition's candidate pairs; signatures and
text are read by row from memory-mapped files, never gathered.  The driver holds only the
verified edges and the documents on them (cluster.py gives the bytes).

The cluster round writes one decision file per partition (decisions.py says what it holds).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import DedupConfig
from pipeline.core.atomic import write_parquet
from pipeline.dedup.decisions import DECISION_SCHEMA, decision_path
from pipeline.dedup.plan import EDGE_SCHEMA, IDENT_SCHEMA, Plan, done_stats, finish, make_plan, read_tables


def _ranks(gids: np.ndarray, store, keep: str) -> tuple[np.ndarray, np.ndarray, list]:
    """Priority of each document (0 = kept first): indexed, then quality_score, then the
    first in input order (`keep="first"`: gids follow partition and row order) or the
    longest text and smallest id (`keep="longest"`)."""
    from pipeline.dedup.store import split_gid

    is_index = split_gid(gids)[0]
    ids = store.column(gids, "id")
    cols = {
        "index": pa.array(is_index),
        "quality": pc.fill_null(pa.array(store.column(gids, "quality_score"), pa.float64()), -np.inf),
    }
    keys = [("index", "descending"), ("quality", "descending")]
    if keep == "longest":
        cols["length"] = pa.array(store.lengths(gids))
        cols["id"] = pa.array(ids, pa.string())
        keys += [("length", "descending"), ("id", "ascending")]
    else:
        cols["gid"] = pa.array(gids)
        keys += [("gid", "ascending")]
    order = pc.sort_indices(pa.table(cols), sort_keys=keys).to_numpy()
    rank = np.empty(len(gids), np.int64)
    rank[order] = np.arange(len(gids))
    return rank, is_index, ids


def _largest_first(plan: Plan, parts: list[int]) -> list[int]:
    """Partitions by their candidate pairs, most first: a pair belongs to the partition of its
    smaller gid, so the first partitions hold most pairs, and started last they would leave one
    worker finishing alone (Dask starts a round's tasks in the order given)."""
    from pipeline.dedup.buckets import pairs_path
    from pipeline.dedup.shuffle_file import group_sizes

    sizes = group_sizes([pairs_path(plan, s) for s in range(plan.shards)], len(parts))
    return [parts[i] for i in np.argsort(-sizes, kind="stable")]


def cluster_step(plan: Plan) -> dict:
    """Round 4 (driver): all exact groups and verified edges → the decision files."""
    from pipeline.dedup.cluster import NO_DOC, REASONS, cluster
    from pipeline.dedup.store import open_store, split_gid

    marker = plan.root / "cluster"
    if (stats := done_stats(marker)) is not None:
        return stats
    t0 = time.perf_counter()
    ident = read_tables(sorted((plan.root / "groups").glob("*.parquet")), IDENT_SCHEMA)
    edges = read_tables(sorted((plan.root / "edges").glob("*.parquet")), EDGE_SCHEMA)
    ia, ib, ik = (ident.column(c).to_numpy() for c in ("centre", "member", "band"))
    ea, eb, es = (edges.column(c).to_numpy() for c in ("a", "b", "similarity"))
    gids = np.unique(np.concatenate([ia, ib, ea, eb]))
    rank, is_index, ids = _ranks(gids, open_store(plan), plan.cfg.keep)
    c = cluster(gids, rank, is_index, (ia, ib, ik), (ea, eb, es))

    own = ~is_index
    _, part, row = split_gid(gids)
    dup = c.dup_of != NO_DOC
    has_row = own & (dup | (c.cluster_size > 1))
    for p, name in enumerate(plan.names):
        sel = np.flatnonzero(has_row & (part == p))
        sel = sel[np.argsort(row[sel], kind="stable")]
        d = dup[sel]
        table = pa.table(
            {
                "id": [ids[i] for i in sel],
                "duplicate_of": [ids[c.dup_of[i]] if c.dup_of[i] != NO_DOC else None for i in sel],
                "reason": [REASONS[c.reason[i]] if c.reason[i] else None for i in sel],
                "similarity": pa.array(c.similarity[sel].astype(np.float32), mask=~d),
                "cluster_size": pa.array(c.cluster_size[sel], mask=d),
            },
            schema=DECISION_SCHEMA,
        )
        write_parquet(decision_path(plan.root.parent, name), table)
    sizes = c.cluster_size[own & ~dup]
    hist = np.bincount(sizes) if len(sizes) else np.zeros(1, np.int64)
    stats = {
        "removed": {r: int(((c.reason == k) & own).sum()) for k, r in enumerate(REASONS) if k},
        "clusters": int((sizes > 1).sum()),
        "cluster_size_histogram": [[k, int(v)] for k, v in enumerate(hist) if k > 1 and v],
        "documents_with_edges": len(gids),
        "edges": len(ea),
        "seconds": time.perf_counter() - t0,
    }
    return finish(marker, stats)


def find_duplicates(
    key_files: Sequence[tuple[str, Path]],
    work: Path,
    cfg: DedupConfig,
    client: object = None,
    index: Path | None = None,
) -> dict:
    """Decide duplicates across all partitions; writes one decision file per partition.

    `key_files` is [(partition name, stage-1 Arrow path)] in partition order (this order
    numbers the documents).  `index`: a band-index directory to deduplicate against, to
    which this run's kept documents are appended.  Returns the statistics it also writes
    to dedup/decided.json.  Resumable: finished tasks are skipped; done when dedup/decided is.
    """
    from pipeline.core.executor import map_tasks
    from pipeline.dedup.buckets import bucket_task
    from pipeline.dedup.scatter import scatter_marker, scatter_task
    from pipeline.dedup.verify import verify_task

    marker = work / "dedup" / "decided"
    if (stats := done_stats(marker)) is not None:
        return stats
    plan = make_plan(key_files, work, cfg, index)
    parts, shards = list(range(len(plan.names))), list(range(plan.shards))
    seconds: dict[str, float] = {}

    def timed(label: str, fn, *args):
        t = time.perf_counter()
        out = fn(*args)
        seconds[label] = round(time.perf_counter() - t, 4)
        return out

    def rnd(fn, items):
        return map_tasks(client, fn, items, f"dedup {fn.__name__.removesuffix('_task')}", plan=plan)

    def scatter_round() -> list[dict]:
        # standalone runs scatter inside each keys task (standalone.py): no round trip then
        done = [done_stats(scatter_marker(plan, p)) for p in parts]
        return done if all(d is not None for d in done) else rnd(scatter_task, parts)

    scattered = timed("scatter", scatter_round)
    bucketed = timed("bucket", rnd, bucket_task, shards)
    verified = timed("verify", rnd, verify_task, _largest_first(plan, parts)) if cfg.near else []
    clustered = timed("cluster", cluster_step, plan)
    lines: dict = {}
    if cfg.lines.enabled:
        from pipeline.dedup.lines import count_lines

        lines = timed("lines", count_lines, plan, client)
    if index is not None:
        from pipeline.dedup.index_append import append_kept

        timed("index", append_kept, plan, client)
    docs = sum(s["docs"] for s in scattered)
    own_rows = sum(s["band_rows"] for s in scattered)
    stats = {
        "documents": docs,
        "bands": plan.bands,
        "rows": plan.rows,
        "shards": plan.shards,
        "index_segments_read": len(plan.index.segments) if plan.index else 0,
        "band_rows": own_rows,
        "band_index_bytes_per_document": round(own_rows * 24 / max(1, docs), 1),
        "candidate_pairs": sum(s["candidates"] for s in verified),
        "verified_pairs": sum(s["verified"] for s in verified),
        "bucket_pairs": sum(s["pairs"] for s in bucketed),
        **{k: v for k, v in clustered.items() if k != "seconds"},
        "lines": lines,
        "round_seconds": seconds,
    }
    return finish(marker, stats)
