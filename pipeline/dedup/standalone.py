"""Deduplicate JSONL(.gz) / Parquet / Arrow files of documents outside a pipeline run.

Inputs are cut into chunks of about `chunk_bytes` of text (a chunk never spans two files);
each chunk is one partition of the same job the pipeline runs (keys and scatter →
job.find_duplicates → write), so one file gets the same decisions as a pipeline run would, in parallel on Dask
workers when a client is given.  Everything below OUTPUT/_work is resume state: a killed
run started again with the same inputs and settings finishes with identical outputs.

    OUTPUT/data/shard-CCCCC.arrow   kept documents (+ cluster_size), one shard per chunk
    OUTPUT/ledger/part-CCCCC.parquet one row per input document (+ cluster_size on kept rows)
    OUTPUT/kept_ids.txt             kept ids, input order
    OUTPUT/summary.json             counts, LSH shape, clusters, config (no timings: reruns match)
    OUTPUT/report/                  report.md, s_curve.png, cluster_sizes.png, timings.json
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson
import pyarrow.parquet as pq

from pipeline.config import DedupConfig
from pipeline.core.atomic import (
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
from pipeline.dedup.plan import Plan
from pipeline.records import ledger

CHUNK_BYTES = 4 << 20
OPTIONAL_COLUMNS = ("url", "quality_score")


JSONL = (".jsonl", ".jsonl.gz", ".json", ".json.gz")
FORMATS = (*JSONL, ".parquet", ".arrow", ".feather")


def check_input(path: Path) -> None:
    """Fail before any work on a missing file or an unknown format."""
    if not path.name.endswith(FORMATS):
        raise ValueError(f"--input {path}: unsupported format (use .jsonl[.gz], .parquet or .arrow)")
    if not path.is_file():
        raise FileNotFoundError(f"--input {path}: no such file")


def read_documents(path: Path, id_field: str, text_field: str) -> pa.Table:
    """id (string), text (string) and, when present, url and quality_score."""
    check_input(path)
    if path.name.endswith(JSONL):
        table = _read_jsonl(path)
    elif path.name.endswith(".parquet"):
        table = pq.read_table(path)
    else:
        table = read_arrow(path)
    for f in (id_field, text_field):
        if f not in table.column_names:
            raise ValueError(f"--input {path}: no column {f!r} (columns: {table.column_names})")
    cols = {"id": table[id_field].cast(pa.string()), "text": table[text_field].cast(pa.string())}
    for c in OPTIONAL_COLUMNS:
        if c in table.column_names and c not in (id_field, text_field):
            cols[c] = table[c].cast(pa.string() if c == "url" else pa.float64())
    return pa.table(cols)


def _read_jsonl(path: Path) -> pa.Table:
    try:
        return pajson.read_json(path, read_options=pajson.ReadOptions(block_size=64 << 20))
    except pa.ArrowInvalid:  # a record longer than a block, or mixed types: parse in Python
        import gzip

        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as fh:
            return pa.Table.from_pylist([json.loads(line) for line in fh if line.strip()])


def chunk_bounds(text: pa.ChunkedArray, chunk_bytes: int) -> list[tuple[int, int]]:
    """Row ranges of about `chunk_bytes` of text each (a new chunk starts after each multiple)."""
    sizes = pc.fill_null(pc.binary_length(text), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    crossed = np.flatnonzero(np.diff(np.cumsum(sizes) // chunk_bytes) > 0) + 1
    cuts = [0, *(int(c) for c in crossed), len(sizes)]
    return [(lo, hi) for lo, hi in zip(cuts[:-1], cuts[1:], strict=True) if hi > lo] or [(0, 0)]


def _keys_task(item: tuple[int, str], work: Path, cfg: DedupConfig, plan: Plan) -> None:
    """Stage 1 for one chunk: its documents plus dedup keys, as an Arrow file; then the job's
    first round (scatter) for it while its rows are in memory: one round trip less."""
    from pipeline.dedup.keys import add_dedup_keys
    from pipeline.dedup.scatter import scatter_task

    p, name = item
    path = work / "stage1" / f"{name}.arrow"
    if not is_done(path):
        write_arrow(path, add_dedup_keys(read_arrow(_chunk_path(work, name)), cfg))
        mark_done(path)
    scatter_task(p, plan)


def _chunk_path(work: Path, name: str) -> Path:
    return work / "input" / f"{name}.arrow"


def _write_chunk(work: Path, name: str, table: pa.Table) -> None:
    """The chunk's rows as an Arrow file a task memory-maps: cheaper than shipping them through
    the scheduler (a pickled slice would even carry its parent's whole buffers)."""
    path = _chunk_path(work, name)
    if not is_done(path):
        write_arrow(path, table)
        mark_done(path)


def _write_task(item: tuple[int, str], work: Path, out: Path, source: list[str], cfg: DedupConfig) -> dict:
    """Stage 3 for one chunk: kept documents (lines stripped when on) and its ledger."""
    from pipeline.dedup.decisions import read_cluster_sizes, read_decisions
    from pipeline.dedup.keys import KEY_COLUMNS
    from pipeline.dedup.lines import load_frequent, strip_table

    k, name = item
    ledger_path = out / "ledger" / f"part-{k:05d}.parquet"
    result_path = work / "written" / f"{name}.json"
    if is_done(ledger_path):
        return json.loads(result_path.read_text())
    table = read_arrow(work / "stage1" / f"{name}.arrow")
    dups = read_decisions(work, name)
    sizes = read_cluster_sizes(work, name)
    ids = table.column("id").to_pylist()
    is_dup = np.array([i in dups for i in ids], bool)
    kept = table.filter(pa.array(~is_dup)).drop_columns([c for c in KEY_COLUMNS if c in table.column_names])
    kept_ids = kept.column("id").to_pylist()
    kept = kept.append_column("cluster_size", pa.array([sizes.get(i, 1) for i in kept_ids], pa.int64()))
    stripped = np.zeros(kept.num_rows, np.int64)
    if cfg.lines.enabled:
        kept, stripped, _ = strip_table(kept, load_frequent(work), cfg.lines)
    write_arrow(out / "data" / f"shard-{k:05d}.arrow", kept)
    dup_ids = [i for i in ids if i in dups]
    text_bytes = pc.binary_length(table.column("text")).to_pylist()
    nbytes = dict(zip(ids, text_bytes, strict=True))
    rows = ledger.concat(
        [
            ledger.rows(
                kept_ids,
                [source[k]] * len(kept_ids),
                "output",
                "kept",
                nbytes=[nbytes[i] or 0 for i in kept_ids],
            ),
            ledger.rows(
                dup_ids,
                [source[k]] * len(dup_ids),
                "dedup",
                "duplicate",
                reasons=[dups[i][1] for i in dup_ids],
                duplicate_of=[dups[i][0] for i in dup_ids],
                nbytes=[nbytes[i] or 0 for i in dup_ids],
            ),
        ]
    )
    # cluster_size (documents a kept row stands for; null on duplicates) for later up-sampling
    size_col = pa.array([sizes.get(i, 1) for i in kept_ids] + [None] * len(dup_ids), pa.int64())
    rows = rows.append_column("cluster_size", size_col)
    result = {"kept_ids": kept_ids, "documents": len(ids), "lines_stripped": int(stripped.sum())}
    write_json(result_path, result)
    write_parquet(ledger_path, rows)
    mark_done(ledger_path)
    return result


def _fingerprint(
    inputs: list[Path], id_field: str, text_field: str, cfg: DedupConfig, chunk_bytes: int
) -> str:
    stamps = input_stamps([str(p.resolve()) for p in inputs])
    blob = json.dumps(
        [stamps, id_field, text_field, cfg.model_dump(mode="json"), chunk_bytes, __version__], sort_keys=True
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
    chunk_bytes: int = CHUNK_BYTES,
    overwrite: bool = False,
) -> dict:
    """Deduplicate `inputs` together into `out`; returns the summary (also summary.json).

    `out` must be a new or empty folder, or an earlier run of this command (see
    `pipeline.core.ownership`; `overwrite` replaces an earlier run with other inputs or config).
    """
    for path in inputs:
        check_input(path)
    fingerprint = _fingerprint(inputs, id_field, text_field, cfg, chunk_bytes)
    with claim_output(out, "pipeline dedup", fingerprint, WRITES, [str(p) for p in inputs], overwrite):
        return _dedup(inputs, out, id_field, text_field, cfg, client, index, chunk_bytes)


def _dedup(
    inputs: list[Path],
    out: Path,
    id_field: str,
    text_field: str,
    cfg: DedupConfig,
    client: object,
    index: Path | None,
    chunk_bytes: int,
) -> dict:
    from pipeline.core.executor import map_tasks
    from pipeline.dedup.job import find_duplicates
    from pipeline.dedup.plan import make_plan
    from pipeline.dedup.report import write_report

    seconds: dict[str, float] = {}
    t = time.perf_counter()
    work = out / "_work"
    work.mkdir(parents=True, exist_ok=True)
    names: list[str] = []
    source: list[str] = []
    id_columns: list[pa.ChunkedArray] = []
    for path in inputs:
        table = read_documents(path, id_field, text_field)
        id_columns.append(table.column("id"))
        for lo, hi in chunk_bounds(table.column("text"), chunk_bytes):
            names.append(f"chunk-{len(names):05d}")
            source.append(path.name)
            _write_chunk(work, names[-1], table.slice(lo, hi - lo))
        del table  # its chunks are on disk: hold one input's text at a time
    ids = pc.count_distinct(pa.chunked_array([c for col in id_columns for c in col.chunks])).as_py()
    documents = sum(len(col) for col in id_columns)
    del id_columns
    if ids != documents:
        raise ValueError(f"--id-field {id_field!r}: {documents - ids} ids are not unique across the inputs")

    key_files = [(name, work / "stage1" / f"{name}.arrow") for name in names]
    plan = make_plan(key_files, work, cfg, index, docs=documents)
    seconds["read"] = time.perf_counter() - t

    t = time.perf_counter()
    map_tasks(client, _keys_task, list(enumerate(names)), "dedup keys", work=work, cfg=cfg, plan=plan)
    seconds["keys"] = time.perf_counter() - t
    stats = find_duplicates(key_files, work, cfg, client, index=index)
    seconds.update(stats["round_seconds"])

    t = time.perf_counter()
    items = [(k, name) for k, (name, _) in enumerate(key_files)]
    written = map_tasks(client, _write_task, items, "dedup write", work=work, out=out, source=source, cfg=cfg)
    kept_ids = [i for w in written for i in w["kept_ids"]]
    ledger.check_balanced(ledger.read(out / "ledger"), documents)
    write_bytes(out / "kept_ids.txt", "".join(f"{i}\n" for i in kept_ids).encode())
    summary = {
        "input": [str(p) for p in inputs],
        "documents": documents,
        "kept": len(kept_ids),
        "duplicates_exact": stats["removed"]["exact"],
        "duplicates_near": stats["removed"]["near"],
        "duplicates_url": stats["removed"]["url"],
        **{k: v for k, v in stats.items() if k not in ("removed", "round_seconds", "documents")},
        "lines_stripped": sum(w["lines_stripped"] for w in written),
        "index": str(index) if index else None,
        "config": cfg.model_dump(mode="json"),
    }
    write_json(out / "summary.json", summary)
    seconds["write"] = time.perf_counter() - t
    write_report(out / "report", summary, seconds)
    return summary
