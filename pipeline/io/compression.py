"""Open any fsspec URL as a decompressed byte stream, telling a cut-off file from a whole one.

The codec is taken from the file's first bytes, not its name, so a mislabelled file still
reads.  Every codec here raises `EOFError` when the input ends inside a compressed frame:
gzip, bz2 and xz do so by themselves; the zstd reader below adds it (zstandard's stream
reader returns a short read silently) and also reads across frames, which files written
by streaming compressors (`zstd` on a pipe, pzstd) are made of.
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
import zstandard

MAGIC = {
    b"\x1f\x8b": "gzip",
    b"(\xb5/\xfd": "zstd",
    b"BZh": "bz2",
    b"\xfd7zXZ\x00": "xz",
}
BLOCK = 1 << 20


def sniff_compression(head: bytes) -> str | None:
    for magic, name in MAGIC.items():
        if head.startswith(magic):
            return name
    return None


def compression_of(path: str) -> str | None:
    """The codec of the file at `path` (None: not compressed, or empty)."""
    with fsspec.open(path, "rb", compression=None) as fh:
        return sniff_compression(fh.read(6))


class ZstdStream(io.RawIOBase):
    """Multi-frame zstd decompression that raises EOFError on a truncated last frame."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._dctx = zstandard.ZstdDecompressor(max_window_size=1 << 31)  # `zstd --long=31` files
        self._obj = self._dctx.decompressobj()
        self._pending = b""
        self._in_frame = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            chunk = self._raw.read(BLOCK)
            if not chunk:
                if self._in_frame:
                    raise EOFError("zstd stream ended inside a frame (truncated file)")
                return 0
            self._pending = self._feed(chunk)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _feed(self, chunk: bytes) -> bytes:
        out = []
        while chunk:
            self._in_frame = True
            out.append(self._obj.decompress(chunk))
            if not self._obj.eof:
                break
            chunk = self._obj.unused_data  # the next frame starts here
            self._obj = self._dctx.decompressobj()
            self._in_frame = False
        return b"".join(out)


@contextlib.contextmanager
def open_decompressed(path: str) -> Iterator[tuple[IO[bytes], str | None]]:
    """(buffered decompressed stream, codec name or None) for any fsspec URL."""
    with fsspec.open(path, "rb", compression=None) as raw:
        codec = sniff_compression(raw.read(6))
        raw.seek(0)
        if codec is None:
            yield raw, None
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
            with io.BufferedReader(ZstdStream(raw), buffer_size=BLOCK) as fh:
                yield fh, codec
