"""The ledger: one row per input record saying what happened to it and why.

Every job accounts for every record it read: `kept`, `filtered` (reason code),
`duplicate` (of which id) or `quarantined` (error reason).  `check_balanced` is run before
any report is written, so a silently lost record fails the job instead of skewing numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

DECISIONS = ("kept", "filtered", "duplicate", "quarantined")

LEDGER_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("stage", pa.string()),
        ("decision", pa.string()),
        ("reason", pa.string()),
        ("duplicate_of", pa.string()),
        ("bytes", pa.int64()),
    ]
)


class LedgerImbalance(RuntimeError):
    """Raised when ledger rows do not match the number of input records."""


def rows(
    ids: Sequence[str],
    sources: Sequence[str],
    stage: str,
    decision: str,
    reasons: Sequence[str | None] | str | None = None,
    duplicate_of: Sequence[str | None] | None = None,
    nbytes: Sequence[int] | None = None,
) -> pa.Table:
    """Build ledger rows for a group of records that share a stage and decision."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {DECISIONS}, got {decision!r}")
    n = len(ids)
    if reasons is None or isinstance(reasons, str):
        reasons = [reasons] * n
    return pa.table(
        {
            "id": pa.array(ids, pa.string()),
            "source": pa.array(sources, pa.string()),
            "stage": pa.array([stage] * n, pa.string()),
            "decision": pa.array([decision] * n, pa.string()),
            "reason": pa.array(reasons, pa.string()),
            "duplicate_of": pa.array(duplicate_of if duplicate_of is not None else [None] * n, pa.string()),
            "bytes": pa.array(nbytes if nbytes is not None else [0] * n, pa.int64()),
        },
        schema=LEDGER_SCHEMA,
    )


def empty() -> pa.Table:
    return LEDGER_SCHEMA.empty_table()


def concat(tables: Iterable[pa.Table]) -> pa.Table:
    tables = [t for t in tables if t is not None]
    return pa.concat_tables(tables) if tables else empty()


def read_file(path: str | Path) -> pa.Table:
    """One ledger part, from a local path or an fsspec URL."""
    from pipeline.core.atomic import read_parquet

    return read_parquet(path, LEDGER_SCHEMA)


def read(ledger_dir: str | Path) -> pa.Table:
    """A ledger folder's parts, from a local path or an fsspec URL."""
    from pipeline.core.atomic import as_path

    folder = as_path(ledger_dir)
    local = isinstance(folder, Path)
    files = sorted(str(p) if local else p.path for p in folder.glob("*.parquet"))
    if not files:
        return empty()
    fs = None if local else folder.fs
    return ds.dataset(files, format="parquet", schema=LEDGER_SCHEMA, filesystem=fs).to_table()


def decision_counts(ledger: pa.Table) -> dict[str, int]:
    counts = {d: 0 for d in DECISIONS}
    for row in ledger.group_by("decision").aggregate([("id", "count")]).to_pylist():
        counts[row["decision"]] = row["id_count"]
    return counts


def check_balanced(ledger: pa.Table, input_records: int) -> None:
    """Every input record has exactly one final ledger row."""
    if ledger.num_rows != input_records:
        raise LedgerImbalance(f"ledger has {ledger.num_rows} rows but {input_records} records were read")
    unique = pc.count_distinct(ledger["id"]).as_py()
    if unique != ledger.num_rows:
        raise LedgerImbalance(f"ledger has {ledger.num_rows - unique} records with more than one final row")
