"""Read-only view of the tokenization stage's Arrow shards, memory-mapped and opened on first use.

Documents are addressed per source as (source, local doc id), so the mixture sampler never
needs to know how documents are spread over shard files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.io.atomic import read_arrow


@dataclass(frozen=True)
class _Chunk:
    """One record batch of `input_ids`: flat token values plus list offsets (both zero-copy)."""

    values: np.ndarray
    offsets: np.ndarray


@dataclass(frozen=True)
class _SourceIndex:
    chunk: np.ndarray  # [n_docs] int32: index into TokenShards._chunks
    row: np.ndarray  # [n_docs] int64: row within that chunk
    length: np.ndarray  # [n_docs] int64: tokens in the document


class TokenShards:
    """Per-source document access over all shards listed in `TOKENS/manifest.json`."""

    def __init__(self, tokens_dir: str | Path) -> None:
        self.dir = Path(tokens_dir)
        self.manifest = json.loads((self.dir / "manifest.json").read_text())
        self.eos_id: int = int(self.manifest["eos_id"])
        self.pad_id: int = int(self.manifest["pad_id"])
        self._chunks: list[_Chunk] | None = None
        self._index: dict[str, _SourceIndex] | None = None

    def __getstate__(self) -> dict:
        # DataLoader workers reopen the memory maps themselves instead of pickling arrays.
        return {**self.__dict__, "_chunks": None, "_index": None}

    def _open(self) -> None:
        chunks: list[_Chunk] = []
        parts: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
        for shard in self.manifest["shards"]:
            table = read_arrow(self.dir / shard["path"])
            ids_col, src_col = table.column("input_ids"), table.column("source")
            for ids, src in zip(ids_col.chunks, _aligned(src_col, ids_col), strict=True):
                offsets = ids.offsets.to_numpy()
                values = ids.values.to_numpy(zero_copy_only=True)
                cid = len(chunks)
                chunks.append(_Chunk(values=values, offsets=offsets))
                lengths = np.diff(offsets).astype(np.int64)
                encoded = pc.dictionary_encode(src)
                names = encoded.dictionary.to_pylist()
                codes = encoded.indices.to_numpy()
                for code, name in enumerate(names):
                    rows = np.flatnonzero(codes == code)
                    parts.setdefault(name, []).append(
                        (np.full(len(rows), cid, np.int32), rows, lengths[rows])
                    )
        self._chunks = chunks
        self._index = {
            name: _SourceIndex(*(np.concatenate([p[i] for p in ps]) for i in range(3)))
            for name, ps in sorted(parts.items())
        }

    @property
    def index(self) -> dict[str, _SourceIndex]:
        if self._index is None:
            self._open()
        assert self._index is not None
        return self._index

    @property
    def sources(self) -> list[str]:
        return list(self.index)

    def num_docs(self, source: str) -> int:
        return len(self.index[source].length)

    def doc_lengths(self, source: str) -> np.ndarray:
        return self.index[source].length

    def doc(self, source: str, doc_id: int) -> np.ndarray:
        """Token ids of one document as a zero-copy view (dtype as stored: uint16/uint32)."""
        idx = self.index[source]
        assert self._chunks is not None
        chunk = self._chunks[int(idx.chunk[doc_id])]
        row = int(idx.row[doc_id])
        return chunk.values[chunk.offsets[row] : chunk.offsets[row + 1]]


def _aligned(col: pa.ChunkedArray, like: pa.ChunkedArray) -> list[pa.Array]:
    """`col` re-chunked to the chunk boundaries of `like` (same table, normally already equal)."""
    whole = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    out, start = [], 0
    for chunk in like.chunks:
        out.append(whole.slice(start, len(chunk)))
        start += len(chunk)
    return out
