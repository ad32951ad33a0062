"""Read one input file (WARC, JSONL or Parquet) into a raw Arrow batch.

Readers never raise for a damaged file: every readable record is returned and whatever
could not be read becomes a quarantined ledger row, so the ledger still balances and the
report names the file.  A *configuration* problem (a Parquet file without the configured
text column) does raise, because rerunning will not fix it.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
from warcio.archiveiterator import ArchiveIterator

from pipeline import ledger
from pipeline.ids import content_digest, make_id

STAGE = "read"
DOC_RECORD_TYPES = ("response", "resource")  # request/metadata/warcinfo/revisit are not documents

RAW_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("source", pa.string()),
        ("url", pa.string()),
        ("content_type", pa.string()),
        ("payload", pa.binary()),
        ("text", pa.string()),
        ("input", pa.string()),
        ("offset", pa.int64()),
        ("bytes", pa.int64()),
    ]
)


@dataclass(frozen=True)
class PartitionRead:
    batch: pa.Table  # RAW_SCHEMA
    quarantined: pa.Table  # ledger rows, stage "read"
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Collector:
    """Accumulates records column-wise (cheaper than one dict per record)."""

    source: str
    path: str
    cols: dict[str, list[Any]] = field(default_factory=lambda: {n: [] for n in RAW_SCHEMA.names})
    bad_ids: list[str] = field(default_factory=list)
    bad_reasons: list[str] = field(default_factory=list)
    bad_bytes: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(
        self,
        offset: int,
        url: str | None,
        content_type: str | None,
        payload: bytes | None = None,
        text: str | None = None,
    ) -> None:
        body = payload if payload is not None else text or ""
        locator = url or f"{self.path}:{offset}"
        nbytes = len(payload) if payload is not None else len((text or "").encode("utf-8", "surrogatepass"))
        row = {
            "id": make_id(self.source, locator, content_digest(body)),
            "source": self.source,
            "url": url,
            "content_type": content_type,
            "payload": payload,
            "text": text,
            "input": self.path,
            "offset": offset,
            "bytes": nbytes,
        }
        for name, value in row.items():
            self.cols[name].append(value)

    def quarantine(self, offset: int, reason: str, digest: str, nbytes: int = 0) -> None:
        self.bad_ids.append(make_id(self.source, f"{self.path}:{offset}", digest))
        self.bad_reasons.append(reason)
        self.bad_bytes.append(nbytes)

    def truncated(self, offset: int, reason: str, nbytes: int = 0) -> None:
        """The rest of the file from `offset` is unreadable: one ledger row, one warning."""
        self.quarantine(offset, reason, "truncated", nbytes)
        kept = len(self.cols["id"])
        self.warnings.append(f"{self.path}: unreadable from offset {offset} ({reason}); kept {kept} records")

    def result(self) -> PartitionRead:
        batch = pa.table(self.cols, schema=RAW_SCHEMA)
        n = len(self.bad_ids)
        bad = ledger.rows(
            self.bad_ids, [self.source] * n, STAGE, "quarantined", self.bad_reasons, nbytes=self.bad_bytes
        )
        return PartitionRead(batch, bad, self.warnings)


def read_partition(
    path: str, source: str, fmt: Literal["warc", "jsonl", "parquet"], text_field: str = "text"
) -> PartitionRead:
    """Read one file (any fsspec URL) into RAW_SCHEMA rows plus quarantined ledger rows."""
    out = _Collector(source, path)
    if fmt == "warc":
        _read_warc(path, out)
    elif fmt == "jsonl":
        _read_jsonl(path, text_field, out)
    elif fmt == "parquet":
        _read_parquet(path, text_field, out)
    else:
        raise ValueError(f"unknown input format {fmt!r} for {path} (expected warc, jsonl or parquet)")
    return out.result()


def _error_reason(exc: BaseException, gzipped: bool) -> str:
    if isinstance(exc, EOFError | zlib.error) and gzipped:
        return "read_error:truncated_gzip"
    return f"read_error:{type(exc).__name__}"


# --- WARC -------------------------------------------------------------------------------


def _remaining(fh: Any, offset: int) -> int:
    """Bytes of the file from `offset` to its end, for the ledger (0 if unknown)."""
    try:
        fh.seek(0, 2)
        return max(fh.tell() - offset, 0)
    except Exception:
        return 0


def _read_warc(path: str, out: _Collector) -> None:
    # warcio decompresses gzip member by member itself, so the file is opened raw and offsets
    # are positions in the .warc.gz (what CDX indexes use for random access).
    gzipped = path.endswith(".gz")
    with fsspec.open(path, "rb", compression=None) as fh:
        records = ArchiveIterator(fh)
        try:
            for rec in records:
                offset = records.offset  # start of this record; valid until its end is read
                if rec.format != "warc":  # warcio falls back to ARC parsing on anything else
                    out.truncated(offset, "read_error:not_warc", _remaining(fh, offset))
                    return
                complete = _read_warc_record(rec, offset, out)
                if not complete:
                    reason = "read_error:truncated_gzip" if gzipped else "read_error:truncated_record"
                    out.truncated(offset, reason, _remaining(fh, offset))
                    return
        except Exception as exc:  # damaged file: keep what was read, quarantine the rest
            offset = records.offset
            out.truncated(offset, _error_reason(exc, gzipped), _remaining(fh, offset))
            return
        # warcio also stops silently when a file ends inside a record's headers: anything
        # between the end of the last whole record and the end of the file was lost
        rest = _remaining(fh, records.offset)
        if rest:
            reason = "read_error:truncated_gzip" if gzipped else "read_error:trailing_data"
            out.truncated(records.offset, reason, rest)


def _read_warc_record(rec: Any, offset: int, out: _Collector) -> bool:
    """Add one document record; False when the file ended inside it (truncated)."""
    if rec.rec_type in DOC_RECORD_TYPES:
        url = rec.rec_headers.get_header("WARC-Target-URI")
        headers = rec.http_headers if rec.http_headers is not None else rec.rec_headers
        content_type = headers.get_header("Content-Type")
        payload = rec.content_stream().read()
    # drain what is left of the record block and check it was all there: warcio silently
    # returns short reads when a .warc.gz ends mid-record, and a record whose headers were
    # cut off has no Content-Length (so its block is not length-limited at all)
    while rec.raw_stream.read(1 << 16):
        pass
    left = getattr(rec.raw_stream, "limit", None)
    if left is None or left > 0:
        return False
    if rec.rec_type in DOC_RECORD_TYPES:
        out.add(offset, url, content_type, payload=payload)
    return True


# --- JSONL ------------------------------------------------------------------------------


def _numbered_lines(fh: Any) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line) for non-blank lines."""
    for lineno, line in enumerate(fh, start=1):
        if line.strip():
            yield lineno, line


def _read_jsonl(path: str, text_field: str, out: _Collector) -> None:
    gzipped = path.endswith(".gz")
    parsed = with_text = bad = 0
    lineno = 0
    with fsspec.open(path, "rb", compression="infer") as fh:
        lines = _numbered_lines(fh)
        while True:
            try:
                item = next(lines, None)
            except Exception as exc:  # truncated .gz, I/O error: quarantine the rest
                out.truncated(lineno + 1, _error_reason(exc, gzipped))
                break
            if item is None:
                break
            lineno, line = item
            record = _parse_line(line)
            text = record.get(text_field) if record is not None else None
            if record is not None:
                parsed += 1
            if not isinstance(text, str):
                reason = "malformed_json" if record is None else "missing_text_field"
                out.quarantine(lineno, reason, content_digest(line), len(line))
                bad += 1
                continue
            with_text += 1
            url = record.get("url")
            out.add(lineno, url if isinstance(url, str) and url else None, None, text=text)
    if parsed and not with_text:
        raise ValueError(f"{path}: no JSON record has a string field {text_field!r} (check text_field)")
    if bad:
        out.warnings.append(f"{path}: {bad} lines quarantined (malformed JSON or no {text_field!r} string)")


def _parse_line(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return record if isinstance(record, dict) else None


# --- Parquet ----------------------------------------------------------------------------


def _read_parquet(path: str, text_field: str, out: _Collector) -> None:
    with fsspec.open(path, "rb", compression=None) as fh:
        if fh.read(1) == b"":
            return  # 0-byte file: nothing to read
        fh.seek(0)
        try:
            pf = pq.ParquetFile(fh)
        except Exception as exc:
            out.truncated(0, f"read_error:{type(exc).__name__}", _remaining(fh, 0))
            return
        schema = pf.schema_arrow
        if text_field not in schema.names:
            raise ValueError(f"{path}: text column {text_field!r} not found (columns: {schema.names})")
        text_type = schema.field(text_field).type
        if not _is_string_type(text_type):
            raise ValueError(f"{path}: text column {text_field!r} has type {text_type}, expected string")
        names = schema.names
        columns = [text_field] + (["url"] if "url" in names and text_field != "url" else [])
        row = 0
        try:
            for batch in pf.iter_batches(columns=columns):
                texts = batch.column(text_field).to_pylist()
                urls = batch.column("url").to_pylist() if "url" in columns else [None] * len(texts)
                for text, url in zip(texts, urls, strict=True):
                    if isinstance(text, str):
                        out.add(row, url if isinstance(url, str) and url else None, None, text=text)
                    else:
                        out.quarantine(row, "missing_text_field", content_digest(f"row:{row}"))
                    row += 1
        except Exception as exc:
            out.truncated(row, f"read_error:{type(exc).__name__}")


def _is_string_type(t: pa.DataType) -> bool:
    is_view = getattr(pa.types, "is_string_view", lambda _: False)
    return pa.types.is_string(t) or pa.types.is_large_string(t) or is_view(t)
