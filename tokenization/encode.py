"""Encode a pipeline dataset into token shards: one Dask task per input shard, resumable, byte-stable.

Output shards hold `id`, `source`, `input_ids` (list<uint16> when the vocabulary fits, else uint32)
with no BOS/EOS: the trainer's packer adds EOS between documents.  Literal special-token strings in
documents (e.g. "</s>" in scraped HTML) are encoded as plain text, never as control ids.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pipeline.io.atomic import is_done, mark_done, read_arrow, sha256_file, write_arrow, write_json
from tokenization import __version__
from tokenization import special_tokens as st
from tokenization.train import (
    DATASET_MANIFEST,
    TOKENIZER_JSON,
    DatasetError,
    load_dataset_manifest,
    load_tokenizer,
    require_columns,
)

log = logging.getLogger(__name__)

_ENCODE_BATCH = 1000
_META_TOKENIZER = b"yuliao.tokenizer_sha256"
_META_INPUT = b"yuliao.input_sha256"
_META_CODE = b"yuliao.code_version"


@dataclass(frozen=True)
class ShardTask:
    """Everything one worker needs; plain strings so it pickles to any Dask worker."""

    index: int
    input_path: str
    input_rel: str
    input_rows: int | None
    input_sha256: str
    output_path: str
    tokenizer_path: str
    tokenizer_sha256: str
    dtype: str
    text_field: str


def token_dtype(vocab_size: int) -> str:
    """Smallest unsigned dtype holding every id (max id is vocab_size - 1)."""
    return "uint16" if vocab_size <= 1 << 16 else "uint32"


def _read_schema(path: Path) -> pa.Schema:
    try:
        with pa.memory_map(str(path), "r") as source:
            return pa.ipc.open_file(source).schema
    except pa.ArrowInvalid as e:
        raise DatasetError(f"{path}: not an Arrow IPC file: {e}") from e


def _shard_stats(table: pa.Table, output_path: Path) -> dict[str, Any]:
    import pyarrow.compute as pc

    lengths = pc.list_value_length(table.column("input_ids")).fill_null(0)
    per_source = (
        pa.table({"source": table.column("source"), "n": lengths})
        .group_by("source")
        .aggregate([("n", "sum")])
    )
    tokens_per_source = {
        str(s): int(n)
        for s, n in zip(
            per_source.column("source").to_pylist(), per_source.column("n_sum").to_pylist(), strict=True
        )
    }
    return {
        "rows": table.num_rows,
        "bytes": output_path.stat().st_size,
        "sha256": sha256_file(output_path),
        "tokens": int(pc.sum(lengths).as_py() or 0),
        "tokens_per_source": dict(sorted(tokens_per_source.items())),
    }


def _reusable(task: ShardTask) -> pa.Table | None:
    """A finished shard is reused only if it was made from the same input and tokenizer."""
    out = Path(task.output_path)
    if not (is_done(out) and out.is_file()):
        return None
    try:
        table = read_arrow(out)
    except (OSError, pa.ArrowInvalid):
        return None
    meta = table.schema.metadata or {}
    if (
        meta.get(_META_TOKENIZER) != task.tokenizer_sha256.encode()
        or meta.get(_META_INPUT) != task.input_sha256.encode()
    ):
        log.info("re-encoding %s: made from a different input shard or tokenizer", out)
        return None
    return table


def _encode_texts(tok, texts: pa.ChunkedArray, dtype: str) -> pa.ListArray:
    """Batch-encode a text column into a list<dtype> array, a slice at a time to bound memory."""
    encode = getattr(tok, "encode_batch_fast", tok.encode_batch)  # no offsets needed
    lengths: list[np.ndarray] = []
    values: list[np.ndarray] = []
    for start in range(0, len(texts), _ENCODE_BATCH):
        batch = [t if t is not None else "" for t in texts.slice(start, _ENCODE_BATCH).to_pylist()]
        encs = encode(batch, add_special_tokens=False)
        lengths.append(np.fromiter((len(e.ids) for e in encs), dtype=np.int64, count=len(encs)))
        values.extend(np.asarray(e.ids, dtype=dtype) for e in encs)
    lens = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
    offsets = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    if offsets[-1] > np.iinfo(np.int32).max:
        raise ValueError(f"shard has {offsets[-1]} tokens, above the 2**31 list<> limit: split it smaller")
    flat = np.concatenate(values) if values else np.zeros(0, dtype=dtype)
    return pa.ListArray.from_arrays(
        pa.array(offsets.astype(np.int32)), pa.array(flat, type=pa.from_numpy_dtype(flat.dtype))
    )


def encode_shard(task: ShardTask) -> dict[str, Any]:
    """Encode one input shard (or reuse a finished one) and return its manifest entry."""
    out = Path(task.output_path)
    table = _reusable(task)
    if table is None:
        source_path = Path(task.input_path)
        if not source_path.is_file():
            raise DatasetError(f"input shard not found: {source_path}")
        src = read_arrow(source_path)
        require_columns(src.schema, ["id", "source", task.text_field], source_path)
        if task.input_rows is not None and src.num_rows != task.input_rows:
            raise DatasetError(
                f"{source_path}: has {src.num_rows} rows but the manifest says {task.input_rows}"
            )
        tok = load_tokenizer(Path(task.tokenizer_path).parent)
        tok.encode_special_tokens = True  # document text "</s>" must not become the EOS id
        input_ids = _encode_texts(tok, src.column(task.text_field), task.dtype)
        metadata = {
            _META_TOKENIZER: task.tokenizer_sha256.encode(),
            _META_INPUT: task.input_sha256.encode(),
            _META_CODE: __version__.encode(),
        }
        schema = pa.schema(
            [
                ("id", pa.string()),
                ("source", pa.string()),
                ("input_ids", pa.list_(getattr(pa, task.dtype)())),
            ],
            metadata=metadata,
        )
        table = pa.Table.from_arrays(
            [
                src.column("id").cast(pa.string()).combine_chunks(),
                src.column("source").cast(pa.string()).combine_chunks(),
                input_ids,
            ],
            schema=schema,
        )
        write_arrow(out, table)
        mark_done(out)
    return {"path": out.name, "input": task.input_rel, **_shard_stats(table, out)}


def _run(tasks: list[ShardTask], client, scheduler: str) -> list[dict[str, Any]]:
    if not tasks:
        return []
    if client is not None:
        futures = client.map(encode_shard, tasks, pure=False)
        return client.gather(futures)
    import dask

    return list(dask.compute(*[dask.delayed(encode_shard)(t) for t in tasks], scheduler=scheduler))


def encode_dataset(
    dataset_dir: str | Path,
    tokenizer_dir: str | Path,
    out_dir: str | Path,
    client=None,
    *,
    text_field: str = "text",
    scheduler: str = "threads",
) -> dict[str, Any]:
    """Tokenize every shard of a pipeline dataset into `out_dir` and write its token manifest.

    `client` is a `distributed.Client`; without one, Dask's local `scheduler` runs the tasks
    (threads are fine: tokenizers releases the GIL).  Shards already done with the same input and
    tokenizer are reused, so an interrupted run resumes and reruns are byte-identical.
    """
    dataset_dir, tokenizer_dir, out_dir = Path(dataset_dir), Path(tokenizer_dir), Path(out_dir)
    manifest = load_dataset_manifest(dataset_dir)
    tok = load_tokenizer(tokenizer_dir)
    tokenizer_json = tokenizer_dir / TOKENIZER_JSON
    tokenizer_sha = sha256_file(tokenizer_json)
    vocab_size = tok.get_vocab_size()
    dtype = token_dtype(vocab_size)

    tasks = []
    for i, shard in enumerate(manifest["shards"]):
        input_path = dataset_dir / shard["path"]
        if not input_path.is_file():
            raise DatasetError(f"shard listed in {dataset_dir / DATASET_MANIFEST} not found: {input_path}")
        # Fail fast, before any work, on the first shard (in manifest order) that breaks the contract.
        require_columns(_read_schema(input_path), ["id", "source", text_field], input_path)
        tasks.append(
            ShardTask(
                index=i,
                input_path=str(input_path),
                input_rel=str(shard["path"]),
                input_rows=shard.get("rows"),
                input_sha256=shard.get("sha256") or sha256_file(input_path),
                output_path=str(out_dir / f"shard-{i:05d}.arrow"),
                tokenizer_path=str(tokenizer_json),
                tokenizer_sha256=tokenizer_sha,
                dtype=dtype,
                text_field=text_field,
            )
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    shards = _run(tasks, client, scheduler)

    totals: dict[str, int] = {}
    for s in shards:
        for src, n in s["tokens_per_source"].items():
            totals[src] = totals.get(src, 0) + n
    token_manifest = {
        "shards": shards,
        "rows": sum(s["rows"] for s in shards),
        "tokens_per_source": dict(sorted(totals.items())),
        "total_tokens": sum(s["tokens"] for s in shards),
        "dtype": dtype,
        "tokenizer": {
            "path": str(tokenizer_dir.resolve()),
            "sha256": tokenizer_sha,
            "vocab_size": vocab_size,
        },
        "dataset": {
            "path": str(dataset_dir.resolve()),
            "manifest_sha256": sha256_file(dataset_dir / DATASET_MANIFEST),
        },
        "eos_id": tok.token_to_id(st.EOS),
        "pad_id": tok.token_to_id(st.PAD),
        "text_field": text_field,
        "code_version": __version__,
    }
    write_json(out_dir / "manifest.json", token_manifest)
    return token_manifest
