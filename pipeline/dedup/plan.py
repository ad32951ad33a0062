"""What every round of the dedup job shares: partitions, LSH shape, shards, index view, file schemas.

Saved as `dedup/plan.json` on the first attempt, so a resumed job reuses the same shards
and the same index segments even if the index grew in between.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from pipeline.config import DedupConfig
from pipeline.core.atomic import AnyPath, as_path, read_parquet, write_json
from pipeline.dedup.index import Index, open_index

BAND_SCHEMA = pa.schema([("key", pa.uint64()), ("gid", pa.uint64()), ("aux", pa.uint64())])
PAIR_SCHEMA = pa.schema([("a", pa.uint64()), ("b", pa.uint64())])
EDGE_SCHEMA = pa.schema([("a", pa.uint64()), ("b", pa.uint64()), ("similarity", pa.float32())])
IDENT_SCHEMA = pa.schema([("centre", pa.uint64()), ("member", pa.uint64()), ("band", pa.int64())])


@dataclass(frozen=True)
class Plan:
    root: AnyPath  # WORK/dedup (a local path or a URL)
    names: tuple[str, ...]
    paths: tuple[AnyPath, ...]
    cfg: DedupConfig
    bands: int
    rows: int
    shards: int
    index: Index | None = None  # the persisted index this run reads and appends to (--index)
    run_tag: str = ""


def make_plan(
    key_files: Sequence[tuple[str, Path]],
    work: Path,
    cfg: DedupConfig,
    index: Path | None,
    docs: int | None = None,
) -> Plan:
    """The job's plan; `docs` (the documents of this run, when the caller knows them) lets it be
    made before the stage-1 files exist, so keys tasks can scatter their own rows."""
    from pipeline.dedup.lsh import lsh_params

    root = work / "dedup"
    saved = root / "plan.json"
    bands, rows = lsh_params(cfg)
    segments: tuple[str, ...] = ()
    if saved.exists():
        meta = json.loads(saved.read_text())
        shards, segments = meta["shards"], tuple(meta["segments"])
    else:
        if docs is None:
            docs = count_rows([p for _, p in key_files])
        shards = cfg.shards or auto_shards(docs, len(key_files), bands)
        if index is not None:
            idx = open_index(index, cfg, bands, rows, shards)
            shards, segments = idx.shards, idx.segments
    names = tuple(n for n, _ in key_files)
    digest = hashlib.sha256(json.dumps([names, list(segments), str(work.resolve())]).encode()).hexdigest()
    plan = Plan(
        root=root,
        names=names,
        paths=tuple(as_path(p) for _, p in key_files),
        cfg=cfg,
        bands=bands,
        rows=rows,
        shards=shards,
        index=None if index is None else Index(index, shards, segments),
        run_tag=f"{len(segments):06d}-{digest[:10]}",
    )
    if not saved.exists():
        write_json(saved, {"bands": bands, "rows": rows, "shards": shards, "segments": list(segments)})
    return plan


MIN_SHARDS = 8  # enough bucket tasks to keep a few workers busy on a small job
ROWS_PER_SHARD = 1 << 20  # band rows a bucket task sorts at once: 24 MB of (key, gid, aux), ~0.1 GB peak


def count_rows(paths: Sequence[Path]) -> int:
    from pipeline.core.atomic import read_arrow

    return sum(read_arrow(p).num_rows for p in paths)  # memory-mapped: reads no text


def auto_shards(docs: int, parts: int, bands: int) -> int:
    """Shuffle shards from the job's size: bounded rows per bucket task (memory), and no more
    than that needs (each partition writes one file per shard, so files grow as parts × shards)."""
    need = -(-docs * (bands + 1) // ROWS_PER_SHARD)
    return max(1, min(parts, MIN_SHARDS), need)


def read_tables(files: Sequence[Path], schema: pa.Schema) -> pa.Table:
    tables = [read_parquet(f, schema) for f in files]
    return pa.concat_tables(tables) if tables else schema.empty_table()


def done_stats(marker: Path) -> dict | None:
    """A finished task's statistics, or None if it has to run."""
    from pipeline.core.atomic import is_done

    return json.loads(_stats_path(marker).read_text()) if is_done(marker) else None


def finish(marker: Path, stats: dict) -> dict:
    from pipeline.core.atomic import mark_done

    write_json(_stats_path(marker), stats)
    mark_done(marker)
    return stats


def _stats_path(marker: AnyPath) -> AnyPath:
    return marker.parent / f"{marker.name}.json"
