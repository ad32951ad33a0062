"""Deduplicate JSONL(.gz) / Parquet / Arrow files of documents outside a pipeline run, out of core.

Inputs are cut into partitions of at most `partition_bytes` (inputs.py: byte ranges, row
groups, record batches; streamed pieces where a file cannot be split), and every stage is a
round of per-partition or per-shard tasks, so no process holds more than about one
partition of documents, whatever the input size:

    cut     (per unsplittable input)  streamed into Arrow pieces          _work/input/
    keys    (per partition)  read it, dedup keys → stage1/PART.arrow, then the job's scatter
                             (job.py) and id hashes → ids/PART.arrow
    ids     (per shard)      ids repeated across the inputs (a count; the job stops on any)
    the dedup job            bucket → verify → cluster (+ lines, index): job.find_duplicates
    write   (per partition)  kept documents, ledger rows in input order, kept ids

The driver holds per-partition facts only; clustering runs on it over the verified edges
(cluster.py gives its memory).  Everything below OUTPUT/_work is resume state: a killed
run started again with the same inputs and settings finishes with identical outputs.
Which documents are kept does not depend on the partitioning.

    OUTPUT/data/shard-PPPPP.arrow    kept documents (+ cluster_size), one shard per partition
    OUTPUT/ledger/part-PPPPP.parquet one row per input document, input order (+ cluster_size on kept)
    OUTPUT/kept_ids.txt              kept ids, input order
    OUTPUT/summary.json              counts, LSH shape, clusters, config (no timings: reruns match)
    OUTPUT/report/                   report.md, s_curve.png, cluster_sizes.png, timings.json
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import DedupConfig
from pipeline.core.atomic import (
    atomic_sink,
    is_done,
    mark_done,
    read_arrow,
    write_arrow,
    write_bytes,
    write_json,
    write_parquet,
)
from pipeline.core.ownership import claim_output, input_stamps
from pipeline.core.version import __version__
from pipeline.dedup.inputs import OPTIONAL_COLUMNS, Columns, Cut, Part, check_input
from pipeline.dedup.plan import Plan, done_stats, finish

PARTITION_BYTES = (
    8 << 20
)  # a worker peaks at ~50x its partition (keys, write): ~0.4 GB, the same at any input size
MIN_PARTITION_BYTES = 4 << 20
SPREAD = 64  # partitions a mid-sized input is cut into, so the workers share the work evenly
ID_SCHEMA = pa.schema([("h1", pa.uint64()), ("h2", pa.uint64())])


def partition_target(input_bytes: int, partition_bytes: int) -> int:
    """Bytes per partition: at most `partition_bytes` (a write task holds about one partition; a
    reading task one batch of it), and for a smaller input about SPREAD partitions of at least
    MIN_PARTITION_BYTES."""
    return min(partition_bytes, max(MIN_PARTITION_BYTES, -(-input_bytes // SPREAD)))


def _keys_task(item: tuple[int, Part], plan: Plan, cols: Columns) -> dict:
    """One partition, batch by batch: its documents plus dedup keys appended to one Arrow file;
    then the job's first round (scatter) and its id hashes while that file is in the page cache."""
    from pipeline.dedup.scatter import scatter_task
    from pipeline.dedup.shuffle_file import write_grouped

    k, part = item
    work, name = plan.root.parent, plan.names[k]
    marker = work / "keys" / name
    if (stats := done_stats(marker)) is not None:
        return stats
    stage1, seen_path = plan.paths[k], work / "keys" / f"{name}.columns.json"
    if not is_done(stage1):
        write_json(seen_path, _write_stage1(part, cols, plan.cfg, stage1))
        mark_done(stage1)
        if Path(part.path).parent == work / "input":  # a piece of a cut input: stage 1 holds its rows now
            Path(part.path).unlink(missing_ok=True)
    scatter_task(k, plan)
    ids = read_arrow(stage1).column("id")
    h = _id_hashes(ids)
    table = pa.table([h[:, 0], h[:, 1]], schema=ID_SCHEMA)
    consumer = (h[:, 0] % np.uint64(plan.shards)).astype(np.int64)
    write_grouped(_ids_path(plan, name), table, consumer, plan.shards)
    stats = {"docs": len(ids), "null_ids": ids.null_count, "columns": json.loads(seen_path.read_text())}
    return finish(marker, stats)


def _write_stage1(part: Part, cols: Columns, cfg: DedupConfig, path: Path) -> list[str]:
    """Stream the partition into `path` with its keys; returns the optional columns it has."""
    from pipeline.dedup import keys
    from pipeline.dedup.inputs import EMPTY, full, read_batches

    seen: set[str] = set()
    with atomic_sink(path) as sink:
        writer = None
        for table in read_batches(part, cols):
            seen.update(table.column_names)
            keyed = keys.add_dedup_keys(full(table), cfg)
            writer = writer or pa.ipc.new_file(sink, keyed.schema)
            writer.write_table(keyed)
        if writer is None:  # no rows: the file still has the schema
            keyed = keys.add_dedup_keys(full(EMPTY.empty_table()), cfg)
            writer = pa.ipc.new_file(sink, keyed.schema)
            writer.write_table(keyed)
        writer.close()
    return [c for c in OPTIONAL_COLUMNS if c in seen]


def _id_hashes(ids: pa.ChunkedArray) -> np.ndarray:
    """(rows, 2) uint64: xxh3-128 of each id (128 bits: no two of 10^12 ids collide in practice)."""
    import xxhash

    digest = b"".join(
        xxhash.xxh3_128_digest((i or "").encode("utf-8", "surrogatepass")) for i in ids.to_pylist()
    )
    return np.frombuffer(digest, np.uint64).reshape(-1, 2) if digest else np.empty((0, 2), np.uint64)


def _ids_path(plan: Plan, name: str) -> Path:
    return plan.root.parent / "ids" / f"{name}.arrow"


def _ids_task(s: int, plan: Plan) -> int:
    """Ids of this shard seen more than once, over every partition's id hashes."""
    from pipeline.dedup.shuffle_file import read_groups

    rows = read_groups([_ids_path(plan, n) for n in plan.names], s, ID_SCHEMA)
    h1, h2 = rows.column("h1").to_numpy(), rows.column("h2").to_numpy()
    order = np.lexsort((h2, h1))
    h1, h2 = h1[order], h2[order]
    return int(((h1[1:] == h1[:-1]) & (h2[1:] == h2[:-1])).sum())


def _kept_path(work: Path, name: str) -> Path:
    return work / "kept" / f"{name}.txt"


def _write_task(item: tuple[int, str, tuple[str, ...]], plan: Plan, out: Path) -> dict:
    """One partition's outputs: kept documents (lines stripped when on), ledger rows in input
    order, kept ids."""
    from pipeline.dedup.decisions import read_decision_table
    from pipeline.records import ledger

    k, source, columns = item
    work, name, cfg = plan.root.parent, plan.names[k], plan.cfg
    ledger_path = out / "ledger" / f"part-{k:05d}.parquet"
    result_path = work / "written" / f"{name}.json"
    if is_done(ledger_path):
        return json.loads(result_path.read_text())
    table = read_arrow(plan.paths[k])
    decided = read_decision_table(work, name)
    at = pc.index_in(table["id"], value_set=decided["id"].combine_chunks())  # null: no decision row
    duplicate_of = decided["duplicate_of"].take(at)
    is_dup = pc.is_valid(duplicate_of)
    is_kept = pc.invert(is_dup)
    size = pc.fill_null(decided["cluster_size"].take(at), 1)

    # stage 1 has every optional column; the shards keep those their input has (`columns`)
    docs = table.select(["id", "text", *(c for c in OPTIONAL_COLUMNS if c in columns)])
    kept = docs.filter(is_kept).append_column("cluster_size", size.filter(is_kept))
    stripped = np.zeros(kept.num_rows, np.int64)
    if cfg.lines.enabled:
        from pipeline.dedup.lines import load_frequent, strip_table

        kept, stripped, _ = strip_table(kept, load_frequent(work), cfg.lines)
    write_arrow(out / "data" / f"shard-{k:05d}.arrow", kept)
    kept_ids = kept.column("id").to_pylist()
    write_bytes(_kept_path(work, name), "".join(f"{i}\n" for i in kept_ids).encode())

    n = table.num_rows
    rows = pa.table(
        {
            "id": table["id"],
            "source": pa.array([source] * n, pa.string()),
            "stage": pc.if_else(is_dup, "dedup", "output"),
            "decision": pc.if_else(is_dup, "duplicate", "kept"),
            "reason": decided["reason"].take(at),
            "duplicate_of": duplicate_of,
            "bytes": pc.fill_null(pc.binary_length(table["text"]), 0).cast(pa.int64()),
        },
        schema=ledger.LEDGER_SCHEMA,
    )
    ledger.check_balanced(rows, n)  # distinct ids within; across partitions: the ids round
    # cluster_size (documents a kept row stands for; null on duplicates) for later up-sampling
    rows = rows.append_column("cluster_size", pc.if_else(is_dup, pa.scalar(None, pa.int64()), size))
    result = {"documents": n, "kept": len(kept_ids), "lines_stripped": int(stripped.sum())}
    write_json(result_path, result)
    write_parquet(ledger_path, rows)
    mark_done(ledger_path)
    return result


def _fingerprint(
    inputs: list[Path], id_field: str, text_field: str, cfg: DedupConfig, partition_bytes: int
) -> str:
    stamps = input_stamps([str(p.resolve()) for p in inputs])
    blob = json.dumps(
        [stamps, id_field, text_field, cfg.model_dump(mode="json"), partition_bytes, __version__],
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


# What `pipeline dedup` writes inside its output folder.
WRITES = ("data", "ledger", "kept_ids.txt", "summary.json", "report", "_work")


def dedup_files(
    inputs: list[Path],
    out: Path,
    id_field: str,
    text_field: str,
    cfg: DedupConfig,
    client: object = None,
    index: Path | None = None,
    partition_bytes: int = PARTITION_BYTES,
    overwrite: bool = False,
) -> dict:
    """Deduplicate `inputs` together into `out`; returns the summary (also summary.json).

    `out` must be a new or empty folder, or an earlier run of this command (see
    `pipeline.core.ownership`; `overwrite` replaces an earlier run with other inputs or config).
    """
    if partition_bytes <= 0:
        raise ValueError(f"--partition-bytes must be positive, got {partition_bytes}")
    for path in inputs:
        check_input(path)
    fingerprint = _fingerprint(inputs, id_field, text_field, cfg, partition_bytes)
    with claim_output(out, "pipeline dedup", fingerprint, WRITES, [str(p) for p in inputs], overwrite):
        return _dedup(inputs, out, Columns(id_field, text_field), cfg, client, index, partition_bytes)


def _dedup(
    inputs: list[Path],
    out: Path,
    cols: Columns,
    cfg: DedupConfig,
    client: object,
    index: Path | None,
    partition_bytes: int,
) -> dict:
    from pipeline.core.executor import map_tasks
    from pipeline.dedup.inputs import cut_task, estimate_rows, expand, plan_inputs
    from pipeline.dedup.job import find_duplicates
    from pipeline.dedup.plan import make_plan
    from pipeline.dedup.report import write_report

    seconds: dict[str, float] = {}
    t = time.perf_counter()
    work = out / "_work"
    work.mkdir(parents=True, exist_ok=True)
    target = partition_target(sum(p.stat().st_size for p in inputs), partition_bytes)
    items = plan_inputs(inputs, target, cols)
    cuts = [(k, item) for k, item in enumerate(items) if isinstance(item, Cut)]
    cut = map_tasks(client, cut_task, cuts, "dedup cut", work=work, target=target, cols=cols)
    parts = expand(items, {k: c["rows"] for (k, _), c in zip(cuts, cut, strict=True)}, work)
    names = [f"part-{k:05d}" for k in range(len(parts))]
    key_files = [(name, work / "stage1" / f"{name}.arrow") for name in names]
    plan = make_plan(key_files, work, cfg, index, docs=estimate_rows(parts))
    seconds["read"] = time.perf_counter() - t

    t = time.perf_counter()
    keys = map_tasks(client, _keys_task, list(enumerate(parts)), "dedup keys", plan=plan, cols=cols)
    seconds["keys"] = time.perf_counter() - t
    t = time.perf_counter()
    repeated = sum(map_tasks(client, _ids_task, list(range(plan.shards)), "dedup ids", plan=plan))
    repeated += sum(k["null_ids"] for k in keys)
    if repeated:
        raise ValueError(f"--id-field {cols.id!r}: {repeated} ids are not unique across the inputs")
    seconds["ids"] = time.perf_counter() - t
    documents = sum(k["docs"] for k in keys)
    stats = find_duplicates(key_files, work, cfg, client, index=index)
    seconds.update(stats["round_seconds"])

    t = time.perf_counter()
    columns: dict[int, set[str]] = {}
    for part, k in zip(parts, keys, strict=True):
        columns.setdefault(part.input, set()).update(k["columns"])
    items_w = [(k, p.source, tuple(sorted(columns[p.input]))) for k, p in enumerate(parts)]
    written = map_tasks(client, _write_task, items_w, "dedup write", plan=plan, out=out)
    if sum(w["documents"] for w in written) != documents:
        from pipeline.records.ledger import LedgerImbalance

        raise LedgerImbalance(f"ledger has {sum(w['documents'] for w in written)} rows, {documents} read")
    with atomic_sink(out / "kept_ids.txt") as dst:
        for name in names:  # one partition at a time: the driver never holds the kept ids
            with open(_kept_path(work, name), "rb") as src:
                while block := src.read(1 << 20):
                    dst.write(block)
    summary = {
        "input": [str(p) for p in inputs],
        "documents": documents,
        "kept": sum(w["kept"] for w in written),
        "duplicates_exact": stats["removed"]["exact"],
        "duplicates_near": stats["removed"]["near"],
        "duplicates_url": stats["removed"]["url"],
        **{k: v for k, v in stats.items() if k not in ("removed", "round_seconds", "documents")},
        "partitions": len(parts),
        "partition_bytes": target,
        "lines_stripped": sum(w["lines_stripped"] for w in written),
        "index": str(index) if index else None,
        "config": cfg.model_dump(mode="json"),
    }
    write_json(out / "summary.json", summary)
    seconds["write"] = time.perf_counter() - t
    write_report(out / "report", summary, seconds)
    return summary
