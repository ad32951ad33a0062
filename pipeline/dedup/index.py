"""A persisted band index, so a new crawl is deduplicated against earlier ones without redoing them.

    INDEX/meta.json                   settings that must match + the segment list
    INDEX/bands/SHARD/SEGMENT.parquet (key, gid, aux) band rows, sharded like a run's shuffle
    INDEX/docs/SEGMENT.arrow          id, text_hash, minhash of every indexed (kept) document

A run reads every segment's band rows into its bucket shards (their documents rank before
the run's own, so they are always kept), verifies pairs with them by signature agreement
(the index keeps no text), and appends its kept documents as new segments (index_append.py).  Segments are
written before `meta.json` lists them, so a killed append leaves the index as it was.
Memory: per indexed document about 24 bytes × (bands + 1) of band rows on disk (compressed)
plus its signature (4 × num_perm bytes) and id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pipeline.config import DedupConfig
from pipeline.core.atomic import write_json

VERSION = 1


@dataclass(frozen=True)
class Index:
    root: Path
    shards: int
    segments: tuple[str, ...]

    def docs_path(self, segment: str) -> Path:
        return self.root / "docs" / f"{segment}.arrow"

    def bands_path(self, shard: int, segment: str) -> Path:
        return self.root / "bands" / f"{shard:05d}" / f"{segment}.parquet"

    def segment_paths(self) -> list[Path]:
        return [self.docs_path(s) for s in self.segments]


def settings(cfg: DedupConfig, bands: int, rows: int) -> dict:
    """What makes signatures and band keys comparable across runs."""
    return {
        "version": VERSION,
        "num_perm": cfg.num_perm,
        "seed": cfg.seed,
        "ngram": cfg.ngram,
        "word_ngram": cfg.word_ngram,
        "shingle": cfg.shingle,
        "run_gap": cfg.run_gap,
        "t2s": cfg.t2s,
        "bands": bands,
        "rows": rows,
    }


def open_index(root: Path, cfg: DedupConfig, bands: int, rows: int, shards: int) -> Index:
    """Open (or start) the index at `root`; its settings must match this run's."""
    meta_path = root / "meta.json"
    want = settings(cfg, bands, rows)
    if not meta_path.exists():
        return Index(root, shards, ())
    meta = json.loads(meta_path.read_text())
    mismatched = {k: (meta.get(k), v) for k, v in want.items() if meta.get(k) != v}
    if mismatched:
        detail = ", ".join(f"{k}: index {a!r} vs run {b!r}" for k, (a, b) in mismatched.items())
        raise ValueError(f"--index {root}: built with other dedup settings ({detail})")
    return Index(root, int(meta["shards"]), tuple(meta["segments"]))


def commit(index: Index, cfg: DedupConfig, bands: int, rows: int, new_segments: list[str]) -> Index:
    segments = tuple(dict.fromkeys([*index.segments, *new_segments]))
    write_json(
        index.root / "meta.json",
        {**settings(cfg, bands, rows), "shards": index.shards, "segments": list(segments)},
    )
    return Index(index.root, index.shards, segments)
