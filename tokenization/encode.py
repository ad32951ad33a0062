"""Encode a pipeline dataset into token shards: one Dask task per input shard, resumable, byte-stable.

Output shards hold `id`, `source`, `input_ids` (list<uint16> when the vocabulary fits, else uint32)
with no BOS/EOS: the trainer's packer adds EOS between documents.  Literal special-token strings in
documents (e.g. "</s>" in scraped HTML) are encoded as plain text, never as control ids.

Optional columns: with `word_boundaries=True`, `word_starts` (list<bool>, aligned with
`input_ids`: does the token start a word; jieba for Chinese, see `word_starts.py`) and the
knowledge-masking units `phrase_starts` / `entity_starts` (list<bool>: does the token start a unit
of that level; see `knowledge_spans.py`), and the input's
`quality_score` / `cluster_size` columns, carried through when present so stream-time sampling
inside a source (`tokenization.mixing`) can weight documents without re-reading the dataset.

The dataset, tokenizer and output may each be a local path or an fsspec URL (`s3://bucket/run/tokens`):
shards, markers and the manifest are written through `pipeline.core.atomic`, whose commit rule makes
a shard count only once its done marker exists.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pipeline.core.atomic import (
    AnyPath,
    as_path,
    is_done,
    mark_done,
    read_arrow,
    sha256_file,
    write_arrow,
    write_bytes,
    write_json,
)
from pipeline.core.ownership import claim_output
from tokenization import __version__
from tokenization import special_tokens as st
from tokenization.knowledge_spans import UNIT_COLUMNS, unit_starts
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
_META_WORDS = b"yuliao.word_boundaries"
_META_SPANS = b"yuliao.knowledge_spans"  # shards written before knowledge spans lack it: re-encoded
# Per-document columns carried from the dataset into token shards when the dataset has them.
CARRIED_COLUMNS = ("quality_score", "cluster_size")


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
    word_boundaries: bool = False
    # Distributed workers run one task per core: tokenizers' own thread pool is switched off there.
    single_threaded: bool = False


def token_dtype(vocab_size: int) -> str:
    """Smallest unsigned dtype holding every id (max id is vocab_size - 1)."""
    return "uint16" if vocab_size <= 1 << 16 else "uint32"


def _read_schema(path: AnyPath) -> pa.Schema:
    """The schema from the file's footer (a few ranged reads on an object store, not the whole file)."""
    try:
        if isinstance(path, Path):
            with pa.memory_map(str(path), "r") as source:
                return pa.ipc.open_file(source).schema
        with path.open("rb") as fh:
            return pa.ipc.open_file(fh).schema
    except pa.ArrowInvalid as e:
        raise DatasetError(f"{path}: not an Arrow IPC file: {e}") from e


def _write_shard(out: AnyPath, table: pa.Table) -> tuple[int, str]:
    """Write a shard; its (size, sha256).  On an object store the bytes are hashed as they are sent
    instead of being downloaded again."""
    if isinstance(out, Path):
        write_arrow(out, table)
        return out.stat().st_size, sha256_file(out)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as w:  # the bytes write_arrow writes
        w.write_table(table)
    data = sink.getvalue().to_pybytes()  # boto takes bytes, not buffers
    write_bytes(out, data)
    return len(data), hashlib.sha256(data).hexdigest()


def _read_shard(path: AnyPath) -> tuple[pa.Table, int, str]:
    """A written shard with its (size, sha256): memory-mapped when local, one download otherwise."""
    if isinstance(path, Path):
        return read_arrow(path), path.stat().st_size, sha256_file(path)
    data = path.read_bytes()
    return pa.ipc.open_file(pa.py_buffer(data)).read_all(), len(data), hashlib.sha256(data).hexdigest()


def _shard_stats(table: pa.Table, size: int, sha256: str) -> dict[str, Any]:
    import pyarrow.compute as pc

    lengths = pc.list_value_length(table.column("input_ids")).fill_null(0)
    per_source = (
        pa.table({"source": table.column("source"), "n": lengths})
        .group_by("source")
        .aggregate([("n", "sum"), ("n", "count")])
    )
    names = [str(s) for s in per_source.column("source").to_pylist()]
    tokens_per_source = dict(zip(names, map(int, per_source.column("n_sum").to_pylist()), strict=True))
    docs_per_source = dict(zip(names, map(int, per_source.column("n_count").to_pylist()), strict=True))
    return {
        "rows": table.num_rows,
        "bytes": size,
        "sha256": sha256,
        "tokens": int(pc.sum(lengths).as_py() or 0),
        "tokens_per_source": dict(sorted(tokens_per_source.items())),
        "docs_per_source": dict(sorted(docs_per_source.items())),
    }


def _reusable(task: ShardTask) -> tuple[pa.Table, int, str] | None:
    """A finished shard (with its size and sha256) is reused only if it was made from the same input
    and tokenizer."""
    out = as_path(task.output_path)
    if not (is_done(out) and out.is_file()):
        return None
    try:
        shard = _read_shard(out)
    except (OSError, pa.ArrowInvalid):
        return None
    table = shard[0]
    meta = table.schema.metadata or {}
    if (
        meta.get(_META_TOKENIZER) != task.tokenizer_sha256.encode()
        or meta.get(_META_INPUT) != task.input_sha256.encode()
        or meta.get(_META_WORDS, b"0") != (b"1" if task.word_boundaries else b"0")
        or meta.get(_META_SPANS, b"0") != (b"1" if task.word_boundaries else b"0")
    ):
        log.info("re-encoding %s: made from a different input shard, tokenizer or word-boundary setting", out)
        return None
    return shard


def _encode_texts(
    tok, texts: pa.ChunkedArray, dtype: str, word_boundaries: bool = False
) -> tuple[pa.ListArray, list[pa.ListArray]]:
    """Batch-encode a text column into list<dtype> ids (and the list<bool> `UNIT_COLUMNS`), a slice at a time."""
    lengths: list[np.ndarray] = []
    values: list[np.ndarray] = []
    starts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for start in range(0, len(texts), _ENCODE_BATCH):
        batch = [t if t is not None else "" for t in texts.slice(start, _ENCODE_BATCH).to_pylist()]
        # encode_batch, not encode_batch_fast (which skips offsets): in tokenizers 0.23 the "fast"
        # call is 15-25 % slower on one thread (Dask workers) and no faster on two -- measured on
        # the dev crawl text with the bench's 32k bpe, three tokenizer instances interleaved.
        encs = tok.encode_batch(batch, add_special_tokens=False)
        ids = [e.ids for e in encs]
        lens = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        lengths.append(lens)
        values.append(np.fromiter(chain.from_iterable(ids), dtype=dtype, count=int(lens.sum())))
        if word_boundaries:
            starts.extend(unit_starts(t, e.offsets) for t, e in zip(batch, encs, strict=True))
    lens = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
    offsets = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(lens, out=offsets[1:])
    if offsets[-1] > np.iinfo(np.int32).max:
        raise ValueError(f"shard has {offsets[-1]} tokens, above the 2**31 list<> limit: split it smaller")
    offsets32 = pa.array(offsets.astype(np.int32))
    flat = np.concatenate(values) if values else np.zeros(0, dtype=dtype)
    ids = pa.ListArray.from_arrays(offsets32, pa.array(flat, type=pa.from_numpy_dtype(flat.dtype)))
    if not word_boundaries:
        return ids, []
    columns = []
    for level in range(len(UNIT_COLUMNS)):
        flags = np.concatenate([s[level] for s in starts]) if starts else np.zeros(0, dtype=bool)
        columns.append(pa.ListArray.from_arrays(offsets32, pa.array(flags, type=pa.bool_())))
    return ids, columns


@lru_cache(maxsize=2)
def _cached_tokenizer(path: str, sha256: str):
    """One loaded tokenizer per worker process and tokenizer version (loading a 32k vocab is not free)."""
    json_path = as_path(path)
    if isinstance(json_path, Path):
        tok = load_tokenizer(json_path.parent)
    elif json_path.is_file():  # on an object store: Tokenizer.from_file reads local files only
        from tokenizers import Tokenizer

        tok = Tokenizer.from_str(json_path.read_text(encoding="utf-8"))
    else:
        raise FileNotFoundError(
            f"tokenizer file not found: {json_path} (train one with `yuliao tokenizer train`)"
        )
    tok.encode_special_tokens = True  # document text "</s>" must not become the EOS id
    return tok


def encode_shard(task: ShardTask) -> dict[str, Any]:
    """Encode one input shard (or reuse a finished one) and return its manifest entry."""
    out = as_path(task.output_path)
    shard = _reusable(task)
    if shard is not None:
        table, size, sha256 = shard
    else:
        source_path = as_path(task.input_path)
        if not source_path.is_file():
            raise DatasetError(f"input shard not found: {source_path}")
        src = read_arrow(source_path)
        require_columns(src.schema, ["id", "source", task.text_field], source_path)
        if task.input_rows is not None and src.num_rows != task.input_rows:
            raise DatasetError(
                f"{source_path}: has {src.num_rows} rows but the manifest says {task.input_rows}"
            )
        if task.single_threaded:
            os.environ["TOKENIZERS_PARALLELISM"] = "false"  # one core per Dask worker, no oversubscription
        tok = _cached_tokenizer(task.tokenizer_path, task.tokenizer_sha256)
        input_ids, starts = _encode_texts(tok, src.column(task.text_field), task.dtype, task.word_boundaries)
        metadata = {
            _META_TOKENIZER: task.tokenizer_sha256.encode(),
            _META_INPUT: task.input_sha256.encode(),
            _META_CODE: __version__.encode(),
            _META_WORDS: b"1" if task.word_boundaries else b"0",
            **({_META_SPANS: b"1"} if task.word_boundaries else {}),
        }
        fields = [
            ("id", pa.string()),
            ("source", pa.string()),
            ("input_ids", pa.list_(getattr(pa, task.dtype)())),
        ]
        columns = [
            src.column("id").cast(pa.string()).combine_chunks(),
            src.column("source").cast(pa.string()).combine_chunks(),
            input_ids,
        ]
        for name, flags in zip(UNIT_COLUMNS, starts, strict=False):
            fields.append((name, pa.list_(pa.bool_())))
            columns.append(flags)
        for name in CARRIED_COLUMNS:
            if name in src.schema.names:
                fields.append((name, src.schema.field(name).type))
                columns.append(src.column(name).combine_chunks())
        table = pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=metadata))
        size, sha256 = _write_shard(out, table)
        mark_done(out)
    return {"path": out.name, "input": task.input_rel, **_shard_stats(table, size, sha256)}


def _role_id(tok, role: str) -> int:
    """Id of a special role, whatever the kind spells it (`</s>` or `[EOS]`); the layout fixes the id."""
    for kind in ("bpe", "char"):
        i = tok.token_to_id(st.special_token_strings(kind)[role])
        if i is not None:
            return int(i)
    raise ValueError(
        f"tokenizer has no {role} token ({st.special_token_strings('bpe')[role]} / "
        f"{st.special_token_strings('char')[role]})"
    )


def _run(tasks: list[ShardTask], client, scheduler: str) -> list[dict[str, Any]]:
    if not tasks:
        return []
    if client is not None:
        from pipeline.core.executor import map_tasks

        return map_tasks(client, encode_shard, tasks, "encode")
    import dask

    return list(dask.compute(*[dask.delayed(encode_shard)(t) for t in tasks], scheduler=scheduler))


def encode_dataset(
    dataset_dir: str | os.PathLike[str] | AnyPath,
    tokenizer_dir: str | os.PathLike[str] | AnyPath,
    out_dir: str | os.PathLike[str] | AnyPath,
    client=None,
    *,
    text_field: str = "text",
    scheduler: str = "threads",
    word_boundaries: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Tokenize every shard of a pipeline dataset into `out_dir` and write its token manifest.

    `out_dir` must be new, empty or an earlier encode output (`pipeline.core.ownership`);
    `overwrite` writes beside foreign files.

    `client` is a `distributed.Client`; without one, Dask's local `scheduler` runs the tasks
    (threads are fine: tokenizers releases the GIL).  Shards already done with the same input and
    tokenizer are reused, so an interrupted run resumes and reruns are byte-identical.  With a
    client, each task encodes on one core (tokenizers' thread pool off), so workers scale.
    """
    dataset_dir, tokenizer_dir, out_dir = as_path(dataset_dir), as_path(tokenizer_dir), as_path(out_dir)
    manifest = load_dataset_manifest(dataset_dir)
    tokenizer_json = tokenizer_dir / TOKENIZER_JSON
    tokenizer_sha = sha256_file(tokenizer_json) if tokenizer_json.is_file() else ""
    # The tasks' cached loader (its clear error when the file is absent): with a local scheduler
    # the tasks then reuse this load; a 32k BPE takes ~0.1 s to load.
    tok = _cached_tokenizer(str(tokenizer_json), tokenizer_sha)
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
                word_boundaries=word_boundaries,
                single_threaded=client is not None,
            )
        )
    # Shards are checked one by one against their input and tokenizer (a changed tokenizer
    # re-encodes in place), so the claim only keeps the folder to this command and one run.
    writes = [f"shard-{i:05d}.arrow" for i in range(len(tasks))]  # their markers sit in .yuliao/
    with claim_output(
        out_dir,
        "tokenizer encode",
        "",
        [*writes, "manifest.json"],
        [str(dataset_dir), str(tokenizer_dir)],
        overwrite,
    ):
        shards = _run(tasks, client, scheduler)

        totals: dict[str, int] = {}
        docs: dict[str, int] = {}
        for s in shards:
            for src, n in s["tokens_per_source"].items():
                totals[src] = totals.get(src, 0) + n
            for src, n in s["docs_per_source"].items():
                docs[src] = docs.get(src, 0) + n
        token_manifest = {
            "shards": shards,
            "rows": sum(s["rows"] for s in shards),
            "tokens_per_source": dict(sorted(totals.items())),
            "docs_per_source": dict(sorted(docs.items())),
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
            "eos_id": _role_id(tok, "eos"),
            "pad_id": _role_id(tok, "pad"),
            "text_field": text_field,
            "word_boundaries": word_boundaries,
            "knowledge_spans": word_boundaries,  # phrase_starts / entity_starts stored with word_starts
            "code_version": __version__,
        }
        write_json(out_dir / "manifest.json", token_manifest)
        return token_manifest
