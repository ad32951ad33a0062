"""Atomic, resumable outputs: every file appears whole or not at all.

Writers go to a temp file in the same directory and `os.replace` it into place, so a job
killed at any point leaves either the old state or the new one.  The temp file is fsynced
before the rename and the directory after it, so a power loss cannot leave a renamed but
empty file: a done marker (see `done_marker`), written last, therefore vouches for data already
on disk.

Paths built from manifest values go through `resolve_inside`, so a name like `/etc` or
`../x` can never make a job write (or delete) outside its output directory.
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


class UnsafePathError(ValueError):
    """A path built from configuration would land outside the directory it must stay in."""


def resolve_inside(root: str | os.PathLike[str], *parts: str | os.PathLike[str]) -> Path:
    """`root / parts...` as written, refused unless it resolves inside `root` (absolute parts, `..`,
    symlinks pointing out)."""
    path = Path(root).joinpath(*parts)
    base, target = Path(root).resolve(), path.resolve()
    if target != base and base not in target.parents:
        shown = "/".join(str(p) for p in parts)
        raise UnsafePathError(f"{shown!r} would resolve to {target}, outside {base}")
    return path


def fsync_path(path: str | os.PathLike[str]) -> None:
    """Flush a file's data, or a directory's entries, to disk."""
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if os.path.isdir(path) else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(directory: str | os.PathLike[str]) -> None:
    """mkdir -p that also fsyncs the parent of every directory it creates (their entries are data too)."""
    directory = Path(directory)
    missing = []
    while not directory.is_dir():
        missing.append(directory)
        directory = directory.parent
    for d in reversed(missing):
        d.mkdir(exist_ok=True)
        fsync_path(d.parent)


def fsync_tree(root: str | os.PathLike[str]) -> None:
    """fsync every file and directory under `root` (for directories written by other libraries)."""
    for dirpath, _, files in os.walk(root):
        for name in files:
            fsync_path(os.path.join(dirpath, name))
        fsync_path(dirpath)


def private_cache_dir(*parts: str) -> Path:
    """A per-user cache folder, `$XDG_CACHE_HOME` (or ~/.cache) /yuliao/parts, made 0o700.

    Caches such as jieba's marshal file are loaded without checks, so one that another user can
    write is code they can feed us: a folder we do not own is refused; one we own is tightened.
    Without a usable home, a fresh private temp folder (no reuse across processes) is used.
    """
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    try:
        base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"
        path = base.joinpath("yuliao", *parts)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except (OSError, RuntimeError):
        return Path(tempfile.mkdtemp(prefix=f"yuliao-{'-'.join(parts)}-"))
    for d in [path, *path.parents][: len(parts) + 1]:  # the folders below `base` that are ours
        st = d.stat()
        if st.st_uid != os.geteuid():
            raise PermissionError(f"cache folder {d} belongs to uid {st.st_uid}, not to this user")
        if st.st_mode & 0o077:
            d.chmod(0o700)
    return path


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temp path next to `final`; if the block succeeds, fsync it, rename it into place, fsync
    the directory."""
    final = Path(final)
    make_dirs(final.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        fsync_path(tmp)
        os.replace(tmp, final)
        fsync_path(final.parent)
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


MARKER_DIR = Path(".yuliao", "done")


def done_marker(path: str | os.PathLike[str]) -> Path:
    """`<dir>/.yuliao/done/<name>`: the completion marker of the file `<dir>/<name>`.

    Markers sit in a hidden folder, not beside the data: pyarrow, pandas and `datasets` read
    every file of a data folder, and a dot prefix is the one both pyarrow and `datasets` skip
    (`datasets` reads `_name` folders).
    """
    path = Path(path)
    return path.parent / MARKER_DIR / path.name


def is_done(path: str | os.PathLike[str]) -> bool:
    return done_marker(path).exists()


def mark_done(path: str | os.PathLike[str]) -> None:
    write_bytes(done_marker(path), b"")
