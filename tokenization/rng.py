"""Counter-based randomness: a draw is a pure function of (seed, keys), never of how many came before.

SplitMix64's finaliser over 64-bit keys, vectorised in numpy.  Any draw can be recomputed from its
index alone, so samplers resume from an example index and any worker/rank layout sees the same
numbers; no generator state is ever saved.
"""

from __future__ import annotations

import zlib

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a bijection on uint64 whose outputs look independent for adjacent inputs."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def hash64(seed: int, *keys: int | np.ndarray) -> np.ndarray:
    """64-bit hash of (seed, *keys); array keys broadcast, so one call hashes a whole block."""
    h = mix64(np.uint64(seed & 0xFFFFFFFFFFFFFFFF))
    for k in keys:
        h = mix64(h ^ np.asarray(k).astype(np.uint64))
    return h


def uniform(seed: int, *keys: int | np.ndarray) -> np.ndarray:
    """Uniform doubles in [0, 1) keyed by (seed, *keys): the top 53 bits of `hash64`."""
    return (hash64(seed, *keys) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def name_key(name: str) -> int:
    """A stable integer for a string key (a source name); Python's hash() is salted per process."""
    return zlib.crc32(name.encode("utf-8"))
