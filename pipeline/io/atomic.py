"""Atomic, resumable outputs: every file appears whole or not at all.

Writers go to a temp file in the same directory and `os.replace` it into place, so a job
killed at any point leaves either the old state or the new one.  A partition is finished
when its `.done` marker exists; markers are written last.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path next to `final`; rename it into place only if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_bytes(final: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)


def write_json(final: str | os.PathLike[str], obj: Any) -> None:
    """Canonical JSON (sorted keys, fixed indent) so reruns are byte-identical."""
    write_bytes(final, (json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode())


def write_arrow(final: str | os.PathLike[str], table: pa.Table) -> None:
    """Arrow IPC file, uncompressed: memory-mappable and byte-stable across reruns."""
    with (
        atomic_path(final) as tmp,
        pa.OSFile(str(tmp), "wb") as sink,
        pa.ipc.new_file(sink, table.schema) as w,
    ):
        w.write_table(table)


def write_parquet(final: str | os.PathLike[str], table: pa.Table) -> None:
    with atomic_path(final) as tmp:
        pq.write_table(table, tmp, compression="zstd")


def read_arrow(path: str | os.PathLike[str]) -> pa.Table:
    with pa.memory_map(str(path), "r") as source:
        return pa.ipc.open_file(source).read_all()


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def done_marker(path: str | os.PathLike[str]) -> Path:
    return Path(f"{path}.done")


def is_done(path: str | os.PathLike[str]) -> bool:
    return done_marker(path).exists()


def mark_done(path: str | os.PathLike[str]) -> None:
    write_bytes(done_marker(path), b"")
