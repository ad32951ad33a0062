"""Realised mixture: tokens and epochs per source in the prefix of the token stream consumed so far.

The mixture's `probability` is a share of TOKENS (GPT-3 style, tokenization/mixture.py); the stream draws
DOCUMENTS, weighting each source by share / mean document length, so the realised token shares
meet the target in expectation; the meter shows how closely next to the target at every log step
(and epochs per source: documents drawn / documents one pass draws).  It
walks its own copy of the document stream forward (only document lengths are read, block by
block), so a log step costs only the blocks passed since the last one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tokenization.shards import TokenShards
from tokenization.stream import DocStream


class MixMeter:
    """Counts document tokens (EOS excluded) and documents per source in token stream [0, n)."""

    def __init__(self, shards: TokenShards, mixture: dict[str, Any]) -> None:
        self.stream = DocStream(shards, mixture)
        self.sources = self.stream.sources
        self.target = dict(zip(self.sources, self.stream.shares.tolist(), strict=True))
        self._docs = self.stream.draws_per_pass  # under sampling a pass is not every document once
        self._done_tokens = np.zeros(len(self.sources), np.int64)  # from blocks wholly passed
        self._done_docs = np.zeros(len(self.sources), np.int64)
        self._block = None
        self._pos = 0

    def update(self, n_tokens: int) -> dict[str, dict[str, float]]:
        """Per source: tokens, realised share, target share and epochs (documents drawn / documents one pass draws)."""
        if n_tokens < self._pos:
            raise ValueError("the meter only moves forward")
        self._pos = n_tokens
        while self._block is None or self._block.end <= n_tokens:
            if self._block is not None:
                self._add(self._block, self._block.end, self._done_tokens, self._done_docs)
            self._block = self.stream.next_block()
        tokens, docs = self._done_tokens.copy(), self._done_docs.copy()
        self._add(self._block, n_tokens, tokens, docs)
        total = max(1, int(tokens.sum()))
        return {
            s: {
                "tokens": int(tokens[i]),
                "share": float(tokens[i] / total),
                "target": float(self.target[s]),
                "epochs": float(docs[i] / self._docs[i]),  # passes over the source
            }
            for i, s in enumerate(self.sources)
        }

    @staticmethod
    def _add(block: Any, n_tokens: int, tokens: np.ndarray, docs: np.ndarray) -> None:
        """Add the part of `block` before token n_tokens (a partly read document counts as drawn)."""
        doc_len = np.diff(np.append(block.start, block.end)) - 1
        seen = np.clip(n_tokens - block.start, 0, doc_len)
        np.add.at(tokens, block.source, seen)
        np.add.at(docs, block.source, (block.start < n_tokens).astype(np.int64))
