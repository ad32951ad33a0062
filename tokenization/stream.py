"""The deterministic mixture stream over token shards: documents, then tokens, then examples.

Layers, each a pure function of (seeds, index) so any rank/worker layout sees the same data:

* document stream: document j's source is drawn with probability ∝ the source's share of tokens
  in the mixture / its mean tokens per drawn document, so realised TOKEN shares meet the mixture
  (numpy Generator keyed by (mixture seed, block of j)); it is the next document of that source,
  each source walking its documents in seeded passes (`order.SourceOrder`: shards shuffled,
  documents shuffled within groups of shards, so a block opens few shards), each document
  repeated per pass as the source's `sampling` says (`sampling.py`: pareto, score, rehydrate);
* token stream: the documents joined with EOS;
* example g: chunk perm_q[g mod W] of window q = g div W, where window q is tokens
  [q*W*C, (q+1)*W*C) of the token stream cut into W chunks of C and perm_q a permutation keyed
  by (run seed, q): a bounded shuffle, so one long document does not fill many consecutive
  batches.  The trainer (`pretrain.data.stream`) collates these examples; `materialise` writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.core.sampling import SamplingConfig
from tokenization.mixture import source_probabilities
from tokenization.order import SourceOrder
from tokenization.sampling import copies_per_pass, document_weights
from tokenization.shards import TokenShards

BLOCK = 4096  # documents per sampling block; a constant of the stream format, not a tuning knob
WINDOW = 2048  # examples per shuffle window (memory: WINDOW × C int64 tokens per reader, 32 MB at C=2048)


@dataclass
class _Block:
    """Documents [first, first+BLOCK) of the stream with their token spans."""

    source: np.ndarray  # [BLOCK] int: index into DocStream.sources
    doc: np.ndarray  # [BLOCK] int64: document id within its source
    start: np.ndarray  # [BLOCK] int64: token offset of the document in the token stream
    end: int  # token offset just past this block (last document's EOS included)


class DocStream:
    """Forward-only walker over the document and token streams of one mixture."""

    def __init__(self, shards: TokenShards, mixture: dict[str, Any]) -> None:
        self.shards, self.mixture = shards, mixture
        self.seed = int(mixture["seed"])
        weights = source_probabilities(mixture)
        missing = [s for s in weights if shards.num_docs(s) == 0]
        if missing:
            raise ValueError(f"mixture sources {missing} have no documents in {shards.dir}")
        self.sources = list(weights)
        self.shares = np.array([weights[s] for s in self.sources])  # target share of TOKENS per source
        copies, per_doc = zip(*(self._sampling(s) for s in self.sources), strict=True)
        # documents one pass over each source draws: all of them, or the sum of their expected copies
        self.draws_per_pass = np.array(
            [shards.num_docs(s) if c is None else c.sum() for s, c in zip(self.sources, copies, strict=True)],
            dtype=np.float64,
        )
        # documents are drawn, so a source's draw probability is its token share / its mean tokens per
        # drawn document (+ EOS): short-document sources are not under-represented in tokens
        known = all(m is not None for m in per_doc)
        length = np.array(per_doc, dtype=np.float64) if known else np.ones(len(per_doc))
        q = self.shares / length
        self.probs = q / q.sum()  # probability that a document comes from each source
        self._orders = [
            SourceOrder(self.seed, i, shards.docs_per_shard(s), c)
            for i, (s, c) in enumerate(zip(self.sources, copies, strict=True))
        ]
        self.counts = np.zeros(len(self.sources), np.int64)  # documents drawn per source so far
        self._next_block, self._next_token = 0, 0
        self._blocks: list[_Block] = []
        self._eos = np.array([shards.eos_id], dtype=np.int64)  # joined after every document
        self._true = np.ones(1, dtype=bool)  # EOS counts as a word start

    def _sampling(self, source: str) -> tuple[np.ndarray | None, float | None]:
        """Expected copies per pass of each document of `source` under its `sampling` (None: one each),
        and the mean tokens (+1 EOS) of a drawn document (None when the manifest lacks the counts)."""
        cfg = SamplingConfig.model_validate(self.mixture["sources"][source].get("sampling") or "uniform")
        if cfg.method == "uniform":
            mean = self.shards.mean_doc_tokens(source)
            return None, None if mean is None else mean + 1.0
        values = self.shards.column(source, cfg.column) if cfg.column else None
        if values is None:
            raise ValueError(
                f"mixture sources.{source}.sampling is {cfg.method!r}, which needs a {cfg.column!r} column "
                f"in the token shards of {self.shards.dir}: encode a dataset that has it, or use uniform"
            )
        lengths = self.shards.doc_lengths(source)
        copies = copies_per_pass(document_weights(cfg, values), lengths)
        # a pass holds the source's tokens (copies_per_pass keeps them) in sum(copies) draws
        return copies, float((lengths + 1).sum() / copies.sum())

    def next_block(self) -> _Block:
        """The next BLOCK documents of the stream (advances the walk; used by the mix meter)."""
        rng = np.random.default_rng([self.seed, 0, self._next_block])
        source = rng.choice(len(self.sources), size=BLOCK, p=self.probs)
        doc = np.empty(BLOCK, np.int64)
        length = np.empty(BLOCK, np.int64)
        for s in range(len(self.sources)):
            where = np.flatnonzero(source == s)
            k = self.counts[s] + np.arange(len(where))  # position in this source's own stream
            doc[where] = self._orders[s].take(k)
            # +1: the EOS after each document; only this block's shards are opened
            length[where] = self.shards.doc_lengths(self.sources[s], doc[where]) + 1
            self.counts[s] += len(where)
        start = self._next_token + np.concatenate([[0], np.cumsum(length)[:-1]])
        self._next_block += 1
        self._next_token = int(start[-1] + length[-1])
        return _Block(source=source, doc=doc, start=start, end=self._next_token)

    def _seek(self, pos: int) -> _Block:
        """The block holding token `pos`; blocks wholly before `pos` are dropped (forward-only)."""
        while not self._blocks or self._blocks[-1].end <= pos:
            self._blocks.append(self.next_block())
        while self._blocks[0].end <= pos:
            self._blocks.pop(0)
        return self._blocks[0]

    def tokens(self, pos: int, n: int) -> np.ndarray:
        """Token stream [pos, pos+n) as int64.  Reads must not overlap or go backwards."""
        return self.read(pos, n)[0]

    def read(self, pos: int, n: int, word_starts: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """Tokens [pos, pos+n) and, if asked, their stored word-start flags.

        Flags come from the shards' optional `word_starts` column (EOS counts as a word start);
        they are None unless every document in the range has them, and the collator then
        derives word starts from the tokens themselves.
        """
        end = pos + n
        pieces: list[np.ndarray] = []
        flag_pieces: list[np.ndarray] | None = [] if word_starts else None
        p = pos
        while p < end:
            block = self._seek(p)
            if p < block.start[0]:
                raise ValueError(f"DocStream reads only move forward; token {p} was already passed")
            j0 = int(np.searchsorted(block.start, p, side="right")) - 1
            j1 = int(np.searchsorted(block.start, end, side="left"))  # documents starting before `end`
            js = np.arange(j0, j1)
            tokens: list[np.ndarray] = [np.empty(0, np.int64)] * len(js)
            flags: list[np.ndarray | None] = [None] * len(js)
            for s in np.unique(block.source[js]):
                sel = np.flatnonzero(block.source[js] == s)
                got, got_flags = self.shards.docs(
                    self.sources[s], block.doc[js[sel]], flag_pieces is not None
                )
                for i, t in zip(sel.tolist(), got, strict=True):
                    tokens[i] = t
                for i, f in zip(sel.tolist(), got_flags or [], strict=False):
                    flags[i] = f
            # documents j0..j1-1 each followed by EOS: token stream [block.start[j0], ...)
            joined = np.concatenate([x for t in tokens for x in (t, self._eos)]).astype(np.int64, copy=False)
            lo = p - int(block.start[j0])
            take = min(end - p, len(joined) - lo)
            pieces.append(joined[lo : lo + take])
            if flag_pieces is not None:
                if any(f is None for f in flags):
                    flag_pieces = None  # some document has no stored flags: derive them all
                else:
                    starts = np.concatenate([x for f in flags for x in (f, self._true)])
                    flag_pieces.append(starts[lo : lo + take])
            p += take
        out = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
        return out, None if flag_pieces is None else np.concatenate(flag_pieces)

    def documents(self, n: int) -> tuple[list[str], np.ndarray]:
        """The first `n` (source, doc id) draws of the stream (for inspection and tests)."""
        fresh = DocStream(self.shards, self.mixture)
        blocks = [fresh.next_block() for _ in range(-(-n // BLOCK))]
        src = np.concatenate([b.source for b in blocks])[:n]
        doc = np.concatenate([b.doc for b in blocks])[:n]
        return [self.sources[i] for i in src], doc

    def tokens_per_source(self, n_tokens: int) -> dict[str, int]:
        """Document tokens (EOS excluded) each source contributed to token stream [0, n_tokens)."""
        fresh = DocStream(self.shards, self.mixture)
        totals = np.zeros(len(self.sources), np.int64)
        while fresh._next_token < n_tokens:
            b = fresh.next_block()
            doc_len = np.diff(np.append(b.start, b.end)) - 1
            np.add.at(totals, b.source, np.clip(n_tokens - b.start, 0, doc_len))
        return {s: int(t) for s, t in zip(self.sources, totals, strict=True)}


def window(
    stream: DocStream, q: int, chunk_len: int, seed: int, word_starts: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """[WINDOW, C] examples of shuffle window q in example order, and their word starts (or None)."""
    size = WINDOW * chunk_len
    tokens, starts = stream.read(q * size, size, word_starts=word_starts)
    perm = window_order(q, seed)
    chunks = tokens.reshape(WINDOW, chunk_len)[perm]
    return chunks, None if starts is None else starts.reshape(WINDOW, chunk_len)[perm]


def window_order(q: int, seed: int) -> np.ndarray:
    """Row r of window q's examples is chunk perm[r] of its tokens (keyed by the run seed)."""
    return np.random.default_rng([seed, 2, q]).permutation(WINDOW)
