"""Atomic, resumable outputs: every file appears whole or not at all, on a local disk or an object store.

Every function here takes a local path or an fsspec URL (`s3://bucket/key`, `gs://...`; `file://`
is local).  Credentials and endpoints come from the environment and fsspec's config
(`AWS_ENDPOINT_URL`, `FSSPEC_S3_*`, fsspec config files), never from a manifest.

Local: writers go to a temp file in the same directory and `os.replace` it into place, so a job
killed at any point leaves either the old state or the new one.  The temp file is fsynced
before the rename and the directory after it, so a power loss cannot leave a renamed but
empty file.

Object stores have no rename, but show an object only whole: a single PUT, or a multipart
upload, which appears when it is completed.  Writers stream to the final key and abort the
upload if the block raises; a killed writer's upload is never completed (a bucket lifecycle
rule reclaims its parts).

The commit rule, on both: a done marker (see `done_marker`) is written only after its data,
and only the marker makes the data count as done.  A crash leaves at most a complete object
without its marker, which a rerun writes again.

Paths built from manifest values go through `resolve_inside`, so a name like `/etc` or
`../x` can never make a job write (or delete) outside its output directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from upath import UPath

# A local path, or a UPath for any other fsspec URL (see `as_path`).
AnyPath = Path | UPath


class UnsafePathError(ValueError):
    """A path built from configuration would land outside the directory it must stay in."""


def as_path(path: str | os.PathLike[str] | UPath) -> AnyPath:
    """A local path (or `file://` URL) as a Path, anything else as a UPath.

    Listings are not cached: other hosts write under the same prefixes while a job runs, so a
    cached listing would hide their files (a finished task would look unfinished).
    """
    if isinstance(path, Path):
        return path
    if isinstance(path, UPath):
        return path if path.protocol not in ("", "file", "local") else Path(path.path)
    text = os.fspath(path)
    if "://" not in text:
        return Path(text)
    if text.startswith(("file://", "local://")):
        return Path(text.split("://", 1)[1])
    return UPath(text, use_listings_cache=False)


def is_local(path: str | os.PathLike[str] | UPath) -> bool:
    return isinstance(as_path(path), Path)


def resolve_inside(root: str | os.PathLike[str] | UPath, *parts: str | os.PathLike[str]) -> AnyPath:
    """`root / parts...` as written, refused unless it resolves inside `root` (absolute parts, `..`,
    symlinks pointing out)."""
    root = as_path(root)
    path = root.joinpath(*(os.fspath(p) for p in parts))
    if isinstance(root, Path):
        base, target = root.resolve(), path.resolve()
        inside = target == base or base in target.parents
    else:  # an object store has no symlinks: the normalised key must stay under the root's
        base = posixpath.normpath("/" + root.path)
        target = posixpath.normpath(posixpath.join(base, *(os.fspath(p) for p in parts)))
        inside = target == base or target.startswith(base.rstrip("/") + "/")
    if not inside:
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


def make_dirs(directory: str | os.PathLike[str] | UPath) -> None:
    """mkdir -p that also fsyncs the parent of every directory it creates (their entries are data too);
    on an object store, where folders are only key prefixes, whatever the store needs (usually nothing)."""
    directory = as_path(directory)
    if not isinstance(directory, Path):
        directory.fs.makedirs(directory.path, exist_ok=True)
        return
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
    """Yield a temp path next to the local file `final`; if the block succeeds, fsync it, rename it
    into place, fsync the directory."""
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


@contextlib.contextmanager
def atomic_sink(final: str | os.PathLike[str] | UPath) -> Iterator[pa.NativeFile]:
    """An Arrow output stream whose bytes appear at `final` only if the block succeeds: a local
    temp file renamed into place (`atomic_path`), or an upload to the final key completed on exit."""
    final = as_path(final)
    if isinstance(final, Path):
        with atomic_path(final) as tmp, pa.OSFile(str(tmp), "wb") as sink:
            yield sink
        return
    fh = final.fs.open(final.path, "wb")
    try:
        yield pa.PythonFile(fh, mode="w")
    except BaseException:
        fh.discard()  # aborts a multipart upload (s3fs, gcsfs): none of it becomes visible
        fh.closed = True  # and close(), even from __del__, must not complete it
        raise
    fh.close()  # the object appears, whole


def write_bytes(final: str | os.PathLike[str] | UPath, data: bytes) -> None:
    final = as_path(final)
    if isinstance(final, Path):
        with atomic_path(final) as tmp:
            tmp.write_bytes(data)
    else:
        final.fs.pipe_file(final.path, data)  # one PUT (multipart above the store's part size)


def write_json(final: str | os.PathLike[str] | UPath, obj: Any) -> None:
    """Canonical JSON (sorted keys, fixed indent) so reruns are byte-identical."""
    write_bytes(final, (json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode())


def write_arrow(final: str | os.PathLike[str] | UPath, table: pa.Table) -> None:
    """Arrow IPC file, uncompressed: memory-mappable and byte-stable across reruns."""
    with atomic_sink(final) as sink, pa.ipc.new_file(sink, table.schema) as w:
        w.write_table(table)


def write_parquet(final: str | os.PathLike[str] | UPath, table: pa.Table) -> None:
    with atomic_sink(final) as sink:
        pq.write_table(table, sink, compression="zstd")


def read_arrow(path: str | os.PathLike[str] | UPath) -> pa.Table:
    """A whole Arrow IPC file: memory-mapped when local, downloaded through fsspec otherwise."""
    path = as_path(path)
    if isinstance(path, Path):
        with pa.memory_map(str(path), "r") as source:
            return pa.ipc.open_file(source).read_all()
    return pa.ipc.open_file(pa.py_buffer(path.fs.cat_file(path.path))).read_all()


def read_parquet(path: str | os.PathLike[str] | UPath, schema: pa.Schema | None = None) -> pa.Table:
    path = as_path(path)
    if isinstance(path, Path):
        return pq.read_table(path, schema=schema)
    return pq.read_table(path.path, schema=schema, filesystem=path.fs)


def sha256_file(path: str | os.PathLike[str] | UPath) -> str:
    h = hashlib.sha256()
    with as_path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


MARKER_DIR = Path(".yuliao", "done")


def done_marker(path: str | os.PathLike[str] | UPath) -> AnyPath:
    """`<dir>/.yuliao/done/<name>`: the completion marker of the file `<dir>/<name>`.

    Markers sit in a hidden folder, not beside the data: pyarrow, pandas and `datasets` read
    every file of a data folder, and a dot prefix is the one both pyarrow and `datasets` skip
    (`datasets` reads `_name` folders).
    """
    path = as_path(path)
    return path.parent.joinpath(*MARKER_DIR.parts, path.name)


def is_done(path: str | os.PathLike[str] | UPath) -> bool:
    return done_marker(path).exists()


def mark_done(path: str | os.PathLike[str] | UPath) -> None:
    """Written last, after the data: see the commit rule above."""
    write_bytes(done_marker(path), b"")
