"""The deterministic mixture stream and the IterableDataset built on it.

Layers, each a pure function of (seeds, index) so any rank/worker layout sees the same data:

* document stream: document j's source is drawn with probability ∝ the source's share of tokens
  in the mixture / its mean document length, so realised TOKEN shares meet the mixture (numpy
  Generator keyed by (mixture seed, block of j)); it is the next document of that source, each
  source walking its documents in a seeded order reshuffled per epoch (`order.SourceOrder`:
  shards shuffled, documents shuffled within groups of shards, so a block opens few shards);
* token stream: the documents joined with EOS;
* example g: chunk perm_q[g mod W] of window q = g div W, where window q is tokens
  [q*W*C, (q+1)*W*C) of the token stream cut into W chunks of C (raw tokens per example) and
  perm_q a seeded permutation: a bounded shuffle, so one long document does not fill many
  consecutive batches; turned into model inputs by the objective's collator with a counter-based
  random stream keyed by (run seed, g) (`objectives.rng.ExampleKeys`).  g never repeats (a source's next epoch is further down the stream),
  so masks are re-drawn every time a document is seen again: dynamic masking for free.

The only resumable state is `consumed`, the number of examples all ranks used so far.
Shards are opened on demand (`shards.TokenShards`), so start-up costs one manifest read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from pretrain.data.order import SourceOrder
from pretrain.data.shards import TokenShards
from pretrain.objectives.rng import ExampleKeys

BLOCK = 4096  # documents per sampling block; a constant of the stream format, not a tuning knob
# tokens per collator call: bigger batches spill the CPU caches (MLM: 16M -> 8M tokens/s)
COLLATE_TOKENS = 65_536
WINDOW = 2048  # examples per shuffle window (memory: WINDOW × C int64 tokens per reader, 32 MB at C=2048)
# collate(chunks [B, C] int64, rngs: ExampleKeys of the rows, word_starts [B, C] bool | None) -> tensors
Collate = Callable[..., dict[str, torch.Tensor]]


def micro_batches(
    items: Iterator[dict[str, torch.Tensor]], batch_size: int
) -> Iterator[dict[str, torch.Tensor]]:
    """Split items of k x batch_size rows (a stream built with batch_size * k) into k batches, in order.

    The stream's example order does not depend on its batch size, so a DataLoader item may carry
    several micro-batches: a worker -> trainer transfer costs about a millisecond per item and
    half a millisecond per tensor whatever its size, which caps small items at a few million tokens/s.
    """
    for item in items:
        rows = next(iter(item.values())).shape[0]
        for lo in range(0, rows, batch_size):
            yield {k: v[lo : lo + batch_size] for k, v in item.items()}


def mixture_digest(mixture: dict[str, Any]) -> str:
    """What decides the document stream: the mixture's sources (with their weights) and seed."""
    blob = json.dumps({"sources": mixture["sources"], "seed": mixture["seed"]}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_mixture(path: str | Path) -> dict[str, Any]:
    mixture = json.loads(Path(path).read_text())
    if not mixture.get("sources"):
        raise ValueError(f"{path}: mixture has no sources")
    return mixture


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
        # pipeline.mix writes `probability` (share / sum of shares); hand-written mixtures give `weight`
        weights = {
            s: float(v["probability"] if "probability" in v else v["weight"])
            for s, v in sorted(mixture["sources"].items())
        }
        weights = {s: w for s, w in weights.items() if w > 0}
        missing = [s for s in weights if shards.num_docs(s) == 0]
        if missing:
            raise ValueError(f"mixture sources {missing} have no documents in {shards.dir}")
        self.sources = list(weights)
        p = np.array([weights[s] for s in self.sources])
        self.shares = p / p.sum()  # target share of TOKENS per source (GPT-3 style, pipeline/mix.py)
        # documents are drawn, so a source's draw probability is its token share / its mean document
        # length (+ EOS): short-document sources are not under-represented in tokens
        mean = [shards.mean_doc_tokens(s) for s in self.sources]
        known = all(m is not None for m in mean)
        length = np.array([m + 1.0 for m in mean]) if known else np.ones(len(mean))  # type: ignore[operator]
        q = self.shares / length
        self.probs = q / q.sum()  # probability that a document comes from each source
        self._n_docs = [shards.num_docs(s) for s in self.sources]
        self._orders = [
            SourceOrder(self.seed, i, shards.docs_per_shard(s)) for i, s in enumerate(self.sources)
        ]
        self.counts = np.zeros(len(self.sources), np.int64)  # documents drawn per source so far
        self._next_block, self._next_token = 0, 0
        self._blocks: list[_Block] = []
        self._eos = np.array([shards.eos_id], dtype=np.int64)  # joined after every document
        self._true = np.ones(1, dtype=bool)  # EOS counts as a word start

    def next_block(self) -> _Block:
        """The next BLOCK documents of the stream (advances the walk; used by the mix meter)."""
        rng = np.random.default_rng([self.seed, 0, self._next_block])
        source = rng.choice(len(self.sources), size=BLOCK, p=self.probs)
        doc = np.empty(BLOCK, np.int64)
        length = np.empty(BLOCK, np.int64)
        for s in range(len(self.sources)):
            where = np.flatnonzero(source == s)
            k = self.counts[s] + np.arange(len(where))  # position in this source's own stream
            n = self._n_docs[s]
            for epoch in np.unique(k // n):
                sel = k // n == epoch
                doc[where[sel]] = self._orders[s].docs(int(epoch), k[sel] % n)
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


class PretrainStream(IterableDataset):
    """Infinite stream of ready batches (dicts of tensors) for one rank.

    Rank r of R owns examples g with g % R == r.  Inside a rank, DataLoader worker w of W builds
    the rank's batches k with k % W == w, and the DataLoader hands batches back round-robin, so
    the batch order is the same for any W and after every optimizer step the examples used by
    all ranks are exactly [0, consumed).  Use it with `DataLoader(ds, batch_size=None)`.

    Each batch is collated in one vectorised call, row i drawing from the counter-based stream
    keyed by (seed, g_i), so an example's masks never depend on which batch, rank or worker built it.
    """

    def __init__(
        self,
        tokens: str | Path | TokenShards,
        mixture: str | Path | dict[str, Any],
        collate: Collate,
        chunk_len: int,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world: int = 1,
        *,
        word_starts: bool = False,
    ) -> None:
        super().__init__()
        self.shards = tokens if isinstance(tokens, TokenShards) else TokenShards(tokens)
        self.mixture = mixture if isinstance(mixture, dict) else load_mixture(mixture)
        self.collate, self.chunk_len, self.batch_size = collate, chunk_len, batch_size
        self.seed, self.rank, self.world = seed, rank, world
        self.word_starts = word_starts  # read stored word boundaries (whole-word MLM, XLNet spans)
        self.consumed = 0

    def state_dict(self) -> dict[str, int | str]:
        return {"seed": self.seed, "consumed": self.consumed, "mixture": mixture_digest(self.mixture)}

    def load_state_dict(self, state: dict[str, int | str]) -> None:
        """Resume at `consumed`; refused when the seed or the mixture (its sources, weights and
        seed, which decide which document each example draws) is not the one saved."""
        if int(state["seed"]) != self.seed:
            raise ValueError(f"data state has seed {state['seed']}, this stream has seed {self.seed}")
        saved = state.get("mixture")  # absent in checkpoints written before it was recorded
        if saved is not None and saved != mixture_digest(self.mixture):
            raise ValueError(
                "the mixture changed since this checkpoint (sources, weights or mix.seed): resuming would "
                "replay other documents; restore the old mixture.json or start the run in a new folder"
            )
        self.consumed = int(state["consumed"])

    def rngs(self, indices: list[int]) -> ExampleKeys:
        """The counter-based random streams of these examples, keyed only by (seed, g)."""
        return ExampleKeys(self.seed, np.asarray(indices, dtype=np.int64))

    def example(
        self, chunk: np.ndarray, g: int, word_starts: np.ndarray | None = None
    ) -> dict[str, torch.Tensor]:
        """Model inputs of example g alone (a batch of one)."""
        ws = None if word_starts is None else word_starts[None, :]
        return self.collate(chunk[None, :], self.rngs([g]), word_starts=ws)

    def index_batches(self, worker: int = 0, num_workers: int = 1) -> Iterator[list[int]]:
        """Global example indices of this rank's batches that `worker` builds, in order."""
        start = self.consumed
        first = start + (self.rank - start) % self.world  # first g >= consumed owned by this rank
        k = worker
        while True:
            base = first + k * self.batch_size * self.world
            yield [base + i * self.world for i in range(self.batch_size)]
            k += num_workers

    def window(self, stream: DocStream, q: int) -> tuple[np.ndarray, np.ndarray | None]:
        """[WINDOW, C] chunks of shuffle window q in shuffled order, and their word starts (or None)."""
        size = WINDOW * self.chunk_len
        tokens, starts = stream.read(q * size, size, word_starts=self.word_starts)
        perm = np.random.default_rng([self.seed, 2, q]).permutation(WINDOW)
        chunks = tokens.reshape(WINDOW, self.chunk_len)[perm]
        return chunks, None if starts is None else starts.reshape(WINDOW, self.chunk_len)[perm]

    def iter_batches(
        self, worker: int = 0, num_workers: int = 1
    ) -> Iterator[tuple[list[int], dict[str, torch.Tensor]]]:
        stream = DocStream(self.shards, self.mixture)
        windows: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        for indices in self.index_batches(worker, num_workers):
            chunks = np.empty((len(indices), self.chunk_len), np.int64)  # [B, C]
            starts: np.ndarray | None = np.empty((len(indices), self.chunk_len), bool)
            for i, g in enumerate(indices):
                q, r = divmod(g, WINDOW)
                if q not in windows:
                    for old in [k for k in windows if k < q]:
                        del windows[old]  # indices only grow: earlier windows are done
                    windows[q] = self.window(stream, q)
                chunk, ws = windows[q]
                chunks[i] = chunk[r]
                if ws is None or starts is None:
                    starts = None
                else:
                    starts[i] = ws[r]
            yield indices, self.collate_rows(chunks, indices, starts)

    def collate_rows(
        self, chunks: np.ndarray, indices: list[int], starts: np.ndarray | None
    ) -> dict[str, torch.Tensor]:
        """The collator over [B, C] chunks, called on pieces of about COLLATE_TOKENS and joined.

        Rows draw from their own example streams and collated shapes do not depend on B, so the
        pieces join into exactly the batch one call would make.
        """
        step = max(1, COLLATE_TOKENS // self.chunk_len)
        parts = [
            self.collate(
                chunks[lo : lo + step],
                self.rngs(indices[lo : lo + step]),
                word_starts=None if starts is None else starts[lo : lo + step],
            )
            for lo in range(0, len(indices), step)
        ]
        return parts[0] if len(parts) == 1 else {k: torch.cat([p[k] for p in parts]) for k in parts[0]}

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        info = get_worker_info()
        worker, num_workers = (info.id, info.num_workers) if info else (0, 1)
        for _, batch in self.iter_batches(worker, num_workers):
            if info is None:  # in-process: keep state_dict() current; workers' copies can't
                self.consumed += self.batch_size * self.world
            yield batch
