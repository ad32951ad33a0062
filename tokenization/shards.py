"""The one reader of the token shards `encode` writes: the manifest at start, each shard on first use.

Start-up reads `TOKENS/manifest.json` only (no shard is opened, no index is built), so 10,000+
shards start in milliseconds on every rank and worker.  A shard is opened the first time one of
its documents is needed: memory-mapped when local, read whole through fsspec otherwise
(`s3://`, `gs://`, `hf://`, `memory://` ...), and kept in a small LRU of open shards.

Documents are addressed per source as (source, local doc id): source s's documents are numbered
shard by shard in manifest order, so the mixture never needs to know how they are spread over
files.  `holdout` keeps the last fraction of every source's documents (its last shards) out of
the "train" view; the "heldout" view sees only those — a deterministic evaluation slice.
"""

from __future__ import annotations

import copy
import json
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from fsspec.implementations.local import LocalFileSystem

from tokenization.knowledge_spans import UNIT_COLUMNS, unit_codes

MAX_OPEN = 4096  # open shards kept per process: mapped, not holding a file descriptor each


@dataclass(frozen=True)
class _Chunk:
    """One record batch of a list column: flat values plus list offsets (both zero-copy)."""

    values: np.ndarray
    offsets: np.ndarray


@dataclass(frozen=True)
class _SourceDocs:
    """Where source s's documents live: its shards in manifest order and their row counts."""

    shard: np.ndarray  # [n_shards_of_s] int64: index into the manifest's shard list
    first: np.ndarray  # [n_shards_of_s + 1] int64: first doc id of each shard, then the total


class _OpenShard:
    """An opened shard: row -> token span, rows of each source, optional word starts (or unit codes
    with `units`: the reader asks for them and the manifest says the shards store them)."""

    def __init__(self, table: pa.Table, units: bool = False) -> None:
        ids = table.column("input_ids")
        self.chunks = [_chunk(c) for c in ids.chunks]
        self.chunk_first = np.cumsum([0, *(len(c) for c in ids.chunks)])  # [n_chunks + 1]
        self.word_starts = (
            [_chunk(c) for c in table.column("word_starts").chunks]
            if "word_starts" in table.column_names
            else None
        )
        self.units: list[list[_Chunk]] | None = None  # phrase_starts, entity_starts
        if units:
            missing = [c for c in UNIT_COLUMNS if c not in table.column_names]
            if missing:
                raise ValueError(
                    f"a token shard lacks {missing} although its manifest says it stores knowledge spans: "
                    "re-encode with `yuliao tokenizer encode --word-boundaries`"
                )
            self.units = [[_chunk(c) for c in table.column(name).chunks] for name in UNIT_COLUMNS[1:]]
        self._sources = table.column("source")
        self._table = table
        self._rows: dict[str, np.ndarray] = {}

    def values(self, name: str, rows: np.ndarray) -> np.ndarray | None:
        """A carried per-document column at these rows as float64 (None when the shard lacks it)."""
        if name not in self._table.column_names:
            return None
        column = self._table.column(name).combine_chunks().cast(pa.float64())
        return column.take(pa.array(rows)).to_numpy(zero_copy_only=False)

    def rows_of(self, source: str, single_source: bool) -> np.ndarray | None:
        """Row numbers holding `source`, in order (None: every row does)."""
        if single_source:
            return None
        if source not in self._rows:
            codes = pc.equal(self._sources, source).to_numpy(zero_copy_only=False)
            self._rows[source] = np.flatnonzero(codes)
        return self._rows[source]

    def locate(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(chunk index, row within chunk) of each row."""
        c = np.searchsorted(self.chunk_first, rows, side="right") - 1
        return c, rows - self.chunk_first[c]

    def lengths(self, rows: np.ndarray) -> np.ndarray:
        if len(self.chunks) == 1:
            off = self.chunks[0].offsets
            return (off[rows + 1] - off[rows]).astype(np.int64)
        c, r = self.locate(rows)
        return np.array(
            [self.chunks[i].offsets[j + 1] - self.chunks[i].offsets[j] for i, j in zip(c, r, strict=True)]
        )

    def tokens(self, row: int) -> np.ndarray:
        c, r = (0, row) if len(self.chunks) == 1 else (int(x) for x in self.locate(np.array([row])))
        chunk = self.chunks[c]
        return chunk.values[chunk.offsets[r] : chunk.offsets[r + 1]]

    def starts(self, row: int, n_tokens: int) -> np.ndarray | None:
        """Boolean word-start flags of a row (stored flags or stored start offsets), None if absent."""
        if self.word_starts is None:
            return None
        c, r = (0, row) if len(self.chunks) == 1 else (int(x) for x in self.locate(np.array([row])))
        chunk = self.word_starts[c]
        raw = chunk.values[chunk.offsets[r] : chunk.offsets[r + 1]]
        if raw.dtype.itemsize == 1:  # bool / uint8 / int8: one flag per token
            return raw.astype(bool)
        flags = np.zeros(n_tokens, dtype=bool)  # wider ints: sorted token offsets of word starts
        flags[raw[raw < n_tokens]] = True
        return flags

    def unit_codes(self, row: int, n_tokens: int) -> np.ndarray | None:
        """The word/phrase/entity unit starts of a row as uint8 codes (`knowledge_spans.UNIT_BITS`);
        boolean word starts when not reading units, None without word starts."""
        word = self.starts(row, n_tokens)
        if self.units is None or word is None:
            return word
        c, r = (0, row) if len(self.chunks) == 1 else (int(x) for x in self.locate(np.array([row])))
        phrase, entity = (
            level[c].values[level[c].offsets[r] : level[c].offsets[r + 1]].astype(bool)
            for level in self.units
        )
        return unit_codes(word, phrase, entity)


def _chunk(arr: pa.Array) -> _Chunk:
    values = arr.values
    if pa.types.is_boolean(values.type):  # bit-packed: unpack (small, and only for word_starts)
        return _Chunk(values=values.to_numpy(zero_copy_only=False), offsets=arr.offsets.to_numpy())
    return _Chunk(values=values.to_numpy(zero_copy_only=True), offsets=arr.offsets.to_numpy())


class TokenShards:
    """Per-source document access over all shards listed in `TOKENS/manifest.json`, opened lazily."""

    def __init__(
        self,
        tokens_dir: str | Path,
        *,
        holdout: float = 0.0,
        part: Literal["train", "heldout"] = "train",
        max_open: int = MAX_OPEN,
        unit_codes: bool = False,
    ) -> None:
        if not 0.0 <= holdout < 1.0:
            raise ValueError(f"holdout must be in [0, 1), got {holdout}")
        if part == "heldout" and holdout == 0.0:
            raise ValueError("the heldout part needs holdout > 0")
        self.dir = str(tokens_dir)
        self.fs, self._root = fsspec.core.url_to_fs(self.dir)
        self.local = isinstance(self.fs, LocalFileSystem)
        with self.fs.open(self._join("manifest.json"), "rb") as fh:
            self.manifest: dict[str, Any] = json.loads(fh.read())
        self.eos_id: int = int(self.manifest["eos_id"])
        # encodes with word boundaries store phrase/entity unit starts too; older ones do not
        self.knowledge_spans = bool(self.manifest.get("knowledge_spans", False))
        # word-start reads return the uint8 unit codes (ERNIE masking) instead of bool flags, where stored
        self.unit_codes = unit_codes
        self.pad_id: int = int(self.manifest["pad_id"])
        self.holdout, self.part, self.max_open = holdout, part, max_open
        self._shards: list[dict[str, Any]] = self.manifest["shards"]
        self._single: list[bool] = []
        self._docs = self._index_sources()
        self._view = {s: self._slice(d) for s, d in self._docs.items()}
        self._open: OrderedDict[int, _OpenShard] = OrderedDict()
        self.opened = 0  # shards opened so far by this process (for tests and benchmarks)

    def __getstate__(self) -> dict[str, Any]:
        # DataLoader workers reopen the shards themselves instead of pickling memory maps.
        return {**self.__dict__, "_open": OrderedDict(), "opened": 0}

    def reading_unit_codes(self) -> TokenShards:
        """This reader, with word-start reads returning unit codes (its own cache of open shards)."""
        other = copy.copy(self)  # through __getstate__: no open shard shared
        other.unit_codes = True
        return other

    # ---- index from the manifest only --------------------------------------------------------

    def _index_sources(self) -> dict[str, _SourceDocs]:
        """Rows per source per shard from the manifest (`rows_per_source`, or the encoder's
        `docs_per_source`: one row per document), else a single-source shard's `rows`."""
        parts: dict[str, list[tuple[int, int]]] = {}
        for i, entry in enumerate(self._shards):
            counts = entry.get("rows_per_source") or entry.get("docs_per_source")
            if counts is None:
                present = list(entry.get("tokens_per_source", {}))
                # one source: all rows are its; several (old manifests): count the `source` column (slow)
                counts = {present[0]: int(entry["rows"])} if len(present) == 1 else self._count_rows(i)
            self._single.append(len(counts) == 1)
            for source, n in counts.items():
                if int(n) > 0:
                    parts.setdefault(source, []).append((i, int(n)))
        return {
            s: _SourceDocs(
                shard=np.array([i for i, _ in p], dtype=np.int64),
                first=np.concatenate([[0], np.cumsum([n for _, n in p])]).astype(np.int64),
            )
            for s, p in sorted(parts.items())
        }

    def _count_rows(self, i: int) -> dict[str, int]:
        table = self._read(i)
        counts = pc.value_counts(table.column("source").combine_chunks()).to_pylist()
        return {str(c["values"]): int(c["counts"]) for c in counts}

    def _slice(self, docs: _SourceDocs) -> tuple[int, int]:
        """(first underlying doc id, number of docs) of this view of one source."""
        total = int(docs.first[-1])
        held = 0 if self.holdout == 0 else min(total - 1, max(1, int(np.ceil(total * self.holdout))))
        return (0, total - held) if self.part == "train" else (total - held, held)

    # ---- opening shards ------------------------------------------------------------------------

    def _join(self, rel: str) -> str:
        return f"{self._root.rstrip('/')}/{rel}"

    def _read(self, i: int) -> pa.Table:
        path = self._join(self._shards[i]["path"])
        if self.local:
            with pa.memory_map(path, "r") as source:
                return pa.ipc.open_file(source).read_all()
        with self.fs.open(path, "rb") as fh:
            return pa.ipc.open_file(pa.py_buffer(fh.read())).read_all()

    def _shard(self, i: int) -> _OpenShard:
        shard = self._open.get(i)
        if shard is None:
            shard = _OpenShard(self._read(i), self.unit_codes and self.knowledge_spans)
            self.opened += 1
            self._open[i] = shard
            while len(self._open) > self.max_open:
                self._open.popitem(last=False)
        else:
            self._open.move_to_end(i)
        return shard

    def _where(self, source: str, doc_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(manifest shard index, index among that shard's rows of `source`) of view doc ids."""
        docs = self._docs[source]
        d = np.asarray(doc_ids, dtype=np.int64) + self._view[source][0]
        j = np.searchsorted(docs.first, d, side="right") - 1
        return docs.shard[j], d - docs.first[j]

    def _rows(self, i: int, source: str, k: np.ndarray) -> tuple[_OpenShard, np.ndarray]:
        shard = self._shard(i)
        rows = shard.rows_of(source, self._single[i])
        return shard, (k if rows is None else rows[k])

    # ---- public API ----------------------------------------------------------------------------

    @property
    def sources(self) -> list[str]:
        return [s for s in self._docs if self._view[s][1] > 0]

    @property
    def num_shards(self) -> int:
        return len(self._shards)

    def num_docs(self, source: str) -> int:
        return self._view[source][1] if source in self._view else 0

    def mean_doc_tokens(self, source: str) -> float | None:
        """Mean tokens per document of a source, from the manifest's per-shard counts (None if absent)."""
        docs = self._docs.get(source)
        if docs is None:
            return None
        counts = [self._shards[i].get("tokens_per_source", {}).get(source) for i in docs.shard.tolist()]
        if any(c is None for c in counts):
            return None
        return sum(counts) / max(1, int(docs.first[-1]))

    def docs_per_shard(self, source: str) -> np.ndarray:
        """Documents of `source` in each of its shards (this view), in manifest order."""
        first, n = self._view[source]
        edges = np.clip(self._docs[source].first - first, 0, n)
        return np.diff(edges)

    def doc_lengths(self, source: str, doc_ids: np.ndarray | None = None) -> np.ndarray:
        """Token counts of documents (opens only their shards); all of the source's when doc_ids is None."""
        if doc_ids is None:
            doc_ids = np.arange(self.num_docs(source))
        doc_ids = np.asarray(doc_ids, dtype=np.int64)
        shard, k = self._where(source, doc_ids)
        out = np.empty(len(doc_ids), dtype=np.int64)
        for i in np.unique(shard):
            sel = shard == i
            opened, rows = self._rows(int(i), source, k[sel])
            out[sel] = opened.lengths(rows)
        return out

    def doc(self, source: str, doc_id: int) -> np.ndarray:
        """Token ids of one document as a zero-copy view (dtype as stored: uint16/uint32)."""
        shard, k = self._where(source, np.array([doc_id]))
        opened, rows = self._rows(int(shard[0]), source, k)
        return opened.tokens(int(rows[0]))

    def docs(
        self, source: str, doc_ids: np.ndarray, word_starts: bool = False
    ) -> tuple[list[np.ndarray], list[np.ndarray | None] | None]:
        """Several documents at once (zero-copy token views, in doc_ids order) and, if asked, their
        stored word-start flags: one shard lookup per shard touched instead of one per document.
        With `unit_codes` (and shards that store knowledge spans) the flags are uint8 unit codes."""
        doc_ids = np.asarray(doc_ids, dtype=np.int64)
        shard, k = self._where(source, doc_ids)
        tokens: list[np.ndarray] = [np.empty(0, np.uint16)] * len(doc_ids)
        flags: list[np.ndarray | None] | None = [None] * len(doc_ids) if word_starts else None
        for i in np.unique(shard):
            sel = np.flatnonzero(shard == i)
            opened, rows = self._rows(int(i), source, k[sel])
            for j, row in zip(sel.tolist(), rows.tolist(), strict=True):
                tokens[j] = opened.tokens(row)
                if flags is not None:
                    flags[j] = opened.unit_codes(row, len(tokens[j]))
        return tokens, flags

    def column(self, source: str, name: str) -> np.ndarray | None:
        """A per-document column the encoder carried (quality_score, cluster_size) for every document of
        `source` in this view, in doc-id order; None unless every shard of the source has it."""
        shard, k = self._where(source, np.arange(self.num_docs(source)))
        out = np.empty(len(k), np.float64)
        for i in np.unique(shard):
            sel = shard == i
            opened, rows = self._rows(int(i), source, k[sel])
            got = opened.values(name, rows)
            if got is None:
                return None
            out[sel] = got
        return out

    def locate(self, source: str, doc_id: int) -> tuple[str, int]:
        """(shard path relative to the tokens dir, row) of a document: where it came from."""
        shard, k = self._where(source, np.array([doc_id]))
        _, rows = self._rows(int(shard[0]), source, k)
        return self._shards[int(shard[0])]["path"], int(rows[0])

    def word_starts(self, source: str, doc_id: int) -> np.ndarray | None:
        """Stored word-start flags of one document (jieba words from tokenization), None if not stored."""
        shard, k = self._where(source, np.array([doc_id]))
        opened, rows = self._rows(int(shard[0]), source, k)
        row = int(rows[0])
        return opened.starts(row, len(opened.tokens(row)))
