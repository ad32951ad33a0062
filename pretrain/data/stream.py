"""The trainer's IterableDataset: the mixture stream's examples (`tokenization.stream`), collated per rank.

Example g (a chunk of the token stream, see `tokenization/stream.py`) becomes model inputs through
the objective's collator with a counter-based random stream keyed by (run seed, g)
(`objectives.rng.ExampleKeys`).  g never repeats (a source's next pass is further down the
stream), so masks are re-drawn every time a document is seen again: dynamic masking for free.

The only resumable state is `consumed`, the number of examples all ranks used so far.
Shards are opened on demand (`tokenization.shards.TokenShards`), so start-up costs one manifest read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from pretrain.objectives.rng import ExampleKeys
from tokenization.mixture import mixture_digest, read_mixture, validate_mixture
from tokenization.shards import TokenShards
from tokenization.stream import WINDOW, DocStream, window

# tokens per collator call: bigger batches spill the CPU caches (MLM: 16M -> 8M tokens/s)
COLLATE_TOKENS = 65_536
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
        word_starts: bool | Literal["units"] = False,
    ) -> None:
        super().__init__()
        self.shards = tokens if isinstance(tokens, TokenShards) else TokenShards(tokens)
        if word_starts == "units":  # MLM knowledge masking: word, phrase and entity unit starts
            self.shards = self.shards.reading_unit_codes()
        self.mixture = validate_mixture(mixture) if isinstance(mixture, dict) else read_mixture(mixture)
        self.collate, self.chunk_len, self.batch_size = collate, chunk_len, batch_size
        self.seed, self.rank, self.world = seed, rank, world
        # read stored word boundaries (whole-word MLM, XLNet spans): bool flags; with "units", uint8
        # unit codes where the shards store knowledge spans (`tokenization.knowledge_spans.UNIT_BITS`)
        self.word_starts = bool(word_starts)
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
        """[WINDOW, C] chunks of shuffle window q in example order, and their word starts (or None)."""
        return window(stream, q, self.chunk_len, self.seed, self.word_starts)

    def iter_batches(
        self, worker: int = 0, num_workers: int = 1
    ) -> Iterator[tuple[list[int], dict[str, torch.Tensor]]]:
        stream = DocStream(self.shards, self.mixture)
        windows: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        for indices in self.index_batches(worker, num_workers):
            chunks = np.empty((len(indices), self.chunk_len), np.int64)  # [B, C]
            starts: np.ndarray | None = None  # [B, C]: bool word starts or uint8 unit codes, as stored
            missing = False
            for i, g in enumerate(indices):
                q, r = divmod(g, WINDOW)
                if q not in windows:
                    for old in [k for k in windows if k < q]:
                        del windows[old]  # indices only grow: earlier windows are done
                    windows[q] = self.window(stream, q)
                chunk, ws = windows[q]
                chunks[i] = chunk[r]
                if ws is None or missing:
                    missing, starts = True, None
                else:
                    if starts is None:
                        starts = np.empty((len(indices), self.chunk_len), ws.dtype)
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
