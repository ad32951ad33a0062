"""The decision files the dedup job writes, one per partition, and their readers.

`dedup/PART.parquet`, rows in partition order: one per duplicate (`duplicate_of` = the kept
id, `reason` = exact | near | url, `similarity` to it) and one per kept document standing for
others (`duplicate_of` null, `cluster_size` = how many documents it stands for, itself
included).  Documents without a row are kept, size 1.  Kept apart from the job that writes
them (job.py), so the rounds after the decision and stage 3 read them without importing it.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.core.atomic import read_parquet

DECISION_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("duplicate_of", pa.string()),
        ("reason", pa.string()),
        ("similarity", pa.float32()),
        ("cluster_size", pa.int64()),
    ]
)


def decision_path(work: Path, part_name: str) -> Path:
    return work / "dedup" / f"{part_name}.parquet"


def read_decision_table(work: Path, part_name: str) -> pa.Table:
    return read_parquet(decision_path(work, part_name), DECISION_SCHEMA)


def read_decisions(work: Path, part_name: str) -> dict[str, tuple[str, str]]:
    """id → (kept id, reason) for this partition's duplicates."""
    t = read_decision_table(work, part_name)
    t = t.filter(pc.is_valid(t["duplicate_of"]))
    cols = (t[c].to_pylist() for c in ("id", "duplicate_of", "reason"))
    return {i: (d, r) for i, d, r in zip(*cols, strict=True)}


def read_cluster_sizes(work: Path, part_name: str) -> dict[str, int]:
    """id → documents it stands for (itself included), for kept documents with duplicates."""
    t = read_decision_table(work, part_name)
    t = t.filter(pc.is_null(t["duplicate_of"]))
    return dict(zip(t["id"].to_pylist(), t["cluster_size"].to_pylist(), strict=True))
