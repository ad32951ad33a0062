"""Stream-time TOKEN-level mixture sampler: example g -> (source, that source's next chunk of C tokens).

Mixture weights are shares of training tokens.  Drawing a source per *document* (the old stream)
over-represents sources with long documents; here every example is a fixed chunk of C tokens,
so drawing the source per example with probability = token share gives the right token shares.

Source of example g (block b = g // BLOCK, position r = g % BLOCK):
    stratum j = π_b(r)      π_b: a permutation of BLOCK keyed by (seed, b)
    u = (j + U(seed, b, j)) / BLOCK,   U a counter-based uniform (splitmix64, `pipeline/core/rng.py`)
    source = the s with cdf[s-1] <= u < cdf[s]
u is uniform on [0, 1) for every g, so P(source = s) = p_s exactly, as an i.i.d. draw; but each
block's BLOCK draws are stratified, so a block holds within 2 of BLOCK·p_s examples of every
source and realised token shares converge at once instead of at 1/sqrt(n).

Local counter: example g is chunk k of its source, k = examples of that source before g.  Only
the strata that straddle a cdf boundary vary between blocks, so the count over blocks [0, b) is
b × (fixed strata) + a vectorised prefix sum over the boundary strata: resuming at any example
index costs O(b × sources) hash evaluations (about a second at 10^9 examples) and needs no state.

A source's own token stream is its documents, each followed by EOS, in passes: pass p is a
permutation keyed by (seed, source, p) of all documents (`uniform`), or of a weighted multiset of
them (`score` / `pareto` / `rehydrate`: floor(c_d) + Bernoulli(frac c_d) copies of document d,
keyed by (seed, source, p, d), see `mixing.py`).  Chunk k is tokens [kC, (k+1)C) of that stream,
so a source is read in order, wrapping into the next pass (epoch) when it runs out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.core.rng import hash64, name_key, uniform
from tokenization.mixing import SamplingConfig, copies_per_pass, document_weights

BLOCK = 64  # examples per stratified block: a constant of the stream format, not a tuning knob
_TAG_U, _TAG_PERM, _TAG_PASS, _TAG_COPIES = 1, 2, 3, 4
_PREFIX_CHUNK = 1 << 16  # blocks per vectorised step of the prefix sum
Fetch = Callable[[str, int], np.ndarray]


def mixture_probabilities(mixture: Mapping[str, Any]) -> dict[str, float]:
    """Source -> stream probability from a mixture.json (`probability`, else `weight`), normalised."""
    raw = {
        str(s): float(v["probability"] if "probability" in v else v["weight"])
        for s, v in sorted(mixture["sources"].items())
    }
    raw = {s: p for s, p in raw.items() if p > 0}
    total = sum(raw.values())
    if not raw or total <= 0:
        raise ValueError("mixture has no source with a positive probability")
    return {s: p / total for s, p in raw.items()}


class SourceDraws:
    """Which source each example index draws, and its index among that source's examples."""

    def __init__(self, probs: Sequence[float], seed: int, block: int = BLOCK) -> None:
        p = np.asarray(probs, dtype=np.float64)
        if p.ndim != 1 or len(p) == 0 or (p < 0).any() or p.sum() <= 0:
            raise ValueError(f"bad probabilities {probs!r}")
        self.probs = p / p.sum()
        self.seed, self.block = int(seed), int(block)
        self.cdf = np.cumsum(self.probs)
        self.cdf[-1] = 1.0
        s = len(p)
        # Strata that contain an interior cdf boundary vary from block to block; the others never do.
        edges = self.cdf[:-1] * self.block
        ambiguous = np.unique(np.floor(edges[edges != np.floor(edges)]).astype(np.int64))
        self._ambiguous = ambiguous[(ambiguous >= 0) & (ambiguous < self.block)]
        fixed = np.setdiff1d(np.arange(self.block), self._ambiguous)
        mid = (fixed + 0.5) / self.block
        self._fixed_counts = np.bincount(self._src(mid), minlength=s).astype(np.int64)
        self._cum: dict[int, np.ndarray] = {0: np.zeros(s, np.int64)}  # block -> counts before it

    def _src(self, u: np.ndarray) -> np.ndarray:
        return np.minimum(np.searchsorted(self.cdf, u, side="right"), len(self.probs) - 1)

    def block_sources(self, b: int | np.ndarray) -> np.ndarray:
        """Source index of the examples of block(s) b, in example order: [BLOCK] or [len(b), BLOCK]."""
        bs = np.atleast_1d(np.asarray(b, dtype=np.int64))[:, None]
        j = np.arange(self.block, dtype=np.int64)[None, :]
        by_stratum = self._src((j + uniform(self.seed, _TAG_U, bs, j)) / self.block)
        perm = np.argsort(hash64(self.seed, _TAG_PERM, bs, j), axis=1, kind="stable")
        out = np.take_along_axis(by_stratum, perm, axis=1)
        return out[0] if np.ndim(b) == 0 else out

    def counts_before(self, b: int) -> np.ndarray:
        """Examples per source in blocks [0, b): fixed strata times b plus a prefix sum of the rest."""
        start = max(k for k in self._cum if k <= b)
        counts = self._cum[start].copy()
        a = self._ambiguous
        for lo in range(start, b, _PREFIX_CHUNK):
            hi = min(b, lo + _PREFIX_CHUNK)
            blocks = np.arange(lo, hi, dtype=np.int64)[:, None]
            counts += self._fixed_counts * (hi - lo)
            if len(a):
                u = (a[None, :] + uniform(self.seed, _TAG_U, blocks, a[None, :])) / self.block
                counts += np.bincount(self._src(u).ravel(), minlength=len(counts))
        if len(self._cum) > 4096:  # bounded cache: keep the latest checkpoints only
            for k in sorted(self._cum)[1:2048]:
                del self._cum[k]
        self._cum[b] = counts
        return counts.copy()

    def draw(self, g: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(source index, local index) for each example index in `g` (any order, any spacing)."""
        g = np.asarray(g, dtype=np.int64)
        n_src = len(self.probs)
        blocks, inverse = np.unique(g // self.block, return_inverse=True)
        src = np.empty(len(g), np.int64)
        local = np.empty(len(g), np.int64)
        for lo in range(0, len(blocks), 1024):  # bounded memory: 1024 blocks at a time
            ub = blocks[lo : lo + 1024]
            sources = self.block_sources(ub)  # [nb, BLOCK]
            onehot = sources[:, :, None] == np.arange(n_src)[None, None, :]
            within = np.cumsum(onehot, axis=1) - onehot  # same-source examples earlier in the block
            per_block = onehot.sum(axis=1)
            if (np.diff(ub) == 1).all():  # contiguous: one prefix sum, then running totals
                base = self.counts_before(int(ub[0])) + np.cumsum(per_block, axis=0) - per_block
                self._cum[int(ub[-1]) + 1] = base[-1] + per_block[-1]
            else:
                base = np.stack([self.counts_before(int(b)) for b in ub])
            sel = np.flatnonzero((inverse >= lo) & (inverse < lo + len(ub)))
            row = inverse[sel] - lo
            r = g[sel] % self.block
            s_ = sources[row, r]
            src[sel] = s_
            local[sel] = base[row, s_] + within[row, r, s_]
        return src, local


@dataclass
class _Pass:
    order: np.ndarray  # document ids in this pass, in stream order
    ends: np.ndarray  # token offset (within the pass) just past each document's EOS


class SourceStream:
    """One source's token stream: documents + EOS, in seeded passes; chunk k = tokens [kC, (k+1)C)."""

    def __init__(self, name: str, lengths: np.ndarray, seed: int, copies: np.ndarray | None = None) -> None:
        if len(lengths) == 0:
            raise ValueError(f"source {name!r} has no documents")
        self.name, self.seed, self.key = name, int(seed), name_key(name)
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.copies = copies
        self._starts = [0]  # token offset at which pass p starts (known for p < len)
        self._cache: dict[int, _Pass] = {}

    def pass_docs(self, p: int) -> _Pass:
        if p in self._cache:
            return self._cache[p]
        n = len(self.lengths)
        if self.copies is None:
            docs = np.arange(n, dtype=np.int64)
        else:
            frac = self.copies - np.floor(self.copies)
            extra = uniform(self.seed, _TAG_COPIES, self.key, p, np.arange(n)) < frac
            docs = np.repeat(np.arange(n, dtype=np.int64), np.floor(self.copies).astype(np.int64) + extra)
        order = docs[
            np.argsort(hash64(self.seed, _TAG_PASS, self.key, p, np.arange(len(docs))), kind="stable")
        ]
        made = _Pass(order=order, ends=np.cumsum(self.lengths[order] + 1))
        if len(self._cache) >= 2:  # reads move forward: keep the newest passes only
            del self._cache[min(self._cache)]
        self._cache[p] = made
        return made

    def _pass_of(self, pos: int) -> int:
        """The pass holding token `pos` of the stream (computes pass lengths as needed)."""
        if self.copies is None:  # every pass has the same length: O(1)
            return pos // int(np.sum(self.lengths + 1))
        while self._starts[-1] <= pos:
            p = len(self._starts) - 1
            self._starts.append(
                self._starts[-1] + int(self.pass_docs(p).ends[-1] if len(self.pass_docs(p).ends) else 0)
            )
            if len(self._starts) > 1_000_000:
                raise ValueError(f"source {self.name!r}: passes hold no tokens")
        return int(np.searchsorted(self._starts, pos, side="right")) - 1

    def _pass_start(self, p: int) -> int:
        if self.copies is None:
            return p * int(np.sum(self.lengths + 1))
        return self._starts[p]

    def pieces(self, pos: int, n: int) -> list[tuple[int, int, int]]:
        """Tokens [pos, pos+n) as (doc id, start, stop) spans; doc id -1 marks one EOS."""
        out: list[tuple[int, int, int]] = []
        while n > 0:
            p = self._pass_of(pos)
            ps = self.pass_docs(p)
            off = pos - self._pass_start(p)
            i = int(np.searchsorted(ps.ends, off, side="right"))
            doc = int(ps.order[i])
            doc_start = int(ps.ends[i]) - int(self.lengths[doc]) - 1
            at = off - doc_start
            if at < self.lengths[doc]:
                take = min(n, int(self.lengths[doc]) - at)
                out.append((doc, at, at + take))
            else:
                take = 1
                out.append((-1, 0, 1))
            pos += take
            n -= take
        return out


class TokenMixtureSampler:
    """Example g -> C tokens: source drawn by token share, then that source's next chunk.

    Pure function of (mixture seed, g): any rank/worker layout and any resume point see the same
    examples.  `doc_lengths` / `fetch` use per-source document numbering (see token_docs.py).
    """

    def __init__(
        self,
        mixture: Mapping[str, Any],
        doc_lengths: Mapping[str, np.ndarray],
        chunk_len: int,
        eos_id: int,
        *,
        doc_columns: Callable[[str, str], np.ndarray | None] | None = None,
    ) -> None:
        if chunk_len <= 0:
            raise ValueError("chunk_len must be positive")
        probs = mixture_probabilities(mixture)
        missing = [s for s in probs if s not in doc_lengths or len(doc_lengths[s]) == 0]
        if missing:
            raise ValueError(f"mixture sources {missing} have no documents in the token shards")
        self.seed = int(mixture.get("seed", 0))
        self.chunk_len, self.eos_id = int(chunk_len), int(eos_id)
        self.sources = list(probs)
        self.draws = SourceDraws([probs[s] for s in self.sources], self.seed)
        self.streams = []
        for s in self.sources:
            cfg = SamplingConfig.model_validate(mixture["sources"][s].get("sampling") or "uniform")
            values = doc_columns(s, cfg.column) if (doc_columns and cfg.column) else None
            copies = copies_per_pass(document_weights(cfg, values), np.asarray(doc_lengths[s]))
            self.streams.append(SourceStream(s, np.asarray(doc_lengths[s]), self.seed, copies))

    @classmethod
    def from_tokens_dir(cls, tokens_dir, mixture: Mapping[str, Any], chunk_len: int):
        """Sampler over a token-shard directory (also returns the document reader for `fetch`)."""
        from tokenization.token_docs import TokenDocs

        docs = TokenDocs(tokens_dir, columns=("quality_score", "cluster_size"))
        lengths = {s: docs.doc_lengths(s) for s in docs.sources}
        return cls(mixture, lengths, chunk_len, docs.eos_id, doc_columns=docs.column), docs

    def plan(self, g: Sequence[int] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(source index, chunk index within that source) per example."""
        return self.draws.draw(g)

    def pieces(self, g: int) -> tuple[str, list[tuple[int, int, int]]]:
        """Source name and the (doc, start, stop) spans of example g (doc -1 = EOS)."""
        src, local = self.draws.draw([g])
        stream = self.streams[int(src[0])]
        return stream.name, stream.pieces(int(local[0]) * self.chunk_len, self.chunk_len)

    def chunks(
        self, g: Sequence[int] | np.ndarray, fetch: Fetch, eos_value: int | None = None, dtype=np.int64
    ) -> np.ndarray:
        """[len(g), C] tokens of the examples g; `fetch(source, doc)` returns a document's ids.

        Any per-token document array works the same way: with `fetch` returning stored word-start
        flags, `eos_value=1, dtype=bool` gives the word starts aligned with the chunks.
        """
        src, local = self.draws.draw(g)
        eos = self.eos_id if eos_value is None else eos_value
        out = np.empty((len(src), self.chunk_len), dtype)
        for row, (s, k) in enumerate(zip(src, local, strict=True)):
            stream = self.streams[int(s)]
            filled = 0
            for doc, a, b in stream.pieces(int(k) * self.chunk_len, self.chunk_len):
                if doc < 0:
                    out[row, filled] = eos
                else:
                    out[row, filled : filled + b - a] = fetch(stream.name, doc)[a:b]
                filled += b - a
        return out

    def source_counts(self, n_examples: int) -> dict[str, int]:
        """Examples each source contributes to examples [0, n_examples)."""
        b, r = divmod(int(n_examples), self.draws.block)
        counts = self.draws.counts_before(b)
        if r:
            counts += np.bincount(self.draws.block_sources(b)[:r], minlength=len(self.sources))
        return {s: int(c) for s, c in zip(self.sources, counts, strict=True)}
