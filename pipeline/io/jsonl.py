"""JSON Lines (.jsonl, .jsonl.gz, .jsonl.zst, .bz2, .xz; any fsspec URL) → text records.

A record's offset is the absolute byte offset of its line in the (decompressed) stream, so
ids do not depend on how the file was split.  An uncompressed file splits into byte ranges
(Hadoop's rule: a range owns every line that *starts* inside it, reading past its end to
finish the last one); a compressed file is one partition, since a decompressor cannot start
mid-stream.

Lines are read with a length cap, so a record larger than `max_record_bytes` is streamed
through a hash and filtered (`record_too_large`) without being held.  JSON is UTF-8 by
definition (RFC 8259): a line with invalid UTF-8, or whose strings hold lone surrogates
(`"\\ud800"`), is quarantined as `invalid_utf8` rather than decoded with replacement
characters, so bad bytes never reach training text silently and the ledger shows how many
a source has.

Hostile lines cost one ledger row each, never the job: a line nested deeper than
`MAX_JSON_DEPTH` is quarantined as `json_too_deep` before `json.loads` sees it (CPython's
parser recurses once per level, and whether a 1,000-deep line raises `RecursionError`
depends on the stack it runs on and the Python version, so the limit is counted here);
anything else `json.loads` raises on one line makes it `malformed_json`.  A compressed file
that inflates past `max_inflated_bytes` (a decompression bomb, or a file far larger than it
looks) has its rest quarantined as one `read_error:inflated_over_cap` row; at most about 1 MiB
past the cap is inflated.
"""

from __future__ import annotations

import hashlib
import json
from typing import IO, Any

import numpy as np

from pipeline.config.read import ReadConfig
from pipeline.io.collector import Collector, InputConfigError, utf8_or_none
from pipeline.io.compression import open_decompressed
from pipeline.records.ids import content_digest

CHUNK = 1 << 20
PREFLIGHT_LINES = 100
# Real records nest a few levels; 512 stays well inside CPython's default recursion limit (1,000)
# from whatever stack depth a worker parses at.
MAX_JSON_DEPTH = 512
DEFAULT_MAX_INFLATED_BYTES: int = ReadConfig.model_fields["max_inflated_bytes"].default


class _OverCap(Exception):
    """The compressed file inflated past `max_inflated_bytes`."""


def read_jsonl(
    path: str,
    text_field: str,
    out: Collector,
    max_record_bytes: int,
    start: int = 0,
    end: int | None = None,
    max_inflated_bytes: int = DEFAULT_MAX_INFLATED_BYTES,
) -> None:
    """Lines starting in [start, end) of one JSONL file into `out` (end None: to the end).

    A whole file in which no record has `text_field` raises (a config error); in a split such
    lines are only quarantined, since one range may hold nothing but odd records.
    """
    parsed = with_text = bad = 0
    with open_decompressed(path) as (fh, codec):
        if codec is not None and (start or end is not None):
            raise ValueError(f"{path}: a {codec}-compressed JSONL file cannot be read in byte ranges")
        pos = _seek_line_start(fh, start)
        cap = max_inflated_bytes if codec is not None else None
        while end is None or pos < end:
            try:
                line, nbytes, digest = _read_line(fh, max_record_bytes, None if cap is None else cap - pos)
            except _OverCap:
                out.truncated(pos, "read_error:inflated_over_cap")
                break
            except Exception as exc:  # truncated or corrupt compressed file, I/O error
                reason = f"read_error:truncated_{codec}" if isinstance(exc, EOFError) and codec else None
                out.truncated(pos, reason or f"read_error:{type(exc).__name__}")
                break
            if not nbytes:
                break
            offset, pos = pos, pos + nbytes
            if line is None:
                out.drop(offset, "filtered", "record_too_large", digest, nbytes)
                continue
            if not line.strip():
                pos += _skip_newlines(fh)  # blank lines are not records; a flood of them is skipped in bulk
                continue
            record, reason = _parse(line, text_field)
            parsed += record is not None
            if reason:
                out.quarantine(offset, reason, content_digest(line), len(line))
                bad += 1
                continue
            with_text += 1
            out.add(offset, utf8_or_none(record.get("url")), None, text=record[text_field])
    if parsed and not with_text and not start and end is None:  # splits: `check_jsonl` at planning
        raise InputConfigError(f"{path}: no JSON record has a string field {text_field!r} (check text_field)")
    if bad:
        out.warnings.append(
            f"{path}: {bad} lines quarantined (malformed JSON, invalid UTF-8 or no {text_field!r})"
        )


def _skip_newlines(fh: IO[bytes]) -> int:
    """Consume the run of b"\\n" bytes at the stream's position, a buffer at a time (one
    `readline` each would cost a Python call per byte); returns how many were skipped."""
    peek = getattr(fh, "peek", None)
    if peek is None:
        return 0
    skipped = 0
    while True:
        buf = peek(CHUNK)[:CHUNK]
        run = len(buf) - len(buf.lstrip(b"\n"))
        if not run:
            return skipped
        fh.read(run)
        skipped += run
        if run < len(buf):
            return skipped


def check_jsonl(path: str, text_field: str) -> None:
    """Fail before any work if the file's first records lack `text_field` (a config error)."""
    parsed = 0
    with open_decompressed(path) as (fh, _):
        for _ in range(PREFLIGHT_LINES):
            line, nbytes, _digest = _read_line(fh, CHUNK)
            if not nbytes:
                break
            if line is None or not line.strip():
                continue
            record, _reason = _parse(line, text_field)
            if record is not None and isinstance(record.get(text_field), str):
                return
            parsed += record is not None
    if parsed:
        raise InputConfigError(
            f"{path}: none of the first {parsed} JSON records has a string field {text_field!r} (check text_field)"
        )


def _seek_line_start(fh: IO[bytes], start: int) -> int:
    """Position `fh` at the first line starting at or after `start`; return that offset."""
    if start <= 0:
        return 0
    fh.seek(start - 1)
    if fh.read(1) == b"\n":
        return start
    pos = start
    while True:  # skip the line that began in the previous range, in bounded chunks
        chunk = fh.readline(CHUNK)
        pos += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return pos


def _read_line(fh: IO[bytes], max_bytes: int, budget: int | None = None) -> tuple[bytes | None, int, str]:
    """(line, its length in bytes, '') or, for a line over `max_bytes`, (None, length, digest).

    Reads in 1 MiB pieces and, once a line is known to be too long, only hashes the rest,
    so at most `max_bytes` + 1 MiB of one line is ever held.  Raises `_OverCap` once more
    than `budget` bytes are read (checked per piece).
    """
    parts: list[bytes] = []
    n = 0
    h = None
    while True:
        chunk = fh.readline(CHUNK)
        n += len(chunk)
        if budget is not None and n > budget:
            raise _OverCap
        if h is not None:
            h.update(chunk)
        else:
            parts.append(chunk)
            content = n - 1 if chunk.endswith(b"\n") else n
            if content > max_bytes:  # too long: hash what we hold and drop it
                h = hashlib.blake2b(digest_size=8)
                for part in parts:
                    h.update(part)
                parts = []
        if not chunk or chunk.endswith(b"\n"):
            break
    if h is not None:
        return None, n, h.hexdigest()
    return parts[0] if len(parts) == 1 else b"".join(parts), n, ""


def _parse(line: bytes, text_field: str) -> tuple[dict[str, Any] | None, str]:
    """(record, '') for a usable line, else (record or None, quarantine reason)."""
    try:
        decoded = line.decode("utf-8")
    except UnicodeDecodeError:
        return None, "invalid_utf8"
    if _too_deep(line):
        return None, "json_too_deep"
    try:
        record = json.loads(decoded)
    except Exception:  # ValueError for bad JSON; whatever else one line can provoke stays its own
        return None, "malformed_json"
    if not isinstance(record, dict):
        return None, "malformed_json"
    text = record.get(text_field)
    if not isinstance(text, str):
        return record, "missing_text_field"
    if text and utf8_or_none(text) is None:
        return record, "invalid_utf8"  # lone surrogates from \\uD800-style escapes
    return record, ""


def _too_deep(line: bytes) -> bool:
    """Whether `line` opens more than MAX_JSON_DEPTH arrays/objects at once (brackets in strings aside).

    Vectorised (no Python loop over a hostile line): a bracket is inside a string when an odd
    number of unescaped quotes precede it (a quote is escaped by an odd run of backslashes).
    """
    if line.count(b"[") + line.count(b"{") <= MAX_JSON_DEPTH:
        return False  # the common case: too few brackets to be that deep
    b = np.frombuffer(line, np.uint8)
    quotes = np.flatnonzero(b == ord('"'))
    slashes = np.flatnonzero(b == ord("\\"))
    if len(slashes) and len(quotes):
        starts_run = np.ones(len(slashes), bool)
        starts_run[1:] = np.diff(slashes) != 1
        run_start = slashes[np.maximum.accumulate(np.where(starts_run, np.arange(len(slashes)), 0))]
        i = np.minimum(np.searchsorted(slashes, quotes - 1), len(slashes) - 1)
        run = np.where(slashes[i] == quotes - 1, quotes - run_start[i], 0)  # backslashes just before
        quotes = quotes[run % 2 == 0]
    opens = np.flatnonzero((b == ord("[")) | (b == ord("{")))
    closes = np.flatnonzero((b == ord("]")) | (b == ord("}")))
    opens = opens[np.searchsorted(quotes, opens) % 2 == 0]
    closes = closes[np.searchsorted(quotes, closes) % 2 == 0]
    if len(opens) <= MAX_JSON_DEPTH:
        return False
    at = np.concatenate([opens, closes])
    steps = np.concatenate([np.ones(len(opens), np.int64), -np.ones(len(closes), np.int64)])
    return int(np.cumsum(steps[np.argsort(at, kind="stable")]).max()) > MAX_JSON_DEPTH
