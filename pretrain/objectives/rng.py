"""Per-example randomness: row i of a batch draws only from its own counter-based stream.

The data stream keys every example by (seed, g), g its global example index.  g never repeats
(a source's second epoch is further down the stream than its first), so it stands for
(epoch, sample) at once, and the same example gets the same masks whichever rank, worker or
batch builds it.  The generator is counter-based: number j of example g is

    u[g, j] = mix64(key_g + (j + 1) * GAMMA),   key_g = mix64(mix64(seed) ^ mix64(g + GAMMA))

(SplitMix64's output function over a Weyl counter, Steele et al. 2014 — the generator behind
java.util.SplittableRandom), so a whole batch of keys and counters is one vectorised numpy
expression: no generator object per example, no state to carry.  Collators ask `uniforms` for a
[B, n] block and slice it; tests and benchmarks may pass numpy Generators instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.core.rng import GAMMA, mix64


@dataclass(frozen=True)
class ExampleKeys:
    """The counter-based streams of a batch: one per global example index, under one seed."""

    seed: int
    ids: np.ndarray  # [B] global example indices

    def __len__(self) -> int:
        return len(self.ids)

    def uniform(self, n: int) -> np.ndarray:
        """[B, n] float64 in [0, 1): numbers 0..n-1 of each example's stream."""
        with np.errstate(over="ignore"):
            seed = mix64(np.uint64(self.seed & 0xFFFFFFFFFFFFFFFF))
            keys = mix64(seed ^ mix64(np.asarray(self.ids, dtype=np.uint64) + GAMMA))  # [B]
            counters = np.arange(1, n + 1, dtype=np.uint64) * GAMMA  # [n]
            bits = mix64(keys[:, None] + counters[None, :])  # [B, n]
        return (bits >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


Rngs = ExampleKeys | np.random.Generator | Sequence[np.random.Generator]


def uniforms(rngs: Rngs | None, b: int, n: int) -> np.ndarray:
    """[B, n] uniforms, row i from row i's stream only (a single Generator is split into B)."""
    if isinstance(rngs, ExampleKeys):
        if len(rngs) != b:
            raise ValueError(f"{len(rngs)} example keys for {b} rows")
        return rngs.uniform(n)
    if rngs is None:
        rows = [np.random.default_rng(i) for i in range(b)]
    elif isinstance(rngs, np.random.Generator):
        rows = rngs.spawn(b)
    else:
        if len(rngs) != b:
            raise ValueError(f"{len(rngs)} generators for {b} rows")
        rows = list(rngs)
    return np.stack([r.random(n) for r in rows]) if b else np.zeros((0, n))
