"""Exact duplicates: documents whose normalised text hashes the same."""

from __future__ import annotations

from collections.abc import Sequence

import xxhash

from pipeline.dedup.normalize import normalize_for_dedup


def text_hash(text: str) -> str:
    return xxhash.xxh3_128_hexdigest(normalize_for_dedup(text).encode("utf-8", "surrogatepass"))


def exact_duplicates(ids: Sequence[str], hashes: Sequence[str]) -> dict[str, str]:
    """Map each duplicate id to the first id (in the given order) with the same hash.

    The caller's order is the tie-break rule, so a fixed input order gives a fixed result.
    """
    first: dict[str, str] = {}
    dupes: dict[str, str] = {}
    for doc_id, h in zip(ids, hashes, strict=True):
        if h in first:
            dupes[doc_id] = first[h]
        else:
            first[h] = doc_id
    return dupes
