"""Per-partition work, run on Dask workers: everything up to dedup, and the final write.

A partition is one input file of one source.  Stage 1 turns raw records into filtered
documents with dedup keys; stage 3 (after the global dedup decision) writes the kept
documents as shards and the partition's complete ledger.  Both are idempotent: a finished
partition (its `.done` marker exists) is skipped, so a killed job resumes where it stopped.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.config import PipelineConfig
from pipeline.core.atomic import (
    AnyPath,
    atomic_sink,
    is_done,
    mark_done,
    read_arrow,
    sha256_file,
    write_arrow,
    write_json,
    write_parquet,
)
from pipeline.io.collector import Collector
from pipeline.io.splits import WHOLE, Split
from pipeline.records import ledger
from pipeline.report.collect import kept_summary, merge_kept, partition_summary, summarise_files, summary_path
from pipeline.steps import StepResult

# Columns every output document has (the documents contract) come first, then whatever the
# steps added (scores, PII counts, ...) in name order; reader internals are not written out.
DOC_COLUMNS = [
    "id",
    "text",
    "source",
    "url",
    "lang",
    "lang_score",
    "script",
    "lang_shares",
    "charset",
    "content_type",
    "input",
    "offset",
    "digest",
]
INTERNAL_COLUMNS = {"payload", "is_html", "bytes"}


def output_columns(names: list[str]) -> list[str]:
    first = [c for c in DOC_COLUMNS if c in names]
    rest = sorted(c for c in names if c not in DOC_COLUMNS and c not in INTERNAL_COLUMNS)
    return first + rest


@dataclass(frozen=True)
class Partition:
    """One task's input: a whole file, or one split of a big splittable file.

    `root` is the folder ids name inputs relative to (the manifest's); `failure` is set when
    planning could not open the file at all: the partition then reads as one quarantined row.
    """

    index: int
    source: str
    path: str
    format: str
    text_field: str
    split: Split = WHOLE
    root: str = ""
    failure: str | None = None

    @property
    def name(self) -> str:
        return f"part-{self.index:05d}"


def stage1_paths(work: AnyPath, part: Partition) -> tuple[AnyPath, AnyPath, AnyPath]:
    stage1 = work / "stage1"
    return tuple(stage1 / f"{part.name}{ext}" for ext in (".arrow", ".ledger.parquet", ".stats.json"))


STEP_NAMES = ("decode", "extract", "clean", "boilerplate", "langid", "filter", "quality", "pii")


def _steps(cfg: PipelineConfig) -> list[tuple[str, Callable[[pa.Table], StepResult]]]:
    from pipeline.quality.step import quality_score
    from pipeline.steps.boilerplate import remove_boilerplate
    from pipeline.steps.clean import clean
    from pipeline.steps.decode import decode
    from pipeline.steps.extract import extract
    from pipeline.steps.filters import quality_filter
    from pipeline.steps.langid import identify
    from pipeline.steps.pii import mask_pii

    return [
        ("decode", decode),
        ("extract", lambda b: extract(b, cfg.extract)),
        ("clean", lambda b: clean(b, cfg.clean)),
        ("boilerplate", lambda b: remove_boilerplate(b, cfg.boilerplate)),
        ("langid", lambda b: identify(b, cfg.langid)),
        ("filter", lambda b: quality_filter(b, cfg.filters)),
        ("quality", lambda b: quality_score(b, cfg.quality)),
        # PII last: filters judge the real text, dedup hashes what is written.
        ("pii", lambda b: mask_pii(b, cfg.pii)),
    ]


def run_step_locally(name: str, step: Callable[[pa.Table], StepResult], batch: pa.Table) -> StepResult:
    """`step(batch)`; if it raises, each record alone, so only the records that raise are lost:
    each is one quarantined row (`step_error:<step>:<exception>`) and the rest go on."""
    try:
        return step(batch)
    except Exception:
        pass
    kept: list[pa.Table] = []
    dropped: list[pa.Table] = []
    bad: list[tuple[str, str, int, str]] = []
    for i in range(batch.num_rows):
        row = batch.slice(i, 1)
        try:
            result = step(row)
        except Exception as exc:
            rec = row.to_pylist()[0]
            bad.append(
                (rec["id"], rec["source"], rec.get("bytes") or 0, f"step_error:{name}:{type(exc).__name__}")
            )
            continue
        kept.append(result.kept)
        dropped.append(result.dropped)
    if bad:
        ids, sources, nbytes, reasons = (list(c) for c in zip(*bad, strict=True))
        dropped.append(ledger.rows(ids, sources, name, "quarantined", reasons, nbytes=nbytes))
    # Every record failed: the step over no records still gives its output columns.
    kept_table = (
        pa.concat_tables(kept, promote_options="permissive") if kept else step(batch.slice(0, 0)).kept
    )
    return StepResult(kept_table, ledger.concat(dropped))


class _Stage1Batches:
    """Runs the steps over each batch the reader hands over and appends the survivors (with
    dedup keys) to one Arrow IPC file, so a partition's memory is one batch, not the input."""

    def __init__(self, part: Partition, cfg: PipelineConfig, sink: pa.NativeFile) -> None:
        self.part, self.cfg, self.sink = part, cfg, sink
        self.steps = _steps(cfg)
        self.writer: pa.ipc.RecordBatchFileWriter | None = None
        self.schema: pa.Schema | None = None
        self.drops: list[pa.Table] = []
        self.rows_in = dict.fromkeys(STEP_NAMES, 0)
        self.bytes_in = dict.fromkeys(STEP_NAMES, 0)
        self.seconds: dict[str, float] = dict.fromkeys([*STEP_NAMES, "dedup_keys"], 0.0)
        self.survivors = 0

    def __call__(self, batch: pa.Table) -> None:
        from pipeline.dedup.keys import add_dedup_keys

        for name, step in self.steps:
            self.rows_in[name] += batch.num_rows
            self.bytes_in[name] += int(pc.sum(batch["bytes"]).as_py() or 0) if batch.num_rows else 0
            t = time.perf_counter()
            result = run_step_locally(name, step, batch)
            self.seconds[name] += time.perf_counter() - t
            batch = result.kept
            self.drops.append(result.dropped)
        t = time.perf_counter()
        batch = add_dedup_keys(batch.select(output_columns(batch.column_names)), self.cfg.dedup)
        self.seconds["dedup_keys"] += time.perf_counter() - t
        self._write(batch)
        _trim_heap()

    def _write(self, batch: pa.Table) -> None:
        if self.schema is None:
            self.schema = batch.schema
            self.writer = pa.ipc.new_file(self.sink, self.schema)
        elif not batch.num_rows:
            return
        else:
            batch = _conform(batch, self.schema, self.part.path)
        self.survivors += batch.num_rows
        self.writer.write_table(batch)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _trim_heap() -> None:
    """Hand the batch's freed heap pages back to the OS (glibc; elsewhere a no-op).

    A batch's large strings are freed into a heap that glibc's adaptive mmap threshold keeps
    growing, so without this a task's RSS creeps up with its input's size instead of staying at
    one batch (bench/results/2026-12-07-inflated-inputs.md).
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


_LIBC = _load_libc()


def _conform(batch: pa.Table, schema: pa.Schema, path: str) -> pa.Table:
    """A later batch in the first batch's schema (a step may type an all-null column differently)."""
    if batch.schema.equals(schema):
        return batch
    if set(batch.column_names) != set(schema.names):
        raise RuntimeError(f"{path}: steps gave columns {batch.column_names}, expected {schema.names}")
    return batch.select(schema.names).cast(schema)


def worker_facts() -> dict:
    """Which process ran a task, for the report's cluster facts (workers, hosts, cores)."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "cores": os.cpu_count() or 1}


def run_stage1(part: Partition, work: AnyPath, cfg: PipelineConfig) -> dict:
    """Read → decode → extract → clean → boilerplate → langid → filter → pii → dedup keys.

    The reader hands over records every `read.batch_bytes` of input, and each such batch goes
    through the steps before the next is read: whatever a file inflates to, a task holds one
    batch (plus one ledger row per record).
    """
    from pipeline.io.readers import read_partition

    docs_path, drops_path, stats_path = stage1_paths(work, part)
    if is_done(docs_path):
        return json.loads(stats_path.read_text())

    t0 = time.perf_counter()
    with atomic_sink(docs_path) as sink:
        batches = _Stage1Batches(part, cfg, sink)
        if part.failure is not None:  # planning could not open the file: one row names it
            out = Collector(part.source, part.path, part.root)
            out.quarantine(0, part.failure, "unreadable", 0)
            read = out.result()
        else:
            read = read_partition(
                part.path,
                part.source,
                part.format,
                text_field=part.text_field,
                split=part.split,
                max_record_bytes=cfg.read.max_record_bytes,
                mime_types=frozenset(cfg.read.mime_types) if cfg.read.mime_types is not None else None,
                root=part.root,
                batch_bytes=cfg.read.batch_bytes,
                on_batch=batches,
                max_inflated_bytes=cfg.read.max_inflated_bytes,
            )
        batches(read.batch)  # the rest (and, for an empty input, the schema of the file)
        batches.close()
    read_seconds = time.perf_counter() - t0 - sum(batches.seconds.values())

    stats = {
        "partition": part.name,
        "source": part.source,
        "input": part.path,
        "input_records": read.records,
        "input_bytes": batches.bytes_in["decode"],  # what the reader passed on
        "rows_in": batches.rows_in,
        "bytes_in": batches.bytes_in,
        "survivors": batches.survivors,
        "seconds": {k: round(v, 4) for k, v in {"read": read_seconds, **batches.seconds}.items()},
        "warnings": read.warnings,
        "worker": worker_facts(),
    }
    write_parquet(drops_path, ledger.concat([read.quarantined, *batches.drops]))
    write_json(stats_path, stats)
    mark_done(docs_path)
    return stats


def run_stage3(part: Partition, work: AnyPath, out: AnyPath, cfg: PipelineConfig) -> dict:
    """Drop duplicates (this partition's decision file), write its shards, its full ledger and
    that ledger's summary with the report's statistics (see `pipeline.report.collect`).

    The stage-1 file is taken one record batch at a time (memory-mapped when local, downloaded
    whole from an object store), and shards are written as soon as they fill, so memory stays
    one batch plus one shard (plus the stage-1 file, on an object store).
    """
    from pipeline.dedup.decisions import read_cluster_sizes, read_decisions
    from pipeline.dedup.lines import load_frequent

    ledger_path = out / "ledger" / f"{part.name}.parquet"
    shard_list = work / "stage3" / f"{part.name}.shards.json"
    if is_done(ledger_path):
        result = json.loads(shard_list.read_text())
        if not summary_path(work, part.name).exists():  # finished by a version that wrote none
            shards = [out / s["path"] for s in result["shards"]]
            write_json(summary_path(work, part.name), summarise_files(ledger_path, shards, part.source))
        return result
    docs_path, drops_path, _ = stage1_paths(work, part)
    decide = _Decide(
        read_decisions(work, part.name),
        read_cluster_sizes(work, part.name),  # for "rehydration" up-sampling later
        load_frequent(work) if cfg.dedup.lines.enabled else None,
        cfg,
    )
    shards = _ShardWriter(part, out, cfg.shard_rows)
    rows: dict[str, list[pa.Table]] = {"duplicate": [], "emptied": [], "kept": []}
    kept_stats: list[dict] = []
    for batch in read_arrow(docs_path).to_batches():
        kept, dup_rows, emptied_rows = decide(pa.Table.from_batches([batch]))
        rows["duplicate"].append(dup_rows)
        rows["emptied"].append(emptied_rows)
        kept_bytes = pc.binary_length(kept.column("text")).to_pylist()  # UTF-8 bytes
        rows["kept"].append(
            ledger.rows(
                kept.column("id").to_pylist(),
                kept.column("source").to_pylist(),
                stage="output",
                decision="kept",
                nbytes=kept_bytes,
            )
        )
        kept_stats.append(kept_summary(kept, part.source))
        shards.add(kept)
    shards.close()
    kept_total = sum(t.num_rows for t in rows["kept"])
    duplicates = sum(t.num_rows for t in rows["duplicate"])
    result = {"partition": part.name, "shards": shards.written, "kept": kept_total, "duplicates": duplicates}
    write_json(shard_list, result)
    led = ledger.concat([ledger.read_file(drops_path), *rows["duplicate"], *rows["emptied"], *rows["kept"]])
    # The driver checks and reports from this summary, never from the ledger or the shards.
    write_json(summary_path(work, part.name), partition_summary(led, merge_kept(kept_stats)))
    write_parquet(ledger_path, led)
    mark_done(ledger_path)
    return result


@dataclass
class _Decide:
    """One batch of stage-1 survivors → (kept documents, duplicate rows, emptied rows)."""

    duplicates: dict[str, tuple[str, str]]  # id → (kept id, reason)
    sizes: dict[str, int]  # kept id → documents it stands for (1 + its duplicates)
    frequent: np.ndarray | None  # line hashes to strip (CCNet line dedup), None: off
    cfg: PipelineConfig

    def __call__(self, table: pa.Table) -> tuple[pa.Table, pa.Table, pa.Table]:
        from pipeline.dedup.keys import KEY_COLUMNS
        from pipeline.dedup.lines import strip_table

        ids = table.column("id").to_pylist()
        is_dup = np.array([i in self.duplicates for i in ids], dtype=bool)
        kept = table.filter(pa.array(~is_dup)).drop_columns(
            [c for c in KEY_COLUMNS if c in table.column_names]
        )
        dup = table.filter(pa.array(is_dup))
        kept = kept.append_column(
            "cluster_size",
            pa.array([self.sizes.get(i, 1) for i in kept.column("id").to_pylist()], pa.int32()),
        )
        emptied_rows = ledger.rows([], [], stage="dedup", decision="filtered")
        if self.frequent is not None:  # CCNet-style: strip units frequent across the kept documents
            kept, units_removed, _ = strip_table(kept, self.frequent, self.cfg.dedup.lines)
            kept = kept.append_column("lines_removed", pa.array(units_removed, pa.int32()))
            emptied = pc.equal(pc.utf8_trim_whitespace(kept.column("text")), "").to_numpy(
                zero_copy_only=False
            )
            gone = kept.filter(pa.array(emptied))
            kept = kept.filter(pa.array(~emptied))
            emptied_rows = ledger.rows(
                gone.column("id").to_pylist(),
                gone.column("source").to_pylist(),
                stage="dedup",
                decision="filtered",
                reasons=["empty_after_line_dedup"] * gone.num_rows,
            )
        dup_ids = dup.column("id").to_pylist()
        dup_rows = ledger.rows(
            dup_ids,
            dup.column("source").to_pylist(),
            stage="dedup",
            decision="duplicate",
            reasons=[self.duplicates[i][1] for i in dup_ids],
            duplicate_of=[self.duplicates[i][0] for i in dup_ids],
            nbytes=[len(t.encode()) for t in dup.column("text").to_pylist()],
        )
        return kept, dup_rows, emptied_rows


class _ShardWriter:
    """Kept documents → `data/shard-PPPPP-KKKK.arrow` of `shard_rows` each, written as they fill;
    a shard is one record batch, so its bytes do not depend on how stage 1 batched its input."""

    def __init__(self, part: Partition, out: AnyPath, shard_rows: int) -> None:
        self.part, self.out, self.shard_rows = part, out, shard_rows
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.written: list[dict] = []

    def add(self, kept: pa.Table) -> None:
        if kept.num_rows:
            self.pending.append(kept)
            self.pending_rows += kept.num_rows
        while self.pending_rows >= self.shard_rows:
            self._write(self.shard_rows)

    def close(self) -> None:
        if self.pending_rows:
            self._write(self.pending_rows)

    def _write(self, n: int) -> None:
        table = pa.concat_tables(self.pending)
        chunk, rest = table.slice(0, n).combine_chunks(), table.slice(n)
        self.pending, self.pending_rows = ([rest] if rest.num_rows else []), rest.num_rows
        rel = f"data/shard-{self.part.index:05d}-{len(self.written):04d}.arrow"
        write_arrow(self.out / rel, chunk)
        self.written.append(
            {
                "path": rel,
                "source": self.part.source,
                "rows": chunk.num_rows,
                "bytes": (self.out / rel).stat().st_size,
                "text_bytes": int(pc.sum(pc.binary_length(chunk.column("text"))).as_py() or 0),
                "sha256": sha256_file(self.out / rel),
            }
        )
