"""Parquet and Arrow IPC (file and stream format) → text records.

A record's offset is its absolute row number in the file, so ids do not depend on how the
file was split.  Parquet splits by row groups and an Arrow IPC *file* by record batches (both
have a footer saying where each starts); an Arrow IPC *stream* has no index and is one
partition.  Only the text column (and `url`, when it is a string column) is read.

A missing or non-string text column is a configuration error: it raises, naming the file
and the column, since rerunning will not fix it (`check_columnar` does it before any work).
A null text is one quarantined row (`missing_text_field`), a text above `max_record_bytes`
one filtered row (`record_too_large`).

Damage costs only the rows it hits: Parquet is read row group by row group, and a group that
fails to decode (a damaged page) has each of its rows quarantined (`read_error:<exception>`,
row count from the footer), so the ledger still holds one row per input row; the other groups
read normally.  Arrow IPC batches are fully validated before their values are touched (bad
offsets in a hostile file would otherwise read out of bounds); a batch that fails validation
has each row quarantined, one whose message cannot be read ends the read as one truncated
row, since the rows after it can no longer be numbered.  A file whose footer or schema is
unreadable is one truncated row naming the file; planning then leaves it whole rather than
failing the job.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from pipeline.io.collector import Collector, InputConfigError, utf8_or_none
from pipeline.records.ids import content_digest

ARROW_FILE_MAGIC = b"ARROW1"


def read_parquet(
    path: str,
    text_field: str,
    out: Collector,
    max_record_bytes: int,
    groups: tuple[int, int] | None = None,
    first_row: int | None = None,
) -> None:
    """Row groups [start, end) of one Parquet file (all when `groups` is None) into `out`."""
    with fsspec.open(path, "rb", compression=None) as fh:
        if not fh.read(1):
            return  # 0-byte file: nothing to read
        fh.seek(0)
        try:
            pf = pq.ParquetFile(fh, page_checksum_verification=True)  # CRCs, where the writer wrote them
            schema = pf.schema_arrow
        except Exception as exc:
            out.truncated(0, f"read_error:{type(exc).__name__}", _size(fh))  # its warning names the file
            return
        columns = _columns(path, schema, text_field)
        start, end = groups if groups is not None else (0, pf.num_row_groups)
        meta = pf.metadata
        row = sum(meta.row_group(i).num_rows for i in range(start)) if first_row is None else first_row
        for i in range(start, end):
            rows = meta.row_group(i).num_rows
            done = 0
            try:  # one group at a time: a reader over several fails them all on one bad page
                for batch in pf.iter_batches(row_groups=[i], columns=columns):
                    done += _add_batch(batch, text_field, row + done, out, max_record_bytes)
            except Exception as exc:
                _quarantine_rows(out, row + done, rows - done, exc, f"row group {i}")
            row += rows


def read_arrow(
    path: str,
    text_field: str,
    out: Collector,
    max_record_bytes: int,
    batches: tuple[int, int] | None = None,
    first_row: int | None = None,
) -> None:
    """Record batches [start, end) of one Arrow IPC file (all when None) into `out`."""
    with _random_access(path) as fh:
        magic = fh.read(len(ARROW_FILE_MAGIC))
        if not magic:
            return
        fh.seek(0)
        try:
            reader: Any = ipc.open_file(fh) if magic == ARROW_FILE_MAGIC else ipc.open_stream(fh)
        except Exception as exc:
            out.truncated(0, f"read_error:{type(exc).__name__}", _size(fh))
            return
        columns = _columns(path, reader.schema, text_field)
        if isinstance(reader, ipc.RecordBatchStreamReader):
            if batches is not None:
                raise ValueError(f"{path}: an Arrow IPC stream has no batch index and cannot be split")
            _add_arrow(iter(reader), columns, text_field, 0, out, max_record_bytes)
            return
        start, end = batches if batches is not None else (0, reader.num_record_batches)
        try:
            row = sum(reader.get_batch(i).num_rows for i in range(start)) if first_row is None else first_row
        except Exception as exc:  # an earlier batch is damaged: this range's rows cannot be numbered
            out.truncated(0, f"read_error:{type(exc).__name__}", _size(fh))
            return
        _add_arrow(map(reader.get_batch, range(start, end)), columns, text_field, row, out, max_record_bytes)


def parquet_row_groups(path: str) -> list[tuple[int, int]]:
    """(rows, uncompressed bytes) of each row group, from the footer only."""
    with fsspec.open(path, "rb", compression=None) as fh:
        if not fh.read(1):
            return []
        fh.seek(0)
        try:
            meta = pq.ParquetFile(fh).metadata
        except Exception:
            return []  # unreadable footer: one whole split, whose read quarantines the file
        return [
            (meta.row_group(i).num_rows, meta.row_group(i).total_byte_size)
            for i in range(meta.num_row_groups)
        ]


def arrow_batches(path: str) -> list[tuple[int, int]] | None:
    """(rows, bytes) of each record batch of an IPC file; None for a stream (unsplittable).

    The IPC footer lists where batches are but not their row counts, so each batch is
    opened: zero-copy for local files, a read of the file for remote ones.
    """
    with _random_access(path) as fh:
        magic = fh.read(len(ARROW_FILE_MAGIC))
        if magic != ARROW_FILE_MAGIC:
            return None if magic else []
        try:
            reader = ipc.open_file(fh)
            return [(b.num_rows, b.nbytes) for b in map(reader.get_batch, range(reader.num_record_batches))]
        except Exception:
            return None  # damaged: read whole, so the reader quarantines what it cannot read


def check_columnar(path: str, fmt: str, text_field: str) -> None:
    """Raise now (a clear ValueError) if the file has no string column `text_field`.

    A file whose schema cannot be read at all is damaged data, not a configuration error: it
    passes here and its read quarantines it.
    """
    with fsspec.open(path, "rb", compression=None) as fh:
        magic = fh.read(len(ARROW_FILE_MAGIC))
        if not magic:
            return
        fh.seek(0)
        try:
            if fmt == "parquet":
                schema = pq.ParquetFile(fh).schema_arrow
            else:
                schema = (ipc.open_file(fh) if magic == ARROW_FILE_MAGIC else ipc.open_stream(fh)).schema
        except Exception:
            return
        _columns(path, schema, text_field)


def _columns(path: str, schema: pa.Schema, text_field: str) -> list[str]:
    if text_field not in schema.names:
        raise InputConfigError(f"{path}: text column {text_field!r} not found (columns: {schema.names})")
    text_type = schema.field(text_field).type
    if not _is_string_type(text_type):
        raise InputConfigError(f"{path}: text column {text_field!r} has type {text_type}, expected string")
    has_url = "url" in schema.names and text_field != "url" and _is_string_type(schema.field("url").type)
    return [text_field, "url"] if has_url else [text_field]


def _add_batch(batch: pa.RecordBatch, text_field: str, row: int, out: Collector, max_bytes: int) -> int:
    """The rows of one batch into `out`; returns how many.  Raises before adding any if unreadable."""
    texts = batch.column(text_field).to_pylist()
    has_url = "url" in batch.schema.names and text_field != "url"
    urls = batch.column("url").to_pylist() if has_url else [None] * len(texts)
    for text, url in zip(texts, urls, strict=True):
        _add_row(out, row, text, utf8_or_none(url), max_bytes)
        row += 1
    return len(texts)


def _add_arrow(
    batches: Iterator[pa.RecordBatch],
    columns: list[str],
    text_field: str,
    row: int,
    out: Collector,
    max_bytes: int,
) -> None:
    """IPC batches into `out`: an invalid batch's rows are quarantined, an unreadable one ends the read."""
    while True:
        try:
            batch = next(batches, None)
        except Exception as exc:  # the message itself is damaged: its row count is unknown
            out.truncated(row, f"read_error:{type(exc).__name__}")
            return
        if batch is None:
            return
        batch = batch.select(columns)
        try:
            batch.validate(full=True)  # IPC reads are zero-copy: check offsets before trusting them
            _add_batch(batch, text_field, row, out, max_bytes)
        except Exception as exc:
            _quarantine_rows(out, row, batch.num_rows, exc, "record batch")
        row += batch.num_rows


def _quarantine_rows(out: Collector, first: int, n: int, exc: BaseException, what: str) -> None:
    """Rows [first, first + n) are unreadable: one quarantined ledger row each, one warning."""
    reason = f"read_error:{type(exc).__name__}"
    for row in range(first, first + n):
        out.quarantine(row, reason, content_digest(f"row:{row}"))
    detail = " ".join("".join(c if c.isprintable() else " " for c in str(exc)).split())[:200]
    out.warnings.append(f"{out.path}: {what} unreadable from row {first} ({detail}); {n} rows quarantined")


def _add_row(out: Collector, row: int, text: Any, url: str | None, max_bytes: int) -> None:
    if not isinstance(text, str):
        out.quarantine(row, "missing_text_field", content_digest(f"row:{row}"))
        return
    if len(text) * 4 > max_bytes and (nbytes := len(text.encode("utf-8"))) > max_bytes:  # UTF-8: ≤ 4 B/char
        out.drop(row, "filtered", "record_too_large", content_digest(text), nbytes)
        return
    out.add(row, url, None, text=text)


def _is_string_type(t: pa.DataType) -> bool:
    is_view = getattr(pa.types, "is_string_view", lambda _: False)
    return pa.types.is_string(t) or pa.types.is_large_string(t) or is_view(t)


@contextlib.contextmanager
def _random_access(path: str) -> Iterator[Any]:
    """A memory map for local files (batches are zero-copy), else the fsspec file."""
    fs, local = fsspec.core.url_to_fs(path)
    if isinstance(fs, LocalFileSystem) and fs.size(local) > 0:  # an empty file cannot be mapped
        with pa.memory_map(local, "r") as mm:
            yield mm
    else:
        with fs.open(local, "rb") as fh:
            yield fh


def _size(fh: Any) -> int:
    fh.seek(0, 2)
    return fh.tell()
