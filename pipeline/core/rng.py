"""Counter-based randomness and 64-bit mixing: a draw is a pure function of (seed, keys).

SplitMix64 (Steele et al. 2014, the generator behind java.util.SplittableRandom) over 64-bit
keys, vectorised in numpy.  Any draw can be recomputed from its index alone, so samplers and
collators resume from an example index and every worker/rank layout sees the same numbers; no
generator state is ever saved.  One copy for the whole project: the token sampler, the MLM/span
/PLM collators, the LSH band hashes and the quality classifier's feature buckets all mix here.
"""

from __future__ import annotations

import zlib

import numpy as np

GAMMA = np.uint64(0x9E3779B97F4A7C15)  # golden-ratio Weyl increment
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def mix64(x: np.ndarray | np.uint64) -> np.ndarray:
    """SplitMix64's finaliser: a bijection on uint64 with full avalanche (wraps on overflow)."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64)
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def splitmix64(state: np.ndarray | np.uint64) -> np.ndarray:
    """SplitMix64's output for `state`: the finaliser of state + GAMMA."""
    with np.errstate(over="ignore"):
        return mix64(np.asarray(state, dtype=np.uint64) + GAMMA)


def hash64(seed: int, *keys: int | np.ndarray) -> np.ndarray:
    """64-bit hash of (seed, *keys); array keys broadcast, so one call hashes a whole block."""
    h = splitmix64(np.uint64(seed & 0xFFFFFFFFFFFFFFFF))
    for k in keys:
        h = splitmix64(h ^ np.asarray(k).astype(np.uint64))
    return h


def uniform(seed: int, *keys: int | np.ndarray) -> np.ndarray:
    """Uniform doubles in [0, 1) keyed by (seed, *keys): the top 53 bits of `hash64`."""
    return (hash64(seed, *keys) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def name_key(name: str) -> int:
    """A stable integer for a string key (a source name); Python's hash() is salted per process."""
    return zlib.crc32(name.encode("utf-8"))
