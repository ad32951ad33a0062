"""Undo HTTP transfer and content encodings of a WARC response body, with a size cap.

Crawlers such as wget, Heritrix and warcprox store the body as it came over the wire:
chunked, and gzip/deflate/brotli compressed.  (Common Crawl stores it decoded and renames
the headers, so there this is a no-op.)  Decompression is capped at the record size limit,
so a small compressed bomb cannot blow up a worker.
"""

from __future__ import annotations

import zlib


class BodyTooLarge(ValueError):
    """The decoded body would exceed the record size limit."""


class BadEncoding(ValueError):
    """The body does not decode under its declared encoding."""


def decode_body(
    body: bytes, transfer_encoding: str | None, content_encoding: str | None, max_bytes: int
) -> bytes:
    """The entity body with chunking and compression removed (`body` itself if neither)."""
    if transfer_encoding and "chunked" in transfer_encoding.lower():
        body = dechunk(body)
    for coding in reversed(_codings(content_encoding)):  # applied in order, undone in reverse
        body = _decompress(body, coding, max_bytes)
    return body


def dechunk(body: bytes) -> bytes:
    """RFC 9112 §7.1 chunked coding → body; a body that is not chunked after all is returned as is."""
    out = []
    pos = 0
    while True:
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            break
        size_field = body[pos:eol].split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            return body if pos == 0 else b"".join(out)  # mislabelled, or garbage after the data
        if size == 0:
            return b"".join(out)
        out.append(body[eol + 2 : eol + 2 + size])
        pos = eol + 2 + size + 2
    return b"".join(out) if out else body


def _codings(header: str | None) -> list[str]:
    if not header:
        return []
    return [c.strip().lower() for c in header.split(",") if c.strip().lower() not in ("", "identity")]


def _decompress(body: bytes, coding: str, max_bytes: int) -> bytes:
    if coding in ("gzip", "x-gzip"):
        if not body.startswith(b"\x1f\x8b"):
            return body  # already decoded by the crawler, headers left as sent
        return _zlib(body, 16 + zlib.MAX_WBITS, max_bytes, coding)
    if coding == "deflate":
        try:  # RFC says zlib-wrapped; many servers send raw deflate
            return _zlib(body, zlib.MAX_WBITS, max_bytes, coding)
        except BadEncoding:
            return _zlib(body, -zlib.MAX_WBITS, max_bytes, coding)
    if coding == "br":
        return _brotli(body, max_bytes)
    raise BadEncoding(f"unsupported content encoding {coding!r}")


def _zlib(body: bytes, wbits: int, max_bytes: int, coding: str) -> bytes:
    d = zlib.decompressobj(wbits)
    try:
        out = d.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise BadEncoding(f"{coding}: {exc}") from exc
    if len(out) > max_bytes:
        raise BodyTooLarge(f"{coding} body inflates past {max_bytes} bytes")
    if not out and not d.eof:
        raise BadEncoding(f"{coding}: no data before the stream ends")
    return out  # a stream cut short (crawler payload limits) keeps what it decoded


def _brotli(body: bytes, max_bytes: int) -> bytes:
    import brotli  # a FastWARC dependency

    d = brotli.Decompressor()
    try:
        out = d.process(body, output_buffer_limit=max_bytes + 1)
    except brotli.error as exc:
        raise BadEncoding(f"br: {exc}") from exc
    if len(out) > max_bytes:
        raise BodyTooLarge(f"br body inflates past {max_bytes} bytes")
    return out
