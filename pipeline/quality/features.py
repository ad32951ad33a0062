"""Hashed n-gram features: char n-grams inside CJK runs, word n-grams elsewhere.

The hashing trick (as Spark's HashingTF behind GPT-3's classifier) maps every n-gram to one
of 2^k buckets with no vocabulary to store.  Chinese has no spaces, so its units are
characters (1–3-grams carry roughly what words and word pairs do in English); other text is
lowercased `\\w+` words and single punctuation marks (1–3-grams).  Hashes are 64-bit and
computed with numpy from code points and xxhash word digests, so they are identical in every
process and on every machine (Python's `hash` is salted per process).  A document's vector
is log(1 + count) per bucket, L2-normed, so long and short documents score on one scale.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import numpy as np
import xxhash

from pipeline.core.rng import mix64

# Han and kana code points (CJK punctuation is left to the word side, as single marks)
_CJK_RANGES = (
    (0x3040, 0x30FF),
    (0x31F0, 0x31FF),
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x3134F),
)
_WORD = re.compile(
    r"[^\W\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+|[^\w\s]"
)
_MULT = np.uint64(0x100000001B3)  # FNV prime: polynomial combination of unit hashes
_CHAR_SEED = np.uint64(0x243F6A8885A308D3)  # digits of pi: one namespace per kind and order
_WORD_SEED = np.uint64(0x13198A2E03707344)


@dataclass(frozen=True)
class FeatureSpec:
    """Everything needed to featurize text exactly as at training time (saved with the model)."""

    buckets_log2: int = 20
    char_ngrams: tuple[int, ...] = (1, 2, 3)
    word_ngrams: tuple[int, ...] = (1, 2, 3)
    max_chars: int = 20_000

    @property
    def buckets(self) -> int:
        return 1 << self.buckets_log2

    def to_json(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @staticmethod
    def from_json(d: dict) -> FeatureSpec:
        return FeatureSpec(
            buckets_log2=int(d["buckets_log2"]),
            char_ngrams=tuple(int(n) for n in d["char_ngrams"]),
            word_ngrams=tuple(int(n) for n in d["word_ngrams"]),
            max_chars=int(d["max_chars"]),
        )


def _ngram_hashes(units: np.ndarray, n: int, seed: np.uint64) -> np.ndarray:
    """Polynomial hash of every window of n units (before mixing)."""
    h = np.full(len(units) - n + 1, seed + np.uint64(n), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            h = h * _MULT + units[k : len(units) - n + 1 + k]
    return h


def _char_hashes(text: str, orders: tuple[int, ...]) -> list[np.ndarray]:
    """Char n-grams lying wholly inside CJK runs, for the whole text at once."""
    cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    cjk = np.zeros(len(cp), dtype=bool)
    for lo, hi in _CJK_RANGES:
        cjk |= (cp >= lo) & (cp <= hi)
    if not cjk.any():
        return []
    outside = np.concatenate([[0], np.cumsum(~cjk)])  # non-CJK characters before each position
    units = cp.astype(np.uint64)
    out = []
    for n in orders:
        if len(cp) >= n:
            inside = outside[n:] == outside[:-n]  # the window starting here is all CJK
            out.append(_ngram_hashes(units, n, _CHAR_SEED)[inside])
    return out


def _word_hashes(words: list[str]) -> np.ndarray:
    digest = {w: xxhash.xxh3_64_intdigest(w.encode("utf-8", "surrogatepass")) for w in set(words)}
    return np.fromiter((digest[w] for w in words), dtype=np.uint64, count=len(words))


def featurize(text: str, spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray]:
    """(bucket indices, values) of one text: sorted unique int32 indices, float32 values."""
    text = text[: spec.max_chars].lower()
    hashes = _char_hashes(text, spec.char_ngrams)
    words = _WORD.findall(text)  # the CJK runs split the words around them
    if words:
        units = _word_hashes(words)
        hashes += [_ngram_hashes(units, n, _WORD_SEED) for n in spec.word_ngrams if len(words) >= n]
    if not hashes or not sum(map(len, hashes)):
        return np.zeros(0, np.int32), np.zeros(0, np.float32)
    buckets = (mix64(np.concatenate(hashes)) >> np.uint64(64 - spec.buckets_log2)).astype(np.int32)
    idx, counts = np.unique(buckets, return_counts=True)
    values = np.log1p(counts.astype(np.float32))
    values /= np.linalg.norm(values)
    return idx, values


@dataclass(frozen=True)
class Csr:
    """Rows of hashed features (compressed sparse rows, plain numpy)."""

    indptr: np.ndarray  # int64, len rows + 1
    indices: np.ndarray  # int32
    data: np.ndarray  # float32

    @property
    def rows(self) -> int:
        return len(self.indptr) - 1

    def take(self, rows: np.ndarray) -> Csr:
        starts, ends = self.indptr[rows], self.indptr[rows + 1]
        lengths = ends - starts
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        # positions of every selected nonzero: start of its row + offset within the row
        pos = np.repeat(starts - indptr[:-1], lengths) + np.arange(indptr[-1])
        return Csr(indptr, self.indices[pos], self.data[pos])

    def row_ids(self) -> np.ndarray:
        return np.repeat(np.arange(self.rows), np.diff(self.indptr))

    def dot(self, w: np.ndarray) -> np.ndarray:
        """X @ w for a dense weight vector."""
        return np.bincount(self.row_ids(), weights=self.data * w[self.indices], minlength=self.rows)


def featurize_many(texts: list[str], spec: FeatureSpec) -> Csr:
    rows = [featurize(t or "", spec) for t in texts]
    lengths = [len(i) for i, _ in rows]
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    indices = np.concatenate([i for i, _ in rows]) if rows else np.zeros(0, np.int32)
    data = np.concatenate([v for _, v in rows]) if rows else np.zeros(0, np.float32)
    return Csr(indptr, indices.astype(np.int32), data.astype(np.float32))
