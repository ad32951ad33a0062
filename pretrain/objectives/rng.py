"""Per-example random streams: a collator draws row i's randomness from rngs[i] only.

That is what makes a vectorised batch collation give every example the same masks whichever
rank, worker or batch built it (the stream keys rngs[i] by (seed, global example index)).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Rngs = np.random.Generator | Sequence[np.random.Generator]


def row_rngs(rngs: Rngs | None, b: int) -> list[np.random.Generator]:
    """One Generator per row: given as a list, or spawned from a single Generator (tests, benches)."""
    if rngs is None:
        return [np.random.default_rng(i) for i in range(b)]
    if isinstance(rngs, np.random.Generator):
        return rngs.spawn(b)
    if len(rngs) != b:
        raise ValueError(f"{len(rngs)} generators for {b} rows")
    return list(rngs)
