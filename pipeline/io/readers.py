"""Read one input split (WARC/WET, JSONL, Parquet, Arrow, text folder) into a raw Arrow batch.

Readers never raise for damaged data: every readable record is returned, whatever could not
be read becomes quarantined ledger rows, and records that are not documents (non-200, binary,
too large) become filtered rows, so the ledger still balances and the report names the file.
A *configuration* problem (a Parquet file without the configured text column) does raise,
because rerunning will not fix it; `plan_splits(..., text_field=...)` raises it before any
work starts.

Formats live in their own modules (`warc`, `jsonl`, `columnar`, `text_folder`); ids and the
raw schema in `records`; splitting in `splits`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import pyarrow as pa

from pipeline.config.read import ReadConfig
from pipeline.io.collector import RAW_SCHEMA, STAGE, Collector, PartitionRead
from pipeline.io.columnar import read_arrow, read_parquet
from pipeline.io.jsonl import DEFAULT_MAX_INFLATED_BYTES, read_jsonl
from pipeline.io.splits import WHOLE, Split, plan_splits
from pipeline.io.text_folder import read_text_folder
from pipeline.io.warc import read_warc

Format = Literal["warc", "jsonl", "parquet", "arrow", "text"]
FORMATS: tuple[str, ...] = ("warc", "jsonl", "parquet", "arrow", "text")

# Above this a record is filtered (`record_too_large`) unread; why 10 MiB: see ReadConfig.
DEFAULT_MAX_RECORD_BYTES = ReadConfig().max_record_bytes

_SPLIT_KINDS = {
    "warc": "bytes",
    "jsonl": "bytes",
    "parquet": "row_groups",
    "arrow": "batches",
    "text": "files",
}

__all__ = [
    "DEFAULT_MAX_RECORD_BYTES",
    "FORMATS",
    "RAW_SCHEMA",
    "STAGE",
    "WHOLE",
    "Format",
    "PartitionRead",
    "Split",
    "plan_splits",
    "read_partition",
]


def read_partition(
    path: str,
    source: str,
    fmt: Format,
    text_field: str = "text",
    split: Split | None = None,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    mime_types: frozenset[str] | None = None,
    root: str = "",
    batch_bytes: int = 0,
    on_batch: Callable[[pa.Table], None] | None = None,
    max_inflated_bytes: int = DEFAULT_MAX_INFLATED_BYTES,
) -> PartitionRead:
    """Read one file or split of it (any fsspec URL) into RAW_SCHEMA rows plus ledger rows.

    `mime_types` selects WARC records by document type (None: every text type); ids name
    inputs relative to `root` (see `Collector.locate`).  With `on_batch`, records are handed
    over every `batch_bytes` as they are read, and the result holds only the rest.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown input format {fmt!r} for {path} (expected one of {', '.join(FORMATS)})")
    split = split or WHOLE
    if split.kind not in ("whole", _SPLIT_KINDS.get(fmt)):
        raise ValueError(f"{path}: a {split.kind} split does not apply to format {fmt!r}")
    whole = split.kind == "whole"
    out = Collector(source, path, root, batch_bytes, on_batch)
    if fmt == "warc":
        start, end = (0, None) if whole else (split.start, split.end)
        read_warc(path, out, max_record_bytes, start, end, mime_types)
    elif fmt == "jsonl":
        start, end = (0, None) if whole else (split.start, split.end)
        read_jsonl(path, text_field, out, max_record_bytes, start, end, max_inflated_bytes=max_inflated_bytes)
    elif fmt == "parquet":
        groups = None if whole else (split.start, _end(split))
        read_parquet(path, text_field, out, max_record_bytes, groups, split.first_row)
    elif fmt == "arrow":
        batches = None if whole else (split.start, _end(split))
        read_arrow(path, text_field, out, max_record_bytes, batches, split.first_row)
    else:
        read_text_folder(path, out, max_record_bytes, None if whole else (split.start, _end(split)))
    return out.result()


def _end(split: Split) -> int:
    if split.end is None:
        raise ValueError(f"{split.kind} split needs an end")
    return split.end
