"""LSH banding: how many bands × rows, and the band keys documents are bucketed by.

Two documents with Jaccard s share at least one of b bands of r rows with probability
P(s) = 1 - (1 - s^r)^b (the S-curve).  Like datasketch's `MinHashLSH`, (b, r) minimise

    fp_weight · ∫_0^t P(s) ds  +  fn_weight · ∫_t^1 (1 - P(s)) ds      over b·r ≤ num_perm,

the areas of the curve on the wrong side of the design threshold t.  Every candidate is
verified afterwards (verify.py), so a false positive costs a little CPU while a false
negative is a duplicate kept for good: the default weights (0.05, 0.95) with the design
threshold at the verification threshold buy P(threshold + 0.05) ≈ 0.99 at 128 permutations.

Band keys fold the r rows of a band into 64 bits; the band number sits in the top 11 bits
of the shuffle key so buckets of different bands never mix.  Two extra "bands" carry the
exact keys (normalised-text hash, normalised-URL hash) through the same shuffle.
"""

from __future__ import annotations

import functools

import numpy as np

from pipeline.config import DedupConfig
from pipeline.core.rng import GAMMA, mix64

BAND_BITS = 11
EXACT_BAND = (1 << BAND_BITS) - 2
URL_BAND = (1 << BAND_BITS) - 1
_HASH_MASK = np.uint64((1 << (64 - BAND_BITS)) - 1)


def s_curve(s: np.ndarray | float, bands: int, rows: int) -> np.ndarray:
    """Probability that a pair with Jaccard `s` becomes a candidate."""
    return 1.0 - (1.0 - np.asarray(s, np.float64) ** rows) ** bands


@functools.cache
def optimal_params(threshold: float, num_perm: int, fp_weight: float, fn_weight: float) -> tuple[int, int]:
    """datasketch's `_optimal_param`: (bands, rows) with the least weighted error area.

    Integrated on a fixed grid (Simpson, 2001 points) instead of scipy's adaptive quad:
    deterministic, vectorised, and equal to datasketch's choice (tested).
    """
    lo = np.linspace(0.0, threshold, 2001)
    hi = np.linspace(threshold, 1.0, 2001)
    wl = _simpson_weights(len(lo)) * (threshold / (len(lo) - 1))
    wh = _simpson_weights(len(hi)) * ((1.0 - threshold) / (len(hi) - 1))
    best, opt = float("inf"), (1, 1)
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = float(wl @ s_curve(lo, b, r))
            fn = float(wh @ (1.0 - s_curve(hi, b, r)))
            err = fp * fp_weight + fn * fn_weight
            if err < best:
                best, opt = err, (b, r)
    return opt


def _simpson_weights(n: int) -> np.ndarray:
    w = np.ones(n)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return w / 3.0


def lsh_params(cfg: DedupConfig) -> tuple[int, int]:
    if cfg.bands is not None and cfg.rows is not None:
        return cfg.bands, cfg.rows
    design = cfg.lsh_threshold if cfg.lsh_threshold is not None else cfg.threshold
    return optimal_params(round(design, 6), cfg.num_perm, cfg.fp_weight, cfg.fn_weight)


def band_hashes(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) uint64: each band's rows folded into one well-mixed 64-bit value."""
    n = sigs.shape[0]
    x = sigs[:, : bands * rows].reshape(n, bands, rows).astype(np.uint64)
    h = np.full((n, bands), GAMMA, np.uint64)
    for j in range(rows):
        h = mix64(h ^ x[:, :, j])
    return h


def shuffle_keys(hashes: np.ndarray, band: np.ndarray | int) -> np.ndarray:
    """Band number in the top bits, hash below: one sortable uint64 per (band, bucket)."""
    return (np.asarray(band, np.uint64) << np.uint64(64 - BAND_BITS)) | (hashes & _HASH_MASK)


def shard_of(hashes: np.ndarray, shards: int) -> np.ndarray:
    """Shuffle shard of a band hash: a whole bucket always lands in one shard."""
    return (hashes % np.uint64(shards)).astype(np.int64)
