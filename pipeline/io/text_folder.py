"""Plain-text folders (`format: text`): every `*.txt` file under a directory is one document.

Files are taken in sorted order of their full path, so a folder splits into stable index
ranges of that listing (`Split(kind="files")`); the folder must not change during a run.  Bytes are passed on undecoded, as
`text/plain` payloads, so `steps.decode` finds their charset the same way as for web pages
(GB18030 text files are common).  A record's input is its own file and its offset 0, so its
id is `source` + file path + content digest.  Other files in the folder are not records.
"""

from __future__ import annotations

import fsspec

from pipeline.io.collector import Collector
from pipeline.records.ids import content_digest

SUFFIX = ".txt"


def list_text_files(path: str) -> list[tuple[str, int]]:
    """(URL or local path, size) of every *.txt file under `path` (or `path` itself), sorted."""
    fs, root = fsspec.core.url_to_fs(path)
    if fs.isfile(root):
        return [(path, fs.size(root))]
    if not fs.isdir(root):
        raise FileNotFoundError(f"{path}: no such file or directory")
    found = fs.find(root, detail=True)
    keep = sorted((p, info.get("size") or 0) for p, info in found.items() if p.endswith(SUFFIX))
    remote = "://" in path
    return [(fs.unstrip_protocol(p) if remote else p, size) for p, size in keep]


def read_text_folder(
    path: str, out: Collector, max_record_bytes: int, files: tuple[int, int] | None = None
) -> None:
    """Files [start, end) of the folder's sorted listing (all when None) into `out`."""
    listing = list_text_files(path)
    start, end = files if files is not None else (0, len(listing))
    for name, size in listing[start:end]:
        if size > max_record_bytes:
            # not read at all: the path (the locator) and size identify it
            out.drop(0, "filtered", "record_too_large", content_digest(f"size:{size}"), size, input_path=name)
            continue
        try:
            with fsspec.open(name, "rb", compression=None) as fh:
                payload = fh.read()
        except Exception as exc:  # unreadable file (permissions, vanished): one row, not the job
            out.drop(0, "quarantined", f"read_error:{type(exc).__name__}", "unreadable", input_path=name)
            out.warnings.append(f"{name}: unreadable ({type(exc).__name__}: {exc})")
            continue
        out.add(0, None, "text/plain", payload=payload, input_path=name)
