"""CCNet-style line (or paragraph) dedup: strip units that recur across many kept documents.

Navigation bars, cookie notices and footers repeat verbatim across a site's pages; they
survive document-level dedup because each page differs elsewhere.  A unit is normalised
like a document (NFKC, lower case, collapsed spaces) with digits folded to 0 (dates and
counters in templates), hashed to 64 bits, and counted once per document.  Counting runs
after the document decision, over kept documents only, so 50 copies of one page do not
make its own lines "frequent".

    count_lines(plan, client)   distributed: per partition hashes → shard files; per shard counts
    load_frequent(work)         sorted uint64 hashes with count ≥ min_count (8 bytes each)
    strip_table(table, ...)     stage 3: drop frequent units from the kept documents' text
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from pipeline.config.dedup import LineDedupConfig
from pipeline.core.atomic import write_parquet
from pipeline.dedup.normalize import normalize_for_dedup
from pipeline.dedup.plan import Plan, done_stats, finish, read_tables

_DIGIT = re.compile(r"\d")
_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n")
HASH_SCHEMA = pa.schema([("hash", pa.uint64())])
COUNT_SCHEMA = pa.schema([("hash", pa.uint64()), ("count", pa.int64())])


def split_units(text: str, unit: str) -> list[str]:
    return text.split("\n") if unit == "line" else _PARAGRAPH.split(text)


def _join(units: list[str], unit: str) -> str:
    return "\n".join(units) if unit == "line" else "\n\n".join(units)


def unit_hash(unit: str, cfg: LineDedupConfig) -> int | None:
    """64-bit hash of a normalised unit; None if it is too short to ever be stripped."""
    norm = _DIGIT.sub("0", normalize_for_dedup(unit))
    if len(norm) < max(1, cfg.min_chars):
        return None
    return xxhash.xxh3_64_intdigest(norm.encode("utf-8", "surrogatepass"))


def unit_hashes(text: str, cfg: LineDedupConfig) -> list[int]:
    """Distinct unit hashes of one document (each unit counts once per document)."""
    hashes = {unit_hash(u, cfg) for u in split_units(text or "", cfg.unit)}
    hashes.discard(None)
    return sorted(hashes)  # type: ignore[arg-type]


def line_hash_column(texts: list[str], cfg: LineDedupConfig) -> pa.Array:
    return pa.array([unit_hashes(t, cfg) for t in texts], pa.list_(pa.uint64()))


def _kept_hashes(table: pa.Table, dup_ids: set[str], cfg: LineDedupConfig) -> np.ndarray:
    keep = pc.invert(pc.is_in(table["id"], pa.array(list(dup_ids), pa.string())))
    kept = table.filter(keep)
    if "line_hashes" in kept.column_names:
        col = kept.column("line_hashes").combine_chunks()
    else:
        col = line_hash_column(kept.column("text").to_pylist(), cfg)
    return pc.list_flatten(col).to_numpy(zero_copy_only=False).astype(np.uint64)


def _scatter_task(p: int, plan: Plan) -> dict:
    from pipeline.core.atomic import read_arrow
    from pipeline.dedup.decisions import read_decisions

    name = plan.names[p]
    marker = plan.root / "lines" / "scatter" / name
    if (stats := done_stats(marker)) is not None:
        return stats
    hashes = _kept_hashes(
        read_arrow(plan.paths[p]), set(read_decisions(plan.root.parent, name)), plan.cfg.lines
    )
    shard = (hashes % np.uint64(plan.shards)).astype(np.int64)
    for s in np.unique(shard):
        part = pa.table([hashes[shard == s]], schema=HASH_SCHEMA)
        write_parquet(plan.root / "lines" / "hashes" / f"{s:05d}" / f"{name}.parquet", part)
    return finish(marker, {"units": len(hashes)})


def _count_task(s: int, plan: Plan) -> dict:
    marker = plan.root / "lines" / "count" / f"{s:05d}"
    if (stats := done_stats(marker)) is not None:
        return stats
    files = sorted((plan.root / "lines" / "hashes" / f"{s:05d}").glob("*.parquet"))
    hashes = read_tables(files, HASH_SCHEMA).column("hash").to_numpy()
    values, counts = np.unique(hashes, return_counts=True)
    frequent = counts >= plan.cfg.lines.min_count
    out = pa.table([values[frequent], counts[frequent]], schema=COUNT_SCHEMA)
    write_parquet(plan.root / "lines" / "frequent" / f"{s:05d}.parquet", out)
    stats = {
        "distinct": len(values),
        "frequent": int(frequent.sum()),
        "frequent_occurrences": int(counts[frequent].sum()),
    }
    return finish(marker, stats)


def count_lines(plan: Plan, client: object = None) -> dict:
    """Count units over every partition's kept documents; returns totals for the report."""
    from pipeline.core.executor import map_tasks

    t0 = time.perf_counter()
    scattered = map_tasks(client, _scatter_task, list(range(len(plan.names))), "lines scatter", plan=plan)
    counted = map_tasks(client, _count_task, list(range(plan.shards)), "lines count", plan=plan)
    return {
        "unit": plan.cfg.lines.unit,
        "min_count": plan.cfg.lines.min_count,
        "units_in_kept_documents": sum(s["units"] for s in scattered),
        "distinct_units": sum(s["distinct"] for s in counted),
        "frequent_units": sum(s["frequent"] for s in counted),
        "frequent_unit_occurrences": sum(s["frequent_occurrences"] for s in counted),
        "seconds": round(time.perf_counter() - t0, 4),
    }


def load_frequent(work: Path) -> np.ndarray:
    """Sorted hashes of the frequent units (empty if line dedup did not run)."""
    files = sorted((work / "dedup" / "lines" / "frequent").glob("*.parquet"))
    return np.sort(read_tables(files, COUNT_SCHEMA).column("hash").to_numpy())


def strip_text(text: str, frequent: np.ndarray, cfg: LineDedupConfig) -> tuple[str, int, int]:
    """(text without frequent units, units removed, UTF-8 bytes removed)."""
    units = split_units(text, cfg.unit)
    keep: list[str] = []
    for u in units:
        h = unit_hash(u, cfg)
        if h is not None:
            i = np.searchsorted(frequent, np.uint64(h))
            if i < len(frequent) and frequent[i] == h:
                continue
        keep.append(u)
    if len(keep) == len(units):
        return text, 0, 0
    new = _join(keep, cfg.unit).strip("\n")
    return new, len(units) - len(keep), len(text.encode()) - len(new.encode())


def strip_table(
    table: pa.Table, frequent: np.ndarray, cfg: LineDedupConfig
) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """`table` with frequent units stripped from `text`; per row units and bytes removed."""
    if not len(frequent) or not table.num_rows:
        z = np.zeros(table.num_rows, np.int64)
        return table, z, z
    out = [strip_text(t or "", frequent, cfg) for t in table.column("text").to_pylist()]
    i = table.column_names.index("text")
    field = table.schema.field(i)
    table = table.set_column(i, field, pa.array([o[0] for o in out], field.type))
    return table, np.array([o[1] for o in out], np.int64), np.array([o[2] for o in out], np.int64)
