"""Dedup keys computed on the workers in stage 1, so the global step never re-reads whole texts.

`text_hash` (exact), `minhash` (near; one pass of the numba shingle kernel gives both) and,
with line dedup on, `line_hashes` are extra columns of a partition's stage-1 Arrow file;
stage 3 drops them (KEY_COLUMNS) before writing documents out.
"""

from __future__ import annotations

import pyarrow as pa

from pipeline.config import DedupConfig

KEY_COLUMNS = ("text_hash", "minhash", "line_hashes")


def add_dedup_keys(batch: pa.Table, cfg: DedupConfig) -> pa.Table:
    from pipeline.dedup.exact import text_hash
    from pipeline.dedup.minhash import signatures_and_hashes

    column = batch.column("text")
    texts: list[str] | None = None  # Python strings only where a step needs them
    if cfg.near:
        sigs, hashes = signatures_and_hashes(column, cfg)  # reads the Arrow text in place
    else:
        texts = [t or "" for t in column.to_pylist()]
        sigs, hashes = None, [text_hash(t, cfg.t2s) for t in texts]
    batch = batch.append_column("text_hash", pa.array(hashes, pa.string()))
    if sigs is not None:
        flat = pa.array(sigs.reshape(-1), pa.uint32())
        batch = batch.append_column("minhash", pa.FixedSizeListArray.from_arrays(flat, cfg.num_perm))
    if cfg.lines.enabled:
        from pipeline.dedup.lines import line_hash_column

        if texts is None:
            texts = [t or "" for t in column.to_pylist()]
        batch = batch.append_column("line_hashes", line_hash_column(texts, cfg.lines))
    return batch
