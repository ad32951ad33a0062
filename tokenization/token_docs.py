"""Per-source documents of a token-shard directory, memory-mapped: lengths, carried columns, token ids.

Documents of a source are numbered in manifest shard order, then record-batch order, then row
order — the same numbering as `pretrain.data.shards.TokenShards`, so a sampler built here and a
stream reading documents there agree on what "document 17 of source web" is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.core.atomic import read_arrow


@dataclass
class _Source:
    chunk: list[np.ndarray] = field(default_factory=list)  # per part: chunk id per doc
    row: list[np.ndarray] = field(default_factory=list)
    length: list[np.ndarray] = field(default_factory=list)
    columns: dict[str, list[np.ndarray]] = field(default_factory=dict)


class TokenDocs:
    """Read-only access to `TOKENS/manifest.json` shards, grouped by source."""

    def __init__(self, tokens_dir: str | Path, columns: tuple[str, ...] = ()) -> None:
        self.dir = Path(tokens_dir)
        self.manifest: dict[str, Any] = json.loads((self.dir / "manifest.json").read_text())
        self.eos_id = int(self.manifest["eos_id"])
        self._values: list[np.ndarray] = []
        self._offsets: list[np.ndarray] = []
        parts: dict[str, _Source] = {}
        for shard in self.manifest["shards"]:
            table = read_arrow(self.dir / shard["path"])
            ids = table.column("input_ids")
            src = table.column("source").combine_chunks()
            extra = {c: table.column(c).combine_chunks() for c in columns if c in table.schema.names}
            start = 0
            for chunk in ids.chunks:
                cid = len(self._values)
                self._values.append(chunk.values.to_numpy(zero_copy_only=True))
                offsets = chunk.offsets.to_numpy()
                self._offsets.append(offsets)
                lengths = np.diff(offsets).astype(np.int64)
                names = src.slice(start, len(chunk))
                encoded = pc.dictionary_encode(names)
                codes = encoded.indices.to_numpy(zero_copy_only=False)
                for code, name in enumerate(encoded.dictionary.to_pylist()):
                    rows = np.flatnonzero(codes == code)
                    p = parts.setdefault(name, _Source())
                    p.chunk.append(np.full(len(rows), cid, np.int32))
                    p.row.append(rows)
                    p.length.append(lengths[rows])
                    for c, col in extra.items():
                        vals = col.slice(start, len(chunk)).to_numpy(zero_copy_only=False)
                        p.columns.setdefault(c, []).append(np.asarray(vals)[rows])
                start += len(chunk)
        self._chunk = {n: np.concatenate(p.chunk) for n, p in sorted(parts.items())}
        self._row = {n: np.concatenate(p.row) for n, p in sorted(parts.items())}
        self._length = {n: np.concatenate(p.length) for n, p in sorted(parts.items())}
        self._columns = {n: {c: np.concatenate(v) for c, v in p.columns.items()} for n, p in parts.items()}

    @property
    def sources(self) -> list[str]:
        return list(self._length)

    def doc_lengths(self, source: str) -> np.ndarray:
        return self._length[source]

    def column(self, source: str, name: str) -> np.ndarray | None:
        """A carried per-document column (e.g. quality_score), or None when the shards lack it."""
        return self._columns.get(source, {}).get(name)

    def doc(self, source: str, doc_id: int) -> np.ndarray:
        """Token ids of one document (zero-copy view, stored dtype)."""
        c, r = int(self._chunk[source][doc_id]), int(self._row[source][doc_id])
        off = self._offsets[c]
        return self._values[c][off[r] : off[r + 1]]


def as_table(values: np.ndarray, chunk_len: int) -> pa.FixedSizeListArray:
    """[N, C] token array -> Arrow fixed_size_list<C> column (no copy of the values)."""
    flat = pa.array(values.reshape(-1))
    return pa.FixedSizeListArray.from_arrays(flat, chunk_len)
