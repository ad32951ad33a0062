"""Exact keys: the hash of the normalised text, and of the normalised URL.

Exact copies then group by key in the same shuffle as the LSH bands (job.py), so they are
found across partitions without any task holding all hashes.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import xxhash

from pipeline.dedup.normalize import normalize_for_dedup


def text_hash(text: str, t2s: bool = False) -> str:
    """xxh3-128 of the normalised text (hex); `minhash.signatures_and_hashes` computes the same."""
    return xxhash.xxh3_128_hexdigest(normalize_for_dedup(text, t2s).encode("utf-8", "surrogatepass"))


def text_key(hex_hash: str) -> int:
    """The first 64 bits of a text hash, the exact-dedup shuffle key."""
    return int(hex_hash[:16], 16)


def normalize_url(url: str) -> str:
    """Lower-case scheme and host, no fragment, no default port, no trailing slash, http = https."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return url.strip()
    host = (parts.hostname or "").removeprefix("www.")
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    path = parts.path.rstrip("/") or "/"
    return urlunsplit(("http", host, path, parts.query, ""))


def url_key(url: str) -> int:
    return xxhash.xxh3_64_intdigest(normalize_url(url).encode("utf-8", "surrogatepass"))
