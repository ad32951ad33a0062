"""The ledger: one row per input record saying what happened to it and why.

Every job accounts for every record it read: `kept`, `filtered` (reason code),
`duplicate` (of which id) or `quarantined` (error reason).  `check_balanced` is run before
any report is written, so a silently lost record fails the job instead of skewing numbers.

A job that reads many partitions checks their `summary`s instead (`check_partitions`): each
worker summarises the ledger part it wrote, so the driver's memory does not grow with the corpus.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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


def summary(ledger: pa.Table) -> dict:
    """What the manifest and report need of a ledger (part): rows, distinct ids, and counts and
    bytes per (stage, decision, reason) and per (source, decision); small, and `merge`-able."""
    by_stage = ledger.group_by(["stage", "decision", "reason"], use_threads=False).aggregate(
        [("id", "count"), ("bytes", "sum")]
    )
    by_source = ledger.group_by(["source", "decision"], use_threads=False).aggregate([("id", "count")])
    return {
        "rows": ledger.num_rows,
        "distinct_ids": pc.count_distinct(ledger["id"]).as_py(),
        "by_stage": by_stage.to_pylist(),
        "by_source": by_source.to_pylist(),
    }


def merge(summaries: Iterable[dict]) -> dict:
    """The summary of the concatenated ledgers, plus `decisions` (as `decision_counts` gives).

    `by_stage` is sorted like the table's sort_by (nulls last); `by_source` by source, each
    source's decisions in order of first appearance.  Distinct ids add up because ids of
    different partitions never collide (see `check_partitions`).
    """
    rows = distinct = 0
    stages: dict[tuple, list] = {}
    sources: dict[tuple, int] = {}
    for s in summaries:
        rows += s["rows"]
        distinct += s["distinct_ids"]
        for g in s["by_stage"]:
            acc = stages.setdefault((g["stage"], g["decision"], g["reason"]), [0, None])
            acc[0] += g["id_count"]
            if g["bytes_sum"] is not None:  # a sum over nulls only stays null, as in Arrow
                acc[1] = (acc[1] or 0) + g["bytes_sum"]
        for g in s["by_source"]:
            key = (g["source"], g["decision"])
            sources[key] = sources.get(key, 0) + g["id_count"]
    decisions = dict.fromkeys(DECISIONS, 0)
    for (_, decision, _), (count, _) in stages.items():
        decisions[decision] = decisions.get(decision, 0) + count
    return {
        "rows": rows,
        "distinct_ids": distinct,
        "decisions": decisions,
        "by_stage": [
            {"stage": st, "decision": d, "reason": r, "id_count": n, "bytes_sum": b}
            for (st, d, r), (n, b) in sorted(stages.items(), key=lambda kv: _nulls_last(kv[0]))
        ],
        "by_source": [
            {"source": src, "decision": d, "id_count": n}
            for (src, d), n in sorted(sources.items(), key=lambda kv: _nulls_last(kv[0][:1]))
        ],
    }


def _nulls_last(key: tuple) -> tuple:
    return tuple((v is None, v or "") for v in key)


def check_partitions(summaries: Mapping[str, dict], records_read: Mapping[str, int]) -> dict:
    """Every partition's ledger part has one row per record it read, each id once; returns the
    `merge` of the parts.

    Ids are unique across partitions by construction (pipeline.records.ids.make_id): they hash
    source + input path + the record's absolute offset or row, and two partitions read either
    different inputs or disjoint splits of one, so only per-partition uniqueness is checked.
    """
    if summaries.keys() != records_read.keys():
        missing = sorted(records_read.keys() - summaries.keys()) or sorted(
            summaries.keys() - records_read.keys()
        )
        raise LedgerImbalance(f"ledger summaries and partitions read differ (first: {missing[0]})")
    for name, s in summaries.items():
        if s["rows"] != records_read[name]:
            raise LedgerImbalance(
                f"{name}: its ledger has {s['rows']} rows but {records_read[name]} records were read"
            )
        if s["distinct_ids"] != s["rows"]:
            raise LedgerImbalance(
                f"{name}: its ledger has {s['rows'] - s['distinct_ids']} records with more than one final row"
            )
    total = merge(summaries.values())
    if total["rows"] != sum(records_read.values()):  # cannot differ once every part balances
        raise LedgerImbalance(f"ledger has {total['rows']} rows but {sum(records_read.values())} were read")
    return total
