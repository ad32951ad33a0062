"""The global dedup decision over every partition's survivors.

Input: each partition's stage-1 Arrow file (ids + dedup keys, in partition order).
Output: one decision file per partition, `decisions/PART.parquet`, with a row for every
document that is a duplicate (`duplicate_of` = the kept id, `reason` = exact | near).
Stage 3 of each partition reads only its own file, so no task holds the global result.
Partition order, then row order, is the deterministic rule for which copy is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import DedupConfig
from pipeline.io.atomic import is_done, mark_done, write_parquet

DECISION_SCHEMA = pa.schema([("id", pa.string()), ("duplicate_of", pa.string()), ("reason", pa.string())])


def decision_path(work: Path, part_name: str) -> Path:
    return work / "dedup" / f"{part_name}.parquet"


def read_decisions(work: Path, part_name: str) -> dict[str, tuple[str, str]]:
    """id → (kept id, reason) for this partition's duplicates."""
    rows = pq.read_table(decision_path(work, part_name), schema=DECISION_SCHEMA).to_pylist()
    return {r["id"]: (r["duplicate_of"], r["reason"]) for r in rows}


def find_duplicates(
    key_files: Sequence[tuple[str, Path]], work: Path, cfg: DedupConfig, client: object = None
) -> None:
    """Decide duplicates across all partitions; writes one decision file per partition.

    `key_files` is [(partition name, stage-1 Arrow path)] in partition order.  Only ids,
    hashes and signatures are loaded here (never text).  Resumable: done when the marker of
    the whole decision exists.
    """
    import numpy as np

    from pipeline.dedup.exact import exact_duplicates
    from pipeline.dedup.keys import load_dedup_keys
    from pipeline.dedup.lsh import near_duplicates

    marker = work / "dedup" / "decided"
    if is_done(marker):
        return
    ids: list[str] = []
    owner: list[str] = []
    hashes: list[str] = []
    sig_blocks = []
    for name, path in key_files:
        p_ids, p_hashes, p_sigs = load_dedup_keys(path, with_minhash=cfg.near)
        ids += p_ids
        owner += [name] * len(p_ids)
        hashes += p_hashes
        if p_sigs is not None:
            sig_blocks.append(p_sigs)
    dupes: dict[str, tuple[str, str]] = {}
    if cfg.exact:
        dupes.update((d, (k, "exact")) for d, k in exact_duplicates(ids, hashes).items())
    if cfg.near and ids:
        sigs = np.concatenate(sig_blocks)
        keep = np.array([i not in dupes for i in ids])
        rest_ids = [i for i, k in zip(ids, keep, strict=True) if k]
        dupes.update((d, (k, "near")) for d, k in near_duplicates(rest_ids, sigs[keep], cfg).items())
    by_part: dict[str, list[str]] = {name: [] for name, _ in key_files}
    for doc_id, name in zip(ids, owner, strict=True):
        if doc_id in dupes:
            by_part[name].append(doc_id)
    for name, dup_ids in by_part.items():
        table = pa.table(
            {
                "id": pa.array(dup_ids, pa.string()),
                "duplicate_of": pa.array([dupes[i][0] for i in dup_ids], pa.string()),
                "reason": pa.array([dupes[i][1] for i in dup_ids], pa.string()),
            },
            schema=DECISION_SCHEMA,
        )
        write_parquet(decision_path(work, name), table)
    mark_done(marker)
