"""Write the first N examples of the mixture stream as fixed-size chunk shards, for trainers that cannot
sample at stream time.

The rows are exactly the examples `pretrain` would draw with the same mixture, chunk length and
run seed (`tokenization.stream`: the same documents, sampling, passes and window shuffle), so a
materialised run and a streamed run see the same data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pipeline.core.atomic import as_path, sha256_file, write_arrow, write_json
from tokenization.mixture import FORMAT
from tokenization.shards import TokenShards
from tokenization.stream import WINDOW, DocStream, window, window_order


class _TokenSources:
    """Source index of every token of the stream, walking its own copy of the document stream forward."""

    def __init__(self, shards: TokenShards, mixture: dict[str, Any]) -> None:
        self.walker = DocStream(shards, mixture)
        self.blocks: list[Any] = []

    def between(self, lo: int, hi: int) -> np.ndarray:
        while not self.blocks or self.blocks[-1].end < hi:
            self.blocks.append(self.walker.next_block())
        while self.blocks[0].end <= lo:
            self.blocks.pop(0)
        first = int(self.blocks[0].start[0])
        per_token = np.concatenate(
            [np.repeat(b.source, np.diff(np.append(b.start, b.end))) for b in self.blocks]
        )
        return per_token[lo - first : hi - first]


def materialise(
    mixture: dict[str, Any],
    tokens_dir: str | Path,
    out_dir: str | Path,
    chunk_len: int,
    examples: int,
    seed: int,
) -> dict[str, Any]:
    """Examples [0, examples) of the stream (run seed `seed`), one shard per shuffle window."""
    shards = TokenShards(tokens_dir)
    stream, sources = DocStream(shards, mixture), _TokenSources(shards, mixture)
    out_dir = as_path(out_dir)
    dtype = np.dtype(shards.manifest["dtype"])
    written, per_source = [], np.zeros(len(stream.sources), np.int64)
    for q in range(-(-examples // WINDOW)):
        rows = min(WINDOW, examples - q * WINDOW)
        chunks, _ = window(stream, q, chunk_len, seed)
        size = WINDOW * chunk_len
        token_source = sources.between(q * size, (q + 1) * size).reshape(WINDOW, chunk_len)
        token_source = token_source[window_order(q, seed)][:rows]
        counts = np.stack([np.bincount(r, minlength=len(stream.sources)) for r in token_source])
        per_source += counts.sum(axis=0)
        table = pa.table(
            {
                "example": pa.array(np.arange(q * WINDOW, q * WINDOW + rows), pa.int64()),
                "source": pa.array([stream.sources[i] for i in counts.argmax(axis=1)], pa.string()),
                "input_ids": pa.FixedSizeListArray.from_arrays(
                    pa.array(chunks[:rows].astype(dtype).reshape(-1)), chunk_len
                ),
            }
        )
        path = out_dir / f"examples-{q:05d}.arrow"
        write_arrow(path, table)
        written.append({"path": path.name, "rows": rows, "sha256": sha256_file(path)})
    total = max(1, int(per_source.sum()))
    manifest = {
        "format": FORMAT + ".materialised",
        "chunk_len": chunk_len,
        "examples": examples,
        "seed": seed,
        "dtype": dtype.name,
        "shards": written,
        "tokens_per_source": {s: int(n) for s, n in zip(stream.sources, per_source, strict=True)},
        "share_per_source": {s: float(n / total) for s, n in zip(stream.sources, per_source, strict=True)},
        "mixture": mixture,
        "tokens_manifest_sha256": sha256_file(as_path(tokens_dir) / "manifest.json"),
    }
    write_json(out_dir / "manifest.json", manifest)
    return manifest
