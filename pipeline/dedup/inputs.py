"""The standalone dedup command's inputs as partitions of bounded size, read one at a time.

Inputs are planned with the pipeline's splits (pipeline/io/splits.py): byte ranges of an
uncompressed JSONL file, row-group ranges of Parquet, record-batch ranges of an Arrow IPC
file.  What cannot be split that way (a compressed JSONL file, an Arrow IPC stream, a row
group or record batch larger than the target) is first *cut*: one task streams it and
writes Arrow pieces of about the target size, each a partition.  So no task ever holds more
than about one partition of documents, whatever the size of an input.

A partition's table has `id` and `text` (strings) and, when the input has them, `url` and
`quality_score`: the user's columns, not the pipeline's record ids, which is why the
pipeline's readers (which number records and quarantine bad ones) are not used here.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.json as pajson
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from pipeline.core.atomic import write_arrow
from pipeline.dedup.plan import done_stats, finish
from pipeline.io.columnar import ARROW_FILE_MAGIC, arrow_batches, parquet_row_groups
from pipeline.io.compression import compression_of, open_decompressed
from pipeline.io.splits import WHOLE, Split, plan_splits

JSONL = (".jsonl", ".jsonl.gz", ".json", ".json.gz")
FORMATS = (*JSONL, ".parquet", ".arrow", ".feather")
OPTIONAL_COLUMNS = ("url", "quality_score")
PREFLIGHT_LINES = 100


@dataclass(frozen=True)
class Part:
    """One partition: `split` of the file at `path` (an input, or a piece the cut round wrote)."""

    path: str
    fmt: str  # jsonl | parquet | arrow
    split: Split
    source: str  # the input's file name, for the ledger
    input: int  # which input (its optional columns are decided over all its partitions)
    rows: int | None  # from a footer or the cut; None for JSONL (sampled: `estimate_rows`)


@dataclass(frozen=True)
class Cut:
    """Part of an input that must be streamed into pieces before it can be partitioned."""

    path: str
    fmt: str
    split: Split
    source: str
    input: int


@dataclass(frozen=True)
class Columns:
    id: str
    text: str


def format_of(path: Path) -> str:
    if not path.name.endswith(FORMATS):
        raise ValueError(f"--input {path}: unsupported format (use .jsonl[.gz], .parquet or .arrow)")
    return "jsonl" if path.name.endswith(JSONL) else "parquet" if path.name.endswith(".parquet") else "arrow"


def check_input(path: Path) -> None:
    """Fail before any work on a missing file or an unknown format."""
    format_of(path)
    if not path.is_file():
        raise FileNotFoundError(f"--input {path}: no such file")


def plan_inputs(inputs: list[Path], target: int, cols: Columns) -> list[Part | Cut]:
    """Every input's partitions (or the cuts that will make them), in input order."""
    items: list[Part | Cut] = []
    for i, path in enumerate(inputs):
        check_input(path)
        fmt, name, url = format_of(path), path.name, str(path)
        _check_columns(url, fmt, cols)
        if fmt == "jsonl" and compression_of(url) is not None:
            items.append(Cut(url, fmt, WHOLE, name, i))  # a decompressor cannot start mid-stream
            continue
        splits = plan_splits(url, fmt, target)
        if fmt == "jsonl":
            items += [Part(url, fmt, s, name, i, None) for s in splits]
            continue
        units = parquet_row_groups(url) if fmt == "parquet" else arrow_batches(url)
        if units is None:  # an Arrow IPC stream has no batch index
            items.append(Cut(url, fmt, WHOLE, name, i))
            continue
        for s in splits:
            chosen = units if s.kind == "whole" else units[s.start : s.end]
            if len(chosen) == 1 and chosen[0][1] > target:  # one row group / batch over the target
                items.append(Cut(url, fmt, s, name, i))
            else:
                items.append(Part(url, fmt, s, name, i, sum(r for r, _ in chosen)))
    return items


def _check_columns(path: str, fmt: str, cols: Columns) -> None:
    """Id and text columns present (schema, or the first JSONL records), before any work."""
    if fmt == "jsonl":
        seen: dict[str, None] = {}
        with open_decompressed(path) as (fh, _):
            for line in _lines(fh, PREFLIGHT_LINES):
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    seen |= dict.fromkeys(record if isinstance(record, dict) else ())
        names = list(seen)
    elif fmt == "parquet":
        with fsspec.open(path, "rb") as fh:
            names = pq.ParquetFile(fh).schema_arrow.names
    else:
        with _arrow_reader(path) as reader:
            names = reader.schema.names
    _require(path, names, cols)


def _lines(fh: io.BufferedIOBase, n: int) -> Iterator[bytes]:
    for _ in range(n):
        line = fh.readline()
        if not line:
            return
        if line.strip():
            yield line


def _require(path: str, names: list[str], cols: Columns) -> None:
    for f in (cols.id, cols.text):
        if f not in names:
            raise ValueError(f"--input {path}: no column {f!r} (columns: {names})")


def normalise(table: pa.Table, cols: Columns, path: str) -> pa.Table:
    """id (string), text (string) and, when present, url and quality_score."""
    _require(path, table.column_names, cols)
    out = {"id": table[cols.id].cast(pa.string()), "text": table[cols.text].cast(pa.string())}
    for c in OPTIONAL_COLUMNS:
        if c in table.column_names and c not in (cols.id, cols.text):
            out[c] = table[c].cast(pa.string() if c == "url" else pa.float64())
    return pa.table(out)


EMPTY = pa.schema([("id", pa.string()), ("text", pa.string())])
FULL = pa.schema([*EMPTY, ("url", pa.string()), ("quality_score", pa.float64())])
BATCH_BYTES = 4 << 20  # what a reader hands over at once: a task's memory follows this, not the partition


def full(table: pa.Table) -> pa.Table:
    """All of FULL's columns (nulls where the input has none), so every batch has one schema."""
    cols = [table[f.name] if f.name in table.column_names else pa.nulls(table.num_rows, f.type) for f in FULL]
    return pa.table(cols, schema=FULL)


def read_batches(part: Part | Cut, cols: Columns, batch_bytes: int = BATCH_BYTES) -> Iterator[pa.Table]:
    """A partition's documents as normalised tables of about `batch_bytes` each (a record larger
    than that is one table); a JSONL byte range yields the lines that start in it."""
    s = part.split
    if part.fmt == "jsonl":
        if s.kind == "bytes":
            with fsspec.open(part.path, "rb") as fh:
                pos = _line_start(fh, s.start)
                while pos < (s.end or 0) and (buf := fh.read(min(batch_bytes, (s.end or 0) - pos))):
                    buf += b"" if buf.endswith(b"\n") else fh.readline()
                    pos += len(buf)
                    yield parse_jsonl(buf, cols, part.path)
        else:
            with open_decompressed(part.path) as (fh, _):
                while buf := fh.read(batch_bytes):
                    buf += b"" if buf.endswith(b"\n") else fh.readline()
                    yield parse_jsonl(buf, cols, part.path)
    elif part.fmt == "parquet":
        with fsspec.open(part.path, "rb") as fh:
            pf = pq.ParquetFile(fh, pre_buffer=False, buffer_size=1 << 20)  # pages, not whole groups
            groups = list(range(pf.num_row_groups) if s.kind == "whole" else range(s.start, s.end or 0))
            meta = pf.metadata
            nrows = sum(meta.row_group(g).num_rows for g in groups)
            nbytes = sum(meta.row_group(g).total_byte_size for g in groups)
            rows = max(1, batch_bytes * nrows // max(1, nbytes))
            names = _wanted(pf.schema_arrow.names, cols)
            for b in pf.iter_batches(batch_size=rows, row_groups=groups, columns=names):
                yield normalise(pa.Table.from_batches([b]), cols, part.path)
    else:
        with _arrow_reader(part.path) as reader:
            if isinstance(reader, ipc.RecordBatchStreamReader):
                batches: Iterator[pa.RecordBatch] = iter(reader)
            else:
                idx = range(reader.num_record_batches) if s.kind == "whole" else range(s.start, s.end or 0)
                batches = map(reader.get_batch, idx)
            for b in batches:
                b = b.select(_wanted(b.schema.names, cols))
                step = max(1, b.num_rows * batch_bytes // max(1, b.nbytes))
                for lo in range(0, b.num_rows, step):  # slices of a memory-mapped batch copy nothing
                    yield normalise(pa.Table.from_batches([b.slice(lo, step)]), cols, part.path)


def _wanted(names: list[str], cols: Columns) -> list[str]:
    return [n for n in names if n in (cols.id, cols.text, *OPTIONAL_COLUMNS)]


def _line_start(fh: io.BufferedIOBase, start: int) -> int:
    """Seek to the first line that starts at or after `start` (Hadoop's rule, as
    pipeline/io/jsonl.py reads a range); returns its offset."""
    if start > 0:
        fh.seek(start - 1)
        if fh.read(1) != b"\n":
            fh.readline()  # the line begun in the previous range belongs to it
    return fh.tell()


def parse_jsonl(buf: bytes, cols: Columns, path: str) -> pa.Table:
    """JSON lines → normalised table; Arrow's parser as one block, Python's for what it refuses."""
    if not buf.strip():
        return EMPTY.empty_table()
    try:
        options = pajson.ReadOptions(block_size=len(buf) + 1)  # one block: no record straddles two
        table = pajson.read_json(pa.BufferReader(buf), read_options=options)
    except pa.ArrowInvalid:  # mixed types in a column: parse in Python
        text = buf.decode("utf-8")
        table = pa.Table.from_pylist([json.loads(line) for line in text.splitlines() if line.strip()])
    return normalise(table, cols, path)


@contextlib.contextmanager
def _arrow_reader(path: str) -> Iterator[ipc.RecordBatchFileReader | ipc.RecordBatchStreamReader]:
    """A file reader over a memory map where local (zero-copy batches), or a stream reader."""
    fs, local = fsspec.core.url_to_fs(path)
    mappable = isinstance(fs, LocalFileSystem) and fs.size(local) > 0
    with pa.memory_map(local, "r") if mappable else fs.open(local, "rb") as fh:
        magic = fh.read(len(ARROW_FILE_MAGIC))
        fh.seek(0)
        yield ipc.open_file(fh) if magic == ARROW_FILE_MAGIC else ipc.open_stream(fh)


def piece_path(work: Path, cut: int, piece: int) -> Path:
    return work / "input" / f"{cut:05d}-{piece:05d}.arrow"


def cut_task(item: tuple[int, Cut], work: Path, target: int, cols: Columns) -> dict:
    """Stream one unsplittable input (or oversize split) into Arrow pieces of about `target`
    bytes each; returns {"rows": rows of each piece}.  Holds one piece at a time."""
    k, cut = item
    marker = work / "cut" / f"{k:05d}"
    if (stats := done_stats(marker)) is not None:
        return stats
    rows: list[int] = []
    pending: list[pa.Table] = []
    size = 0

    def flush() -> None:
        nonlocal pending, size
        # promote: a column some JSONL batches lack becomes nulls there, as Arrow's reader does
        table = pa.concat_tables(pending, promote_options="default") if pending else EMPTY.empty_table()
        write_arrow(piece_path(work, k, len(rows)), table)
        rows.append(table.num_rows)
        pending, size = [], 0

    for table in read_batches(cut, cols, min(BATCH_BYTES, target)):
        pending.append(table)
        size += table.nbytes
        if size >= target:
            flush()
    if pending or not rows:
        flush()
    return finish(marker, {"rows": rows})


def expand(items: list[Part | Cut], cut_rows: dict[int, list[int]], work: Path) -> list[Part]:
    """Cuts replaced by their pieces: the job's partitions, in input order."""
    parts: list[Part] = []
    for k, item in enumerate(items):
        if isinstance(item, Part):
            parts.append(item)
        else:
            parts += [
                Part(str(piece_path(work, k, j)), "arrow", WHOLE, item.source, item.input, n)
                for j, n in enumerate(cut_rows[k])
            ]
    return parts


SAMPLE_WINDOWS, SAMPLE_BYTES = 16, 1 << 16


def estimate_rows(parts: list[Part]) -> int:
    """Rows of these partitions: exact where a footer or the cut says, else their bytes times their
    file's newlines per byte (this sizes the shuffle only, never a result)."""
    rows, density = 0, {}
    for part in parts:
        if part.rows is not None:
            rows += part.rows
            continue
        if part.path not in density:
            density[part.path] = _newline_density(part.path)
        size, per_byte = density[part.path]
        end = part.split.end if part.split.end is not None else size
        rows += round((end - part.split.start) * per_byte)
    return rows


def _newline_density(path: str) -> tuple[int, float]:
    """(size, newlines per byte) of a file, from a few evenly spaced windows: once per file,
    not per partition, so planning reads a few MB whatever the input size."""
    fs, local = fsspec.core.url_to_fs(path)
    size = fs.size(local)
    seen = newlines = 0
    with fs.open(local, "rb") as fh:
        for at in range(0, size, max(SAMPLE_BYTES, size // SAMPLE_WINDOWS)):
            fh.seek(at)
            window = fh.read(SAMPLE_BYTES)
            seen += len(window)
            newlines += window.count(b"\n")
    return size, newlines / max(1, seen)
