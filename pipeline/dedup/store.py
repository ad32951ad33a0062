"""Random access to documents by global id (gid), without loading partitions whole.

A gid is `partition << 32 | row` for this run's partitions (stage-1 Arrow files, memory
mapped, so reading one row touches only its pages) and `INDEX_GID | segment << 32 | row`
for documents of a persisted index (index.py).  Verification and clustering read only
the candidates' rows: a task holds the candidates it is given, never a partition's text.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.core.atomic import read_arrow
from pipeline.dedup.plan import Plan

INDEX_GID = np.uint64(1 << 62)  # set in the gids of a persisted index's documents
_ROW = np.uint64(0xFFFFFFFF)


def make_gids(part: int, n: int, index: bool = False) -> np.ndarray:
    base = (np.uint64(part) << np.uint64(32)) | (INDEX_GID if index else np.uint64(0))
    return base | np.arange(n, dtype=np.uint64)


def split_gid(gids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(is_index, partition or segment, row) of each gid."""
    is_index = (gids & INDEX_GID) != 0
    return is_index, ((gids & ~INDEX_GID) >> np.uint64(32)).astype(np.int64), (gids & _ROW).astype(np.int64)


def signature_matrix(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """(rows, num_perm) uint32 view of a FixedSizeList<uint32> column (no copy for one chunk)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    width = column.type.list_size
    if not chunks:
        return np.empty((0, width), np.uint32)
    parts = [c.flatten().to_numpy(zero_copy_only=False).reshape(-1, width) for c in chunks]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def take_rows(column: pa.ChunkedArray, rows: np.ndarray) -> pa.Array:
    """`column[rows]` (rows sorted) taken chunk by chunk: ChunkedArray.take first concatenates the
    chunks, which copies a whole memory-mapped column and faults in all of its pages."""
    bounds = np.cumsum([0, *(len(c) for c in column.chunks)])
    chunk_of = np.searchsorted(bounds, rows, side="right") - 1
    pieces = [
        column.chunk(int(c)).take(pa.array(rows[chunk_of == c] - bounds[c])) for c in np.unique(chunk_of)
    ]
    return pa.concat_arrays(pieces) if pieces else pa.array([], column.type)


class DocStore:
    """Opens a partition / index segment for each read and lets it go after: a memory map kept
    open holds every page a task ever touched in its RSS (the kernel reads ahead around each
    faulting row), so a task that reads a few rows of every partition would map the corpus."""

    def __init__(self, parts: Sequence[Path], segments: Sequence[Path] = ()):
        self.parts, self.segments = list(parts), list(segments)

    def table(self, is_index: bool, number: int) -> pa.Table:
        return read_arrow((self.segments if is_index else self.parts)[number])

    def _groups(self, gids: np.ndarray):
        """Yield (positions in gids, is_index, number, rows) per file, in file order, rows sorted."""
        is_index, number, rows = split_gid(gids)
        order = np.lexsort((rows, number, is_index))
        keys = np.stack([is_index[order].astype(np.int64), number[order]], axis=1)
        if len(order) == 0:
            return
        cut = np.flatnonzero(np.any(keys[1:] != keys[:-1], axis=1)) + 1
        for chunk in np.split(order, cut):
            yield chunk, bool(is_index[chunk[0]]), int(number[chunk[0]]), rows[chunk]

    def _take(self, gids: np.ndarray, name: str):
        """Yield (positions in gids, the column's values at them or None where a file lacks it)."""
        for pos, is_index, number, rows in self._groups(gids):
            t = self.table(is_index, number)
            yield pos, take_rows(t.column(name), rows) if name in t.column_names else None
            del t  # unmapped before the next file is opened

    def column(self, gids: np.ndarray, name: str) -> list:
        """Python values of one column for these gids (None where a file lacks the column)."""
        out: list = [None] * len(gids)
        for pos, values in self._take(gids, name):
            if values is not None:
                for p, v in zip(pos, values.to_pylist(), strict=True):
                    out[p] = v
        return out

    def texts(self, gids: np.ndarray) -> pa.Array:
        """The text of these gids as one Arrow column in gid order (null for index documents,
        which keep no text), for the shingle kernel to read in place."""
        pieces, positions = [], []
        for pos, values in self._take(gids, "text"):
            pieces.append(
                pa.nulls(len(pos), pa.large_string()) if values is None else values.cast(pa.large_string())
            )
            positions.append(pos)
        if not pieces:
            return pa.array([], pa.large_string())
        inverse = np.argsort(np.concatenate(positions), kind="stable")
        return pa.concat_arrays(pieces).take(pa.array(inverse))

    def lengths(self, gids: np.ndarray) -> np.ndarray:
        """Text length in characters (0 for index documents, which keep no text)."""
        out = np.zeros(len(gids), np.int64)
        for pos, values in self._take(gids, "text"):
            if values is not None:
                out[pos] = pc.fill_null(pc.utf8_length(values), 0).to_numpy(zero_copy_only=False)
        return out

    def signatures(self, gids: np.ndarray) -> np.ndarray:
        out = None
        for pos, values in self._take(gids, "minhash"):
            sigs = signature_matrix(values)
            if out is None:
                out = np.empty((len(gids), sigs.shape[1]), np.uint32)
            out[pos] = sigs
        return out if out is not None else np.empty((0, 0), np.uint32)


def open_store(plan: Plan) -> DocStore:
    """The store over this run's stage-1 files and the persisted index's segments it reads."""
    return DocStore(plan.paths, plan.index.segment_paths() if plan.index else [])
