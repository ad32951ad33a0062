"""WARC and WET files (.warc, .warc.gz, any fsspec URL) → raw records.

Parsed with FastWARC, not warcio: about 2.5x faster with identical records (figures:
bench/results/2026-12-07-measurements-moved-from-code.md).  FastWARC is lenient about damage,
so this module adds the checks warcio made for us: a record shorter than its Content-Length, a
record whose headers were cut off, and a .gz file that ends inside a gzip member after the
last whole record all count as a truncated file.

Damage in the middle of a file costs only what it hits.  A Content-Length that lies (a
record claiming 1 TB in a `.warc.gz` written one gzip member per record would otherwise
swallow every member after it, as FastWARC reads the inflated stream continuously) makes
that record one `read_error:bad_content_length` row, and reading resumes at the next record:
the next gzip member that inflates to `WARC/`, or in a plain `.warc` the next `WARC/1.` at a
line start.  A record is checked only when it is suspicious: it claims more than
`max_record_bytes` (checked before it is streamed), the file ends inside it (a lie if a record
starts after it, else a truncated file), or the next header fails to parse (so a record is
passed on only once the header after it parses).  Other unparseable stretches (a corrupt member, junk between records) are one
quarantined row each, and reading resumes after them the same way.

Documents are `response` (HTTP) and `resource` records, and WET `conversion` records,
which hold already-extracted plain text (marked text/plain so no HTML extraction runs).
Before a payload is kept, records are filtered (ledger rows, never silent) by HTTP status
(`http_status:<code>`), by type (`non_text_payload`: declared Content-Type, Common Crawl's
WARC-Identified-Payload-Type, then the payload's first bytes; `mime_type_not_selected`: a
text type outside `read.mime_types`) and by size (`record_too_large`); filtered payloads are
only streamed through a hash, never held.

Splits: a `.warc.gz` written one gzip member per record (the WARC standard's advice, and
what Common Crawl and every crawler we know write) can be cut into byte ranges; a range owns
the records whose member starts in it, found by scanning for the gzip magic and checking that
the member inflates to `WARC/`.  So a 1 GB crawl file is several bounded-memory tasks, and
reading it whole or range by range gives the same records, offsets and ids.  A plain
`.warc`, or a `.warc.gz` compressed as one member, is one partition: its record boundaries
cannot be found from an arbitrary offset without reading from the start.
"""

from __future__ import annotations

import hashlib
import zlib
from typing import Any

import fsspec
from fastwarc.warc import ArchiveIterator, WarcRecord, WarcRecordType

from pipeline.io.collector import Collector, utf8_or_none
from pipeline.io.http_body import BadEncoding, BodyTooLarge, decode_body
from pipeline.io.payload import SNIFF_BYTES, is_text_mime, looks_binary, mime_type
from pipeline.records.ids import content_digest

DOC_TYPES = WarcRecordType.response | WarcRecordType.resource | WarcRecordType.conversion
CHUNK = 1 << 20
BAD_LENGTH = "read_error:bad_content_length"


def read_warc(
    path: str,
    out: Collector,
    max_record_bytes: int,
    start: int = 0,
    end: int | None = None,
    mime_types: frozenset[str] | None = None,
) -> None:
    """The records of one WARC file (or of its byte range [start, end)) into `out`.

    A damaged tail becomes one quarantined row.  A range after the first begins at the first
    gzip member that starts in it; a record starting at or after `end` belongs to the next.
    """
    with fsspec.open(path, "rb", compression=None) as fh:
        head = fh.read(2)
        fh.seek(0)
        if not head:
            return  # 0-byte file: no records
        gzipped = head == b"\x1f\x8b"
        offset = next_member(fh, start, end) if start > 0 else 0  # where this range's records begin
        run = _Run(path, fh, out, gzipped, _size(fh), end, max_record_bytes, mime_types)
        while offset is not None and (end is None or offset < end):
            offset = run.read_from(offset)


class _Staged:
    """A record's `add`/`drop` calls, held until the next header shows where the record really ended."""

    __slots__ = ("calls",)

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def add(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("add", args, kwargs))

    def drop(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(("drop", args, kwargs))

    def commit(self, out: Collector) -> None:
        for name, args, kwargs in self.calls:
            getattr(out, name)(*args, **kwargs)


class _Run:
    """Reads with FastWARC from an offset until the end, or until damage it can resume after."""

    def __init__(
        self,
        path: str,
        fh: Any,
        out: Collector,
        gzipped: bool,
        size: int,
        end: int | None,
        max_bytes: int,
        mime_types: frozenset[str] | None,
    ) -> None:
        self.path, self.fh, self.out, self.gzipped, self.size, self.end = path, fh, out, gzipped, size, end
        self.max_bytes, self.mime_types = max_bytes, mime_types
        self.truncated_reason = "read_error:truncated_gzip" if gzipped else "read_error:truncated_record"

    def read_from(self, begin: int) -> int | None:
        """Read records from `begin`; the offset to resume at after damage, or None when done."""
        fh, out = self.fh, self.out
        fh.seek(begin)
        last: int | None = None  # start of the last record committed
        pending: tuple[int, int | None, _Staged] | None = None  # (pos, Content-Length, its calls)
        try:
            for rec in ArchiveIterator(fh, parse_http=True):
                pos = rec.stream_pos
                if pending is not None:  # this header parsed: the previous record ended where it said
                    pending[2].commit(out)
                    last, pending = pending[0], None
                if self.end is not None and pos >= self.end:
                    return None  # owned by the next range
                claimed = _content_length(rec)
                if claimed is not None and claimed > self.max_bytes:  # before streaming it all, check it
                    at = fh.tell()
                    fits = self._fits(pos, claimed)
                    fh.seek(at)  # FastWARC reads on from where it was
                    if not fits:
                        return self._bad_length(pos, claimed)
                staged = _Staged()
                if not _take(rec, pos, staged, self.max_bytes, self.mime_types):  # the file ended inside
                    if self._resync(pos) is None:
                        out.truncated(pos, self.truncated_reason, _remaining(fh, pos))
                        return None
                    return self._bad_length(pos, claimed)  # yet records follow: the length lied
                pending = (pos, claimed, staged)
        except Exception as exc:  # damaged file: keep what was read, quarantine up to the next record
            if pending is not None:
                pos, claimed, staged = pending
                if claimed is not None and not self._fits(pos, claimed):
                    return self._bad_length(pos, claimed)  # it ran into the next record's bytes
                staged.commit(out)
                last = pos
            bad = begin if last is None else _record_end(fh, last, self.gzipped) or last
            resume = self._resync(bad)
            stop = (
                resume
                if resume is not None
                else (self.size if self.end is None else min(self.end, self.size))
            )
            out.truncated(bad, _error_reason(exc, self.gzipped), max(stop - bad, 0))
            return resume
        if pending is not None:
            pending[2].commit(out)
            last = pending[0]
        if self.gzipped and (self.end is None or self.end >= self.size):
            # FastWARC stops silently when the file ends inside a member
            tail = _record_end(fh, begin if last is None else last, self.gzipped)
            if tail is None and last is None:
                tail = begin  # not even the first member is whole
            if tail is not None and tail < self.size:
                out.truncated(tail, self.truncated_reason, _remaining(fh, tail))
        return None

    def _fits(self, pos: int, claimed: int) -> bool:
        """Whether the record at `pos` ends where its Content-Length says: with CRLF CRLF, then the
        next record (`WARC/`) or the end of its gzip member (plain file: of the file).

        A plain record followed by something else still fits if no record header starts inside
        its claimed extent (junk after a good record is the junk's fault).  True when it cannot be
        told (the record is not the first of its gzip member).
        """
        if self.gzipped:
            return _member_fits(self.fh, pos, claimed) is not False
        self.fh.seek(pos)
        head = self.fh.read(1 << 16)
        sep = head.find(b"\r\n\r\n")
        if sep < 0:
            return False
        stop = pos + sep + 4 + claimed
        self.fh.seek(stop)
        after = self.fh.read(9)
        if after[:4] != b"\r\n\r\n":
            return False
        if after[4:] == b"WARC/" or stop + 4 == self.size:
            return True
        header = self._next_header(pos, stop + 4)
        return header is None or header >= stop + 4

    def _resync(self, pos: int) -> int | None:
        """Where the next record after `pos` starts: a gzip member inflating to WARC/, or `WARC/1.` at a line start."""
        if self.gzipped:
            return next_member(self.fh, pos + 1, self.end)
        return self._next_header(pos, None)

    def _next_header(self, pos: int, limit: int | None) -> int | None:
        """The first `WARC/1.` at a line start after `pos` (and before `limit`), scanned in bounded chunks."""
        at = pos + 1
        while limit is None or at < limit:
            self.fh.seek(at)
            chunk = self.fh.read(CHUNK)
            found = chunk.find(b"\nWARC/1.")
            if found >= 0:
                return at + found + 1
            if len(chunk) < CHUNK:
                return None
            at += len(chunk) - 7  # the marker may straddle two chunks
        return None

    def _bad_length(self, pos: int, claimed: int | None) -> int | None:
        """Quarantine the record at `pos`, whose Content-Length overruns it; the offset to resume at."""
        resume = self._resync(pos)
        stop = resume if resume is not None else self.size
        self.out.quarantine(pos, BAD_LENGTH, "bad_content_length", stop - pos)
        where = "its gzip member" if self.gzipped else "the bytes before the next record"
        then = f"reading resumes at offset {resume}" if resume is not None else "no record follows"
        self.out.warnings.append(
            f"{self.path}: record at offset {pos}: Content-Length {claimed} does not match {where}; "
            f"quarantined ({BAD_LENGTH}), {then}"
        )
        return resume


def _content_length(rec: WarcRecord) -> int | None:
    try:
        return int(rec.headers.get("Content-Length"))
    except (TypeError, ValueError):
        return None


def _member_fits(fh: Any, pos: int, claimed: int) -> bool | None:
    """Whether the record first in the gzip member at `pos`, claiming `claimed` bytes, ends in it:
    CRLF CRLF at its claimed end, then the member's end or the next record (`WARC/`).

    Inflates the member in bounded pieces, at most up to just past the record's claimed end;
    None when the member does not start with this record (a single-member file: cannot tell).
    """
    fh.seek(pos)
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    head = window = pending = b""
    stop: int | None = None  # inflated offset of the CRLF CRLF that must end the record
    seen = 0
    try:
        while True:
            data = pending or (b"" if d.eof else fh.read(CHUNK))
            piece = b"" if d.eof else d.decompress(data, CHUNK)  # b"": what zlib still holds
            pending = b"" if d.eof else d.unconsumed_tail
            if not piece and not pending and (d.eof or not data):
                # the member (or the file) ended: fits if it ended right after CRLF CRLF
                return d.eof and stop is not None and seen == stop + 4 and window == b"\r\n\r\n"
            if stop is None:
                head += piece
                sep = head.find(b"\r\n\r\n")
                if sep < 0:
                    if len(head) > 1 << 16:
                        return None
                    continue
                if not head.startswith(b"WARC/") or _header_length(head[:sep]) != claimed:
                    return None
                stop, piece, seen = sep + 4 + claimed, head, 0
            lo = max(stop - seen, 0)
            window += piece[lo : lo + 9 - len(window)]
            seen += len(piece)
            if len(window) == 9:
                return window == b"\r\n\r\nWARC/"
    except zlib.error:
        return None if stop is None else False


def _header_length(block: bytes) -> int | None:
    for line in block.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


GZIP_MAGIC = b"\x1f\x8b\x08"


def next_member(fh: Any, offset: int, limit: int | None = None) -> int | None:
    """Offset of the first gzip member at or after `offset` (and before `limit`) holding a WARC record.

    A candidate is the gzip magic followed by data that inflates to `WARC/`: the magic can
    occur by chance inside compressed data, the inflated prefix practically cannot.
    """
    pos = offset
    while limit is None or pos < limit:
        fh.seek(pos)
        chunk = fh.read(CHUNK + 2)
        if len(chunk) < 3:
            return None
        at = chunk.find(GZIP_MAGIC)
        if at < 0:
            pos += len(chunk) - 2  # the magic may straddle two chunks
            continue
        cand = pos + at
        if limit is not None and cand >= limit:
            return None
        if _inflates_to_warc(fh, cand):
            return cand
        pos = cand + 1
    return None


def _inflates_to_warc(fh: Any, pos: int) -> bool:
    fh.seek(pos)
    try:
        head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(fh.read(1 << 12), 16)
    except zlib.error:
        return False
    return head.startswith(b"WARC/")


def is_multi_member_gzip(path: str) -> bool:
    """True when the file's first gzip member ends before the file does (one member per record)."""
    with fsspec.open(path, "rb", compression=None) as fh:
        if fh.read(2) != b"\x1f\x8b":
            return False
        end = _record_end(fh, 0, True)
        return end is not None and end < _size(fh) and _inflates_to_warc(fh, end)


def _take(
    rec: WarcRecord,
    pos: int,
    out: Collector | _Staged,
    max_bytes: int,
    mime_types: frozenset[str] | None = None,
) -> bool:
    """Read one record into `out`; False when the file ended inside it."""
    size = rec.content_length  # of the payload: FastWARC has already read the HTTP headers
    if rec.headers.get("Content-Length") is None:
        return False  # headers cut off: FastWARC yields the fragment as an empty record
    if not rec.record_type & DOC_TYPES:
        return rec.reader.consume() >= size
    url = utf8_or_none(rec.headers.get("WARC-Target-URI"))
    status, content_type, transfer, encoding = _http_fields(rec)
    if rec.is_http and status is None:
        reason, decision = "bad_http_header", "quarantined"
    elif status is not None and status != 200:
        reason, decision = f"http_status:{status}", "filtered"
    elif content_type is not None and not is_text_mime(content_type):
        reason, decision = "non_text_payload", "filtered"
    elif mime_types is not None and content_type is not None and mime_type(content_type) not in mime_types:
        reason, decision = "mime_type_not_selected", "filtered"
    elif size > max_bytes:
        reason, decision = "record_too_large", "filtered"
    else:
        reason = decision = ""
    if reason:
        digest, n = _hash_rest(rec)
        if n < size:
            return False
        out.drop(pos, decision, reason, digest, n)
        return True
    body = rec.reader.read()
    if len(body) < size:
        return False
    try:
        payload = decode_body(body, transfer, encoding, max_bytes)
    except BodyTooLarge:
        out.drop(pos, "filtered", "record_too_large", content_digest(body), len(body))
        return True
    except BadEncoding:
        out.drop(pos, "quarantined", "content_encoding_error", content_digest(body), len(body))
        return True
    if looks_binary(payload[:SNIFF_BYTES]):
        out.drop(pos, "filtered", "non_text_payload", content_digest(payload), len(payload))
        return True
    out.add(pos, url, content_type, payload=payload)
    return True


def _http_fields(rec: WarcRecord) -> tuple[int | None, str | None, str | None, str | None]:
    """(HTTP status, effective Content-Type, Transfer-Encoding, Content-Encoding)."""
    identified = rec.headers.get("WARC-Identified-Payload-Type")
    if rec.record_type == WarcRecordType.conversion:
        return None, "text/plain", None, None  # WET: extracted text, UTF-8 by definition
    if not rec.is_http:
        return None, _content_type(rec.headers.get("Content-Type"), identified), None, None
    http = rec.http_headers
    content_type = _content_type(http.get("Content-Type"), identified)
    return http.status_code, content_type, http.get("Transfer-Encoding"), http.get("Content-Encoding")


def _content_type(declared: str | None, identified: str | None) -> str | None:
    """The declared Content-Type, unless a crawler's content sniffing says otherwise.

    Common Crawl's WARC-Identified-Payload-Type comes from looking at the bytes, so it wins
    over a server's label; the declared charset parameter is kept.
    """
    ident = mime_type(identified)
    if ident is None or ident == mime_type(declared):
        return declared
    params = declared.split(";", 1)[1] if declared and ";" in declared else ""
    return f"{ident};{params}" if params else ident


def _hash_rest(rec: WarcRecord) -> tuple[str, int]:
    """Digest (as `content_digest`) and length of the unread payload, in bounded memory."""
    h = hashlib.blake2b(digest_size=8)
    n = 0
    while chunk := rec.reader.read(CHUNK):
        h.update(chunk)
        n += len(chunk)
    return h.hexdigest(), n


def _record_end(fh: Any, pos: int, gzipped: bool) -> int | None:
    """File offset just past the record (or gzip member) starting at `pos`; None if unknown."""
    try:
        fh.seek(pos)
        if gzipped:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            fed = 0
            while not d.eof:
                chunk = fh.read(CHUNK)
                if not chunk:
                    return None  # ends inside the member
                fed += len(chunk)
                d.decompress(chunk, 1)  # output is not needed; keep it tiny
                while d.unconsumed_tail and not d.eof:
                    d.decompress(d.unconsumed_tail, CHUNK)
            return pos + fed - len(d.unused_data)
        head = fh.read(1 << 16)
        sep = head.find(b"\r\n\r\n")
        length = _header_length(head[:sep]) if sep > 0 else None
        return None if length is None else pos + sep + 4 + length + 4
    except (zlib.error, ValueError, OSError):
        return None


def _size(fh: Any) -> int:
    fh.seek(0, 2)
    return fh.tell()


def _remaining(fh: Any, offset: int) -> int:
    """Bytes of the file from `offset` to its end, for the ledger (0 if unknown)."""
    try:
        return max(_size(fh) - offset, 0)
    except Exception:
        return 0


def _error_reason(exc: BaseException, gzipped: bool) -> str:
    msg = str(exc).lower()
    if gzipped and "gzip" in msg:
        return "read_error:bad_gzip"
    if "warc header" in msg:
        return "read_error:bad_warc_header"
    return f"read_error:{type(exc).__name__}"
