"""Dedup keys computed on the workers in stage 1, so the global step never touches text.

`text_hash` (exact) and `minhash` (near) are stored as extra columns of a partition's
stage-1 Arrow file and dropped before the documents are written out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from pipeline.config import DedupConfig
from pipeline.io.atomic import read_arrow

KEY_COLUMNS = ("text_hash", "minhash")


def add_dedup_keys(batch: pa.Table, cfg: DedupConfig) -> pa.Table:
    from pipeline.dedup.exact import text_hash
    from pipeline.dedup.minhash import signatures

    texts = batch.column("text").to_pylist()
    batch = batch.append_column("text_hash", pa.array([text_hash(x) for x in texts], pa.string()))
    if cfg.near:
        sigs = signatures(texts, cfg)
        flat = pa.array(sigs.reshape(-1))
        batch = batch.append_column("minhash", pa.FixedSizeListArray.from_arrays(flat, cfg.num_perm))
    return batch


def load_dedup_keys(path: Path, with_minhash: bool) -> tuple[list[str], list[str], np.ndarray | None]:
    table = read_arrow(path)
    ids = table.column("id").to_pylist()
    hashes = table.column("text_hash").to_pylist()
    sigs = None
    if with_minhash:
        col = table.column("minhash").combine_chunks()
        width = col.type.list_size
        sigs = (
            col.values.to_numpy(zero_copy_only=False).reshape(-1, width)
            if len(col)
            else np.empty((0, width), np.uint32)
        )
    return ids, hashes, sigs
