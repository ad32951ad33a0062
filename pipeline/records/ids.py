"""Stable document ids: the same record gets the same id on every rerun and machine."""

from __future__ import annotations

import hashlib


def content_digest(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def make_id(source: str, locator: str, digest: str) -> str:
    """`source` + where the record sits (input:offset or row) + what it contains.

    Readable prefix (source) for humans, hash for uniqueness: `web-3f2a…`.
    """
    h = hashlib.blake2b(f"{source}\x00{locator}\x00{digest}".encode(), digest_size=10).hexdigest()
    return f"{source}-{h}"
