"""Cut one input into splits of about `target_bytes`, so a task's memory does not grow with file size.

| format | split by | unsplittable |
| --- | --- | --- |
| jsonl | byte ranges of the file (a range owns the lines that start in it) | compressed files |
| parquet | row-group ranges (uncompressed size from the footer) | — |
| arrow | record-batch ranges of an IPC file | IPC stream format |
| text | index ranges of the folder's sorted `*.txt` listing | — |
| warc | byte ranges of a `.warc.gz` with one gzip member per record | plain `.warc`, single-member gzip |

A split never cuts a record, and record offsets stay absolute, so reading a file whole or
split by split gives the same records, ids and order.  Planning reads footers and listings
only (an Arrow IPC file's batches are opened, zero-copy when local).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import fsspec

from pipeline.io.columnar import arrow_batches, check_columnar, parquet_row_groups
from pipeline.io.compression import compression_of
from pipeline.io.jsonl import check_jsonl
from pipeline.io.text_folder import list_text_files

SplitKind = Literal["whole", "bytes", "row_groups", "batches", "files"]


@dataclass(frozen=True)
class Split:
    """Part of one input: [start, end) in units of `kind` (bytes, row groups, batches, files).

    `first_row` is the absolute row number of the first row of a row-group/batch split, so
    readers need not scan what comes before it.
    """

    kind: SplitKind = "whole"
    start: int = 0
    end: int | None = None
    first_row: int | None = None

    def __str__(self) -> str:
        return self.kind if self.kind == "whole" else f"{self.kind}[{self.start}:{self.end}]"


WHOLE = Split()


def plan_splits(path: str, fmt: str, target_bytes: int, text_field: str | None = None) -> list[Split]:
    """Splits of `path` of about `target_bytes` each; `[WHOLE]` when it cannot or need not split.

    With `text_field`, also checks that the input has that field (Parquet/Arrow schema, the
    first JSONL records) and raises a ValueError naming file and field now, before any work.
    """
    if target_bytes <= 0:
        raise ValueError(f"target_bytes must be positive, got {target_bytes}")
    if text_field is not None:
        if fmt in ("parquet", "arrow"):
            check_columnar(path, fmt, text_field)
        elif fmt == "jsonl":
            check_jsonl(path, text_field)
    if fmt == "jsonl":
        return _byte_splits(path, target_bytes, _uncompressed)
    if fmt == "parquet":
        return _grouped("row_groups", parquet_row_groups(path), target_bytes)
    if fmt == "arrow":
        batches = arrow_batches(path)
        return [WHOLE] if batches is None else _grouped("batches", batches, target_bytes)
    if fmt == "text":
        files = list_text_files(path)
        return _grouped("files", [(1, size) for _, size in files], target_bytes)
    if fmt == "warc":
        from pipeline.io.warc import is_multi_member_gzip  # a range's reader finds its first member

        return _byte_splits(path, target_bytes, is_multi_member_gzip)
    raise ValueError(f"unknown input format {fmt!r} for {path}")


def _byte_splits(path: str, target_bytes: int, splittable: Callable[[str], bool]) -> list[Split]:
    """Equal byte ranges of `path` when it is bigger than `target_bytes` and `splittable(path)`."""
    fs, local = fsspec.core.url_to_fs(path)
    size = fs.size(local)
    if size <= target_bytes or not splittable(path):
        return [WHOLE]
    n = math.ceil(size / target_bytes)
    step = math.ceil(size / n)
    return [Split("bytes", s, min(s + step, size)) for s in range(0, size, step)]


def _uncompressed(path: str) -> bool:
    return compression_of(path) is None


def _grouped(kind: SplitKind, units: list[tuple[int, int]], target_bytes: int) -> list[Split]:
    """Consecutive (rows, bytes) units packed into splits of about `target_bytes`."""
    splits: list[Split] = []
    start = first_row = row = size = 0
    for i, (rows, nbytes) in enumerate(units):
        if i > start and size + nbytes > target_bytes:
            splits.append(Split(kind, start, i, first_row if kind != "files" else None))
            start, first_row, size = i, row, 0
        size += nbytes
        row += rows
    if len(units) > start:
        splits.append(Split(kind, start, len(units), first_row if kind != "files" else None))
    return [WHOLE] if len(splits) <= 1 else splits
