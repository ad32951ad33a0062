"""Read training texts from JSONL(.gz), Parquet, Arrow IPC, or a pipeline dataset directory."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.core.atomic import read_arrow

FORMATS = (
    ".jsonl[.gz], .json[.gz], .parquet, .arrow/.feather, or a dataset dir (manifest.json + data/*.arrow)"
)


def _column(table: pa.Table, text_field: str, path: Path) -> list[str]:
    if text_field not in table.column_names:
        raise ValueError(f"{path}: no column {text_field!r} (columns: {table.column_names})")
    return [t for t in table.column(text_field).to_pylist() if t]


def _jsonl(path: Path, text_field: str) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    texts: list[str] = []
    with opener(path, "rt", encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            record = json.loads(line)
            if text_field not in record:
                raise ValueError(f"{path}:{n}: no field {text_field!r} (fields: {sorted(record)})")
            if record[text_field]:
                texts.append(record[text_field])
    return texts


def read_texts(path: str | Path, text_field: str = "text") -> list[str]:
    """Non-empty texts of one input, in file order."""
    path = Path(path)
    if path.is_dir():
        if not (path / "manifest.json").exists():
            raise ValueError(f"{path}: a directory input must be a pipeline dataset (manifest.json)")
        shards = sorted((path / "data").glob("*.arrow"))
        return [t for s in shards for t in _column(read_arrow(s), text_field, s)]
    name = path.name
    if name.endswith((".jsonl", ".jsonl.gz", ".json", ".json.gz")):
        return _jsonl(path, text_field)
    if name.endswith(".parquet"):
        return _column(pq.read_table(path), text_field, path)
    if name.endswith((".arrow", ".feather")):
        return _column(read_arrow(path), text_field, path)
    raise ValueError(f"{path}: unsupported input; use {FORMATS}")
