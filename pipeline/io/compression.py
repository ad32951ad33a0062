"""Open any fsspec URL as a decompressed byte stream, telling a cut-off file from a whole one.

The codec is taken from the file's first bytes, not its name, so a mislabelled file still
reads.  Every codec here raises `EOFError` when the input ends inside a compressed frame,
reads across frames/members (files written by streaming compressors, `zstd` on a pipe,
pzstd, concatenated gzip) and inflates at most what each read asks for: gzip, bz2 and xz
through the stdlib's readers, zstd through pyzstd's `ZstdFile` (the stdlib's API from 3.14).
So a decompression bomb costs time in proportion to what the caller reads, and memory only
for the caller's buffer; zstandard's `decompressobj` had no output bound (a 64 KB chunk of
zeros could inflate to GBs in one call).
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
from collections.abc import Iterator
from typing import IO

import fsspec
from fsspec.spec import AbstractBufferedFile
from pyzstd import DParameter, ZstdFile

MAGIC = {
    b"\x1f\x8b": "gzip",
    b"(\xb5/\xfd": "zstd",
    b"BZh": "bz2",
    b"\xfd7zXZ\x00": "xz",
}
ZSTD_OPTIONS = {DParameter.windowLogMax: 31}  # `zstd --long=31` files (libzstd refuses > 2^27 by default)


def sniff_compression(head: bytes) -> str | None:
    for magic, name in MAGIC.items():
        if head.startswith(magic):
            return name
    return None


def compression_of(path: str) -> str | None:
    """The codec of the file at `path` (None: not compressed, or empty)."""
    with fsspec.open(path, "rb", compression=None) as fh:
        return sniff_compression(fh.read(6))


@contextlib.contextmanager
def open_decompressed(path: str) -> Iterator[tuple[IO[bytes], str | None]]:
    """(buffered decompressed stream, codec name or None) for any fsspec URL."""
    with fsspec.open(path, "rb", compression=None) as raw:
        codec = sniff_compression(raw.read(6))
        raw.seek(0)
        if codec is None:  # an object store's file takes no size in readline(): buffer it like a local one
            yield (io.BufferedReader(raw) if isinstance(raw, AbstractBufferedFile) else raw), None
        elif codec == "gzip":
            with gzip.GzipFile(fileobj=raw, mode="rb") as fh:
                yield fh, codec
        elif codec == "bz2":
            with bz2.BZ2File(raw, "rb") as fh:
                yield fh, codec
        elif codec == "xz":
            with lzma.LZMAFile(raw, "rb") as fh:
                yield fh, codec
        else:
            with ZstdFile(raw, "rb", level_or_option=ZSTD_OPTIONS) as fh:
                yield fh, codec
