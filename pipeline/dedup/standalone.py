"""Deduplicate any JSONL(.gz) / Parquet / Arrow file of documents, outside a pipeline run."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq

from pipeline import ledger
from pipeline.config import DedupConfig
from pipeline.dedup.exact import exact_duplicates, text_hash
from pipeline.dedup.lsh import near_duplicates
from pipeline.dedup.minhash import signatures
from pipeline.io.atomic import read_arrow, write_arrow, write_bytes, write_json, write_parquet


def read_documents(path: Path, id_field: str, text_field: str) -> pa.Table:
    name = path.name
    if name.endswith((".jsonl", ".jsonl.gz", ".json", ".json.gz")):
        table = pajson.read_json(path)  # pyarrow decompresses .gz by extension
    elif name.endswith(".parquet"):
        table = pq.read_table(path)
    elif name.endswith((".arrow", ".feather")):
        table = read_arrow(path)
    else:
        raise ValueError(f"--input {path}: unsupported format (use .jsonl[.gz], .parquet or .arrow)")
    for field in (id_field, text_field):
        if field not in table.column_names:
            raise ValueError(f"--input {path}: no column {field!r} (columns: {table.column_names})")
    return table


def dedup_file(path: Path, out: Path, id_field: str, text_field: str, cfg: DedupConfig) -> dict:
    table = read_documents(path, id_field, text_field)
    ids = [str(x) for x in table.column(id_field).to_pylist()]
    texts = [x or "" for x in table.column(text_field).to_pylist()]
    dupes = (
        {d: (k, "exact") for d, k in exact_duplicates(ids, [text_hash(t) for t in texts]).items()}
        if cfg.exact
        else {}
    )
    if cfg.near:
        rest = [i for i, d in enumerate(ids) if d not in dupes]
        sigs = signatures([texts[i] for i in rest], cfg)
        dupes.update((d, (k, "near")) for d, k in near_duplicates([ids[i] for i in rest], sigs, cfg).items())
    keep_mask = pa.array([i not in dupes for i in ids])
    kept = table.filter(keep_mask)
    kept_ids = [i for i in ids if i not in dupes]
    dup_ids = [i for i in ids if i in dupes]
    source = [path.name] * len(ids)
    rows = ledger.concat(
        [
            ledger.rows(kept_ids, source[: len(kept_ids)], "output", "kept"),
            ledger.rows(
                dup_ids,
                source[: len(dup_ids)],
                "dedup",
                "duplicate",
                reasons=[dupes[i][1] for i in dup_ids],
                duplicate_of=[dupes[i][0] for i in dup_ids],
            ),
        ]
    )
    ledger.check_balanced(rows, len(ids))
    write_arrow(out / "data" / "shard-00000.arrow", kept)
    write_parquet(out / "ledger" / "part-00000.parquet", rows)
    write_bytes(out / "kept_ids.txt", "".join(f"{i}\n" for i in kept_ids).encode())
    summary = {
        "input": str(path),
        "documents": len(ids),
        "kept": len(kept_ids),
        "duplicates_exact": sum(1 for v in dupes.values() if v[1] == "exact"),
        "duplicates_near": sum(1 for v in dupes.values() if v[1] == "near"),
        "config": cfg.model_dump(),
    }
    write_json(out / "summary.json", summary)
    return summary
