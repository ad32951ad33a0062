"""Shuffle files: one file per producing task, its rows grouped by consuming task.

A shuffle round where each of P producers sends rows to each of S consumers written as one
file per (producer, consumer) creates P × S files: 80 small Parquet files per round on the
bench's 10 partitions × 8 shards, and millions at crawl scale, each a create, a rename and a
compressed write for a few kB.  Here each producer writes one uncompressed Arrow IPC file
with its rows sorted by consumer and the row offset where each consumer's range starts in
the schema metadata (the sort-based shuffle of Hadoop and Spark); a consumer memory-maps
every producer's file and takes its slice, which touches only the pages of its own rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa

from pipeline.core.atomic import read_arrow, write_arrow

_OFFSETS = b"yuliao.consumer_offsets"


def group_rows(consumer: np.ndarray, consumers: int) -> tuple[np.ndarray, np.ndarray]:
    """(row order that groups rows by consumer, stable within each; start offset of each
    consumer's range, consumers + 1 values)."""
    order = np.argsort(consumer, kind="stable")
    return order, np.searchsorted(consumer[order], np.arange(consumers + 1))


def write_grouped(path: Path, table: pa.Table, consumer: np.ndarray, consumers: int) -> int:
    """Write `table`'s rows grouped by `consumer` (values in [0, consumers)); returns its rows."""
    order, offsets = group_rows(consumer, consumers)
    grouped = table.take(pa.array(order)) if len(order) else table
    meta = {**(table.schema.metadata or {}), _OFFSETS: json.dumps(offsets.tolist()).encode()}
    write_arrow(path, grouped.replace_schema_metadata(meta))
    return grouped.num_rows


def read_group(path: Path, consumer: int) -> pa.Table:
    """One consumer's rows of one producer's file (memory-mapped: only its pages are read)."""
    table = read_arrow(path)
    offsets = json.loads(table.schema.metadata[_OFFSETS])
    lo, hi = offsets[consumer], offsets[consumer + 1]
    return table.slice(lo, hi - lo).replace_schema_metadata(None)


def group_sizes(paths: Iterable[Path], consumers: int) -> np.ndarray:
    """Rows each consumer will read, over every producer's file (metadata only)."""
    sizes = np.zeros(consumers, np.int64)
    for p in paths:
        sizes += np.diff(json.loads(read_arrow(p).schema.metadata[_OFFSETS]))
    return sizes


def read_groups(paths: Iterable[Path], consumer: int, schema: pa.Schema) -> pa.Table:
    """One consumer's rows from every producer's file, in the order of `paths`."""
    tables = [read_group(p, consumer) for p in paths]
    return pa.concat_tables(tables).combine_chunks() if tables else schema.empty_table()
