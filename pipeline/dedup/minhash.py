"""MinHash signatures, vectorised, interchangeable with datasketch's.

Scheme "affine32" (datasketch ≥ 2.0's default) with datasketch's own permutations for the
seed; the shingle hash is xxh32 of the shingle's UTF-8 bytes instead of datasketch's
default sha1_hash32: datasketch accepts it as `hashfunc=xxhash.xxh32_intdigest`, it is 32
bits wide as affine32 wants, and it costs a few nanoseconds instead of a Python call and a
SHA-1.  So `to_datasketch(sig, cfg)` equals `MinHash(num_perm, seed, hashfunc=HASHFUNC)`
updated with `shingles(text)` (tested).  A document without shingles has all values at
2^32 - 1, datasketch's empty MinHash.

Why numba and not plain numpy for the signature loop: numpy would first need every
shingle hashed (one Python call per shingle, where datasketch spends its time) and then a
(shingles × num_perm) uint64 temporary per document for `a·h + b`, 10 MB for a 10k-shingle
page, written and read back once just to take a column minimum.  The numba kernel
(shingles._batch) fuses normalise → shingle → xxh32 → permute → min in one pass, with the
permutation loop compiled to SIMD, and allocates nothing per shingle.  numpy does the
array work around it (band hashes, estimates, bucket sorts), where whole-array
operations are already the fast path.
"""

from __future__ import annotations

import functools

import numpy as np
import xxhash

from pipeline.config import DedupConfig
from pipeline.dedup.shingles import ShingleKernel, Texts, utf8_docs

SCHEME = "affine32"
HASHFUNC = xxhash.xxh32_intdigest
EMPTY = np.uint32(0xFFFFFFFF)
# UTF-8 bytes per kernel call: keeps the kernel's scratch under 4 MiB, below numpy's
# MADV_HUGEPAGE size, whose first touch can compact memory synchronously (figures:
# bench/results/2026-12-07-measurements-moved-from-code.md).
BATCH_BYTES = 1 << 18


@functools.cache
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's (a, b) for this seed: taken from datasketch itself so they cannot drift."""
    from datasketch import MinHash

    a, b = MinHash(num_perm=num_perm, seed=seed, scheme=SCHEME).permutations
    return np.ascontiguousarray(a, np.uint32), np.ascontiguousarray(b, np.uint32)


@functools.cache
def _kernel(char_n: int, word_n: int, t2s: bool, gap: int, chars: bool) -> ShingleKernel:
    return ShingleKernel(char_n, word_n, t2s, gap, chars)


def kernel(cfg: DedupConfig) -> ShingleKernel:
    return _kernel(cfg.ngram, cfg.word_ngram, cfg.t2s, cfg.run_gap, cfg.shingle == "char")


def _batches(starts: np.ndarray) -> list[tuple[int, int]]:
    """Document ranges [lo, hi) of about BATCH_BYTES each (a longer document is one batch)."""
    out, lo = [], 0
    n = len(starts) - 1
    while lo < n:
        hi = int(np.searchsorted(starts, starts[lo] + BATCH_BYTES, side="left"))
        hi = min(n, max(hi, lo + 1))
        out.append((lo, hi))
        lo = hi
    return out or [(0, 0)]


def signatures_and_hashes(texts: Texts, cfg: DedupConfig) -> tuple[np.ndarray, list[str]]:
    """(n, num_perm) uint32 signatures and the exact-dedup hash of each normalised text.

    `texts`: Python strings or an Arrow string column (read in place).  One pass: the kernel's
    normalised UTF-8 is what `exact.text_hash` would hash.
    """
    a, b = permutations(cfg.num_perm, cfg.seed)
    k = kernel(cfg)
    buf, starts = utf8_docs(texts)
    sig_parts, hashes = [], []
    for lo, hi in _batches(starts):
        sigs, utf8, ustarts, _, _ = k.run(buf, starts[lo : hi + 1], a, b, want_sets=False)
        view = memoryview(utf8)
        hashes += [
            xxhash.xxh3_128_hexdigest(view[s:e]) for s, e in zip(ustarts[:-1], ustarts[1:], strict=True)
        ]
        sig_parts.append(sigs)
    return np.concatenate(sig_parts), hashes


def signatures(texts: Texts, cfg: DedupConfig) -> np.ndarray:
    return signatures_and_hashes(texts, cfg)[0]


def shingle_sets(texts: Texts, cfg: DedupConfig) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique shingle hashes of each text (concatenated) and offsets, for exact Jaccard."""
    k = kernel(cfg)
    buf, starts = utf8_docs(texts)
    parts, offsets, base = [], [np.zeros(1, np.int64)], 0
    for lo, hi in _batches(starts):
        h, o = k.hash_sets(buf, starts[lo : hi + 1])
        parts.append(h)
        offsets.append(o[1:] + base)
        base += int(o[-1])
    return np.concatenate(parts), np.concatenate(offsets)


def to_datasketch(sig: np.ndarray, cfg: DedupConfig):
    """A datasketch LeanMinHash holding this signature."""
    from datasketch import LeanMinHash

    return LeanMinHash(seed=cfg.seed, hashvalues=sig, scheme=SCHEME)
