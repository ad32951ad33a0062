"""Output folders: a job writes only into a folder it owns, and one job at a time.

A folder is a job's to write when it is missing or empty, or when `.yuliao/owner.json` says
the same kind of job made it with the same inputs and config (then the job resumes).  A
folder holding anything else is refused before any work, so a user's `manifest.json` or
`report/` is never overwritten by surprise.  `--overwrite` lets a job replace an older run
of its own (removing only the entries that run wrote, as listed in its owner file) or write
beside foreign files (replacing only the paths it writes itself); it never removes an input.
A lock file makes a second job on the same folder fail fast, naming the holder.

The folder may be an fsspec URL (see pipeline.core.atomic).  On an object store the lock is
created with a conditional PUT (`If-None-Match: *`, which S3 and most S3-compatible stores
honour), so of two jobs racing for it one gets it; a store whose fsspec backend cannot create
exclusively gets a check-then-write, which narrows the race but cannot close it.

`.yuliao/` starts with a dot, so pyarrow, `datasets` and globbing users skip it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
from collections.abc import Iterable, Iterator
from pathlib import Path

import fsspec
from upath import UPath

from pipeline.core.atomic import AnyPath, as_path, make_dirs, write_json

STATE_DIR = ".yuliao"
OWNER_FORMAT = "yuliao.output/1"


class OutputRefused(RuntimeError):
    """The output folder is not this job's to write; the message says why and what to do."""


class OutputConflict(OutputRefused):
    """The output folder holds a run of the same kind made with different inputs or config."""


class OutputLocked(OutputRefused):
    """Another job holds the output folder's lock."""


def owner_path(out: AnyPath) -> AnyPath:
    return out / STATE_DIR / "owner.json"


def read_owner(out: str | os.PathLike[str] | UPath) -> dict | None:
    """The owner record of a Yuliao output folder (None: not one)."""
    path = owner_path(as_path(out))
    try:
        owner = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError) as exc:
        raise OutputRefused(
            f"{path}: unreadable owner file ({exc}); remove it or choose another output"
        ) from None
    if not isinstance(owner, dict) or owner.get("format") != OWNER_FORMAT:
        raise OutputRefused(f"{path}: not a Yuliao owner file; choose another output")
    return owner


@contextlib.contextmanager
def claim_output(
    out: str | os.PathLike[str] | UPath,
    kind: str,
    fingerprint: str,
    writes: Iterable[str],
    inputs: Iterable[str] = (),
    overwrite: bool = False,
) -> Iterator[bool]:
    """Hold `out` for one job of `kind` while the block runs; yields True when resuming.

    `writes`: the top-level names the job writes inside `out` (files or folders); `inputs`:
    paths or URLs the job reads, none of which may lie inside `out` (nor `out` inside one).
    """
    out = as_path(out)
    out = out.absolute() if isinstance(out, Path) else out
    _check_inputs_outside(out, inputs)
    if out.exists() and not out.is_dir():
        raise OutputRefused(f"{out} exists and is not a folder; choose another output")
    make_dirs(out / STATE_DIR)
    with _lock(out, kind):
        resumed = _take_ownership(out, kind, fingerprint, list(writes), overwrite)
        yield resumed


def _take_ownership(out: AnyPath, kind: str, fingerprint: str, writes: list[str], overwrite: bool) -> bool:
    owner = read_owner(out)
    if owner is not None and owner.get("kind") != kind:
        raise OutputRefused(
            f"{out} holds the output of `{owner.get('kind')}`, not `{kind}`; choose another output"
        )
    if owner is not None and owner.get("fingerprint") == fingerprint:
        grown = [w for w in writes if w not in owner.get("written", []) and not (out / w).exists()]
        if grown:  # a resumed job that writes more names than last time (e.g. more shards)
            _write_owner(out, kind, fingerprint, [*owner.get("written", []), *grown])
        return True
    if owner is not None:
        if not overwrite:
            raise OutputConflict(
                f"{out} holds a `{kind}` run with different inputs or config; "
                "pass --overwrite to replace it, or choose another output"
            )
        for name in owner.get("written", []):
            _remove_owned(out, name)
    foreign = sorted(p.name for p in out.iterdir() if p.name != STATE_DIR)
    if foreign and not overwrite:
        shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
        raise OutputRefused(
            f"{out} holds files Yuliao did not write ({shown}); choose an empty or new folder, "
            "or pass --overwrite to write beside them (only the paths this job writes are replaced)"
        )
    _write_owner(out, kind, fingerprint, [w for w in writes if w not in foreign])
    return False


def _write_owner(out: AnyPath, kind: str, fingerprint: str, written: list[str]) -> None:
    owner = {"format": OWNER_FORMAT, "kind": kind, "fingerprint": fingerprint, "written": written}
    write_json(owner_path(out), owner)


def _remove_owned(out: AnyPath, name: str) -> None:
    """Remove one entry an earlier run of ours wrote, refusing names that leave `out`."""
    target = out / name
    if name in ("", ".", STATE_DIR) or Path(name).is_absolute() or ".." in Path(name).parts:
        raise OutputRefused(f"{owner_path(out)}: bad entry {name!r} in `written`; remove the file")
    if not isinstance(target, Path):
        if target.exists():
            target.fs.rm(target.path, recursive=True)
    elif target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir():
        shutil.rmtree(target)


def _check_inputs_outside(out: AnyPath, inputs: Iterable[str]) -> None:
    if not isinstance(out, Path):
        _check_urls_outside(out, inputs)
        return
    real_out = Path(os.path.realpath(out))
    for path in inputs:
        if "://" in path and not path.startswith("file://"):
            continue
        real = Path(os.path.realpath(path.removeprefix("file://")))  # never raises, even on a loop
        if real == real_out or real_out in real.parents:
            raise OutputRefused(
                f"input {path} lies inside the output folder {out}; choose an output outside the inputs"
            )
        if real.is_dir() and real in real_out.parents:
            raise OutputRefused(
                f"the output folder {out} lies inside the input folder {path}; choose an output outside it"
            )


def _check_urls_outside(out: UPath, inputs: Iterable[str]) -> None:
    """The same check on an object store, by key prefix (it has no links to follow)."""
    mine = str(out).rstrip("/")
    for path in inputs:
        theirs = str(as_path(path)).rstrip("/")
        if theirs == mine or theirs.startswith(mine + "/"):
            raise OutputRefused(
                f"input {path} lies inside the output folder {out}; choose an output outside the inputs"
            )
        if mine.startswith(theirs + "/"):
            raise OutputRefused(
                f"the output folder {out} lies inside the input folder {path}; choose an output outside it"
            )


def _create(path: AnyPath, data: bytes) -> None:
    """Write `data` to a new file; FileExistsError if `path` exists (see the module's note on
    object stores)."""
    if isinstance(path, Path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return
    try:
        with path.fs.open(path.path, "xb") as fh:  # s3fs: a PUT with If-None-Match: *
            fh.write(data)
    except (ValueError, NotImplementedError):  # no exclusive create in this backend
        if path.exists():
            raise FileExistsError(str(path)) from None
        path.fs.pipe_file(path.path, data)


@contextlib.contextmanager
def _lock(out: AnyPath, kind: str) -> Iterator[None]:
    """An exclusive lock file naming its holder; a holder that died on this host is taken over."""
    path = out / STATE_DIR / "lock"
    me = {"pid": os.getpid(), "host": socket.gethostname(), "kind": kind}
    for _ in range(2):
        try:
            _create(path, json.dumps(me).encode())
        except FileExistsError:
            holder = _read_lock(path)
            if holder is not None and _alive(holder):
                raise OutputLocked(
                    f"{out} is being written by `{holder.get('kind')}` (pid {holder.get('pid')} on "
                    f"{holder.get('host')}); wait for it, or remove {path} if that process is gone"
                ) from None
            _unlink(path)  # its holder is gone: a crashed run
            continue
        break
    else:
        raise OutputLocked(f"{path}: could not take the lock; another job raced for it")
    try:
        yield
    finally:
        if _read_lock(path) == me:
            _unlink(path)


def _unlink(path: AnyPath) -> None:
    if isinstance(path, Path):
        path.unlink(missing_ok=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.fs.rm_file(path.path)


def _read_lock(path: AnyPath) -> dict | None:
    try:
        holder = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def _alive(holder: dict) -> bool:
    """True unless the holder is a process of this host that no longer exists."""
    if holder.get("host") != socket.gethostname():
        return True  # another host's process: we cannot tell, so it holds the lock
    try:
        os.kill(int(holder.get("pid", -1)), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, TypeError):
        return True
    return True


def input_stamps(paths: list[str]) -> dict[str, dict]:
    """What each input looks like now: size, modification time and a content probe (or ETag).

    The probe hashes the first and last 64 KiB and the size, so a file replaced in place is
    seen without reading terabytes; an object store's ETag is used when it gives one.
    """
    stamps: dict[str, dict] = {}
    for path in dict.fromkeys(paths):
        try:
            fs, local = fsspec.core.url_to_fs(path)
            info = fs.info(local)
            stamp = {"size": info.get("size"), "mtime": _mtime(info)}
            etag = info.get("ETag") or info.get("etag")
            if etag:
                stamp["etag"] = str(etag).strip('"')
            elif info.get("type") == "file":
                stamp["probe"] = _probe(fs, local, int(info.get("size") or 0))
        except Exception as exc:  # unreadable now: planning already made it a quarantined partition
            stamp = {"error": type(exc).__name__}
        stamps[path] = stamp
    return stamps


_PROBE = 1 << 16


def _probe(fs, path: str, size: int) -> str:
    h = hashlib.blake2b(str(size).encode(), digest_size=16)
    with fs.open(path, "rb") as fh:
        h.update(fh.read(_PROBE))
        if size > 2 * _PROBE:
            fh.seek(size - _PROBE)
        h.update(fh.read(_PROBE))
    return h.hexdigest()


def _mtime(info: dict) -> str | None:
    value = info.get("mtime", info.get("LastModified", info.get("last_modified")))
    return None if value is None else str(value)
