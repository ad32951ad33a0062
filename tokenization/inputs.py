"""Stream documents for tokenizer training: pipeline dataset dirs, JSONL(.gz), Parquet or Arrow files.

Every reader yields `(source, text)` one record batch at a time, so the corpus is never held in
memory.  The source is the record's `source` column when there is one (pipeline datasets always
have it), else the file's stem; mixture-weighted sampling (`tokenization.sample`) keys on it.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa
from upath import UPath

from pipeline.core.atomic import as_path, read_arrow

DATASET_MANIFEST = "manifest.json"
_TEXT_BATCH = 1024
Doc = tuple[str, str]  # (source, text)


class DatasetError(ValueError):
    """Input dataset is missing or does not match the pipeline contract."""


def load_dataset_manifest(dataset_dir: str | Path | UPath) -> dict[str, Any]:
    """Read and sanity-check `DATASET/manifest.json` (a local folder or a URL); errors name the path."""
    path = as_path(dataset_dir) / DATASET_MANIFEST
    if not path.is_file():
        raise DatasetError(f"dataset manifest not found: {path} (expected a pipeline dataset directory)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DatasetError(f"dataset manifest is not valid JSON: {path}: {e}") from e
    shards = manifest.get("shards") if isinstance(manifest, dict) else None
    if not isinstance(shards, list) or not all(isinstance(s, dict) and "path" in s for s in shards):
        raise DatasetError(f"dataset manifest {path} has no valid 'shards' list of {{'path': ...}} entries")
    return manifest


def require_columns(schema: pa.Schema, columns: Iterable[str], where: str | Path) -> None:
    """Fail with the missing column, the file, and what columns do exist."""
    missing = [c for c in columns if c not in schema.names]
    if missing:
        raise DatasetError(f"{where}: missing column(s) {missing}; available columns: {schema.names}")


def _iter_table(table: pa.Table | pa.RecordBatch, text_field: str, default_source: str) -> Iterator[Doc]:
    """Convert to Python strings one slice at a time so a shard is never fully materialised."""
    texts = table.column(text_field)
    sources = table.column("source") if "source" in table.schema.names else None
    for start in range(0, len(texts), _TEXT_BATCH):
        chunk = texts.slice(start, _TEXT_BATCH).to_pylist()
        names = sources.slice(start, _TEXT_BATCH).to_pylist() if sources is not None else [None] * len(chunk)
        for src, text in zip(names, chunk, strict=True):
            if text is not None:
                yield (default_source if src is None else str(src)), text


def iter_dataset_docs(dataset_dir: str | Path, text_field: str = "text") -> Iterator[Doc]:
    """Stream a pipeline dataset shard by shard in manifest order (null texts skipped)."""
    dataset_dir = Path(dataset_dir)
    manifest = load_dataset_manifest(dataset_dir)

    def gen() -> Iterator[Doc]:
        for shard in manifest["shards"]:
            path = dataset_dir / shard["path"]
            if not path.is_file():
                raise DatasetError(f"shard listed in {dataset_dir / DATASET_MANIFEST} not found: {path}")
            table = read_arrow(path)
            require_columns(table.schema, [text_field], path)
            yield from _iter_table(table, text_field, str(shard.get("source") or dataset_dir.name))

    return gen()


def _iter_jsonl(path: Path, text_field: str) -> Iterator[Doc]:
    opener = gzip.open if path.name.endswith(".gz") else open
    stem = _stem(path)
    with opener(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise DatasetError(f"{path}:{lineno}: invalid JSON: {e}") from e
            if not isinstance(record, dict) or text_field not in record:
                raise DatasetError(f"{path}:{lineno}: record has no {text_field!r} field")
            text = record[text_field]
            if text is not None:
                yield str(record.get("source") or stem), str(text)


def _iter_parquet(path: Path, text_field: str) -> Iterator[Doc]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    require_columns(pf.schema_arrow, [text_field], path)
    columns = [text_field] + (["source"] if "source" in pf.schema_arrow.names else [])
    for batch in pf.iter_batches(columns=columns, batch_size=_TEXT_BATCH):
        yield from _iter_table(batch, text_field, _stem(path))


def _iter_arrow(path: Path, text_field: str) -> Iterator[Doc]:
    """Arrow IPC file (or stream) read batch by batch from a memory map."""
    with pa.memory_map(str(path), "r") as source:
        try:
            reader = pa.ipc.open_file(source)
            batches = (reader.get_batch(i) for i in range(reader.num_record_batches))
        except pa.ArrowInvalid:
            source.seek(0)
            batches = iter(pa.ipc.open_stream(source))
        for i, batch in enumerate(batches):
            if i == 0:
                require_columns(batch.schema, [text_field], path)
            yield from _iter_table(batch, text_field, _stem(path))


def _stem(path: Path) -> str:
    name = path.name
    for ext in (".jsonl.gz", ".jsonl", ".parquet", ".arrow", ".feather", ".ipc"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return path.stem


def iter_input_docs(path: str | Path, text_field: str = "text") -> Iterator[Doc]:
    """(source, text) from a pipeline dataset dir, .jsonl/.jsonl.gz, .parquet, or .arrow/.feather file."""
    path = Path(path)
    if path.is_dir():
        return iter_dataset_docs(path, text_field)
    if not path.exists():
        raise DatasetError(f"input not found: {path}")
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz")):
        return _iter_jsonl(path, text_field)
    if name.endswith(".parquet"):
        return _iter_parquet(path, text_field)
    if name.endswith((".arrow", ".feather", ".ipc")):
        return _iter_arrow(path, text_field)
    raise DatasetError(
        f"unsupported input {path}: expected a dataset directory with {DATASET_MANIFEST}, "
        "a .jsonl/.jsonl.gz, .parquet or .arrow file"
    )


def iter_inputs(paths: Iterable[str | Path], text_field: str = "text") -> Iterator[Doc]:
    """All inputs one after the other; every path is checked before the first document is read."""
    streams = [iter_input_docs(p, text_field) for p in paths]
    for s in streams:
        yield from s


def iter_dataset_texts(
    dataset_dir: str | Path, text_field: str = "text", max_docs: int | None = None
) -> Iterator[str]:
    """Texts of a pipeline dataset in manifest order (the demo's and encode's view)."""
    return islice((t for _, t in iter_dataset_docs(dataset_dir, text_field)), max_docs)


def iter_input_texts(
    path: str | Path, text_field: str = "text", max_docs: int | None = None
) -> Iterator[str]:
    """Texts of any supported input, capped at `max_docs`."""
    return islice((t for _, t in iter_input_docs(path, text_field)), max_docs)


def source_text_bytes(paths: Iterable[str | Path], text_field: str = "text") -> dict[str, int]:
    """UTF-8 text bytes per source: from dataset manifests when they say, else one streaming pass."""
    totals: dict[str, int] = {}
    for p in paths:
        p = Path(p)
        shards = load_dataset_manifest(p)["shards"] if p.is_dir() else None
        if shards and all("source" in s and "text_bytes" in s for s in shards):
            for s in shards:
                totals[str(s["source"])] = totals.get(str(s["source"]), 0) + int(s["text_bytes"])
            continue
        for src, text in iter_input_docs(p, text_field):
            totals[src] = totals.get(src, 0) + len(text.encode("utf-8"))
    return dict(sorted(totals.items()))
