"""Train the quality classifier: logistic regression on hashed n-grams, Adam, numpy only.

Classes are balanced (each class carries half the loss, as GPT-3's reference-vs-Common-Crawl
setup had very unequal sizes), and whole groups (e.g. every text cut from one page) are held
out together, so held-out metrics are not inflated by near-copies seen in training.  Dense
Adam over 2^20 weights costs a few milliseconds a step; a million documents train in
minutes on one core.
"""

from __future__ import annotations

import time

import numpy as np
import xxhash

from pipeline.config.quality import QualityTrainConfig
from pipeline.quality.features import Csr, FeatureSpec, featurize_many
from pipeline.quality.model import QualityModel, sigmoid


def spec_of(cfg: QualityTrainConfig) -> FeatureSpec:
    return FeatureSpec(cfg.buckets_log2, tuple(cfg.char_ngrams), tuple(cfg.word_ngrams), cfg.max_chars)


def holdout_mask(groups: list[str], share: float, seed: int) -> np.ndarray:
    """True for held-out rows: a group's 64-bit hash (seeded) below `share` of the range."""
    cut = int(share * 2**64)
    return np.array([xxhash.xxh3_64_intdigest(g.encode(), seed=seed) < cut for g in groups], dtype=bool)


def auc(y: np.ndarray, s: np.ndarray) -> float | None:
    """Area under the ROC curve (Mann–Whitney U, ties counted half); None without both classes."""
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if not n_pos or not n_neg:
        return None
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    mean_rank = np.cumsum(counts) - (counts - 1) / 2  # 1-based, averaged over ties
    ranks = mean_rank[inverse]
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def metrics(y: np.ndarray, s: np.ndarray) -> dict:
    return {
        "documents": len(y),
        "positives": int(y.sum()),
        "negatives": int(len(y) - y.sum()),
        "accuracy": round(float(((s >= 0.5) == (y == 1)).mean()), 4) if len(y) else None,
        "auc": None if (a := auc(y, s)) is None else round(a, 4),
    }


def fit(x: Csr, y: np.ndarray, cfg: QualityTrainConfig) -> tuple[np.ndarray, float]:
    """Minimise the class-balanced mean log loss + (l2 / 2)·‖w‖² with Adam."""
    n_buckets = 1 << cfg.buckets_log2
    n_pos = max(int(y.sum()), 1)
    n_neg = max(len(y) - int(y.sum()), 1)
    sample_w = np.where(y == 1, 0.5 / n_pos, 0.5 / n_neg) * len(y)  # mean 1
    w = np.zeros(n_buckets)
    m, v = np.zeros(n_buckets), np.zeros(n_buckets)
    b = mb = vb = 0.0
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    rng = np.random.default_rng(cfg.seed)
    step = 0
    for _ in range(cfg.epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(y), cfg.batch_size):
            rows = order[start : start + cfg.batch_size]
            xb = x.take(rows)
            err = (sigmoid(xb.dot(w) + b) - y[rows]) * sample_w[rows] / len(rows)
            grad = np.bincount(xb.indices, weights=xb.data * err[xb.row_ids()], minlength=n_buckets)
            grad += cfg.l2 * w
            grad_b = float(err.sum())
            step += 1
            m = beta1 * m + (1 - beta1) * grad
            v = beta2 * v + (1 - beta2) * grad * grad
            mb = beta1 * mb + (1 - beta1) * grad_b
            vb = beta2 * vb + (1 - beta2) * grad_b * grad_b
            lr = cfg.learning_rate * np.sqrt(1 - beta2**step) / (1 - beta1**step)
            w -= lr * m / (np.sqrt(v) + eps)
            b -= lr * mb / (np.sqrt(vb) + eps)
    return w, b


def train(
    texts: list[str], labels: list[int], cfg: QualityTrainConfig, groups: list[str] | None = None
) -> tuple[QualityModel, dict]:
    """Fit on the non-held-out groups; return the model and train/held-out metrics."""
    if len(texts) != len(labels) or (groups is not None and len(groups) != len(texts)):
        raise ValueError("texts, labels and groups must have the same length")
    y = np.asarray(labels, dtype=np.float64)
    if not ((y == 0) | (y == 1)).all() or y.min() == y.max():
        raise ValueError("labels must be 0/1 with both classes present")
    t0 = time.perf_counter()
    spec = spec_of(cfg)
    x = featurize_many(texts, spec)
    held = holdout_mask(groups if groups is not None else texts, cfg.holdout, cfg.seed)
    train_rows, held_rows = np.flatnonzero(~held), np.flatnonzero(held)
    if len(np.unique(y[train_rows])) < 2:
        raise ValueError("the training split lacks a class; lower --holdout or add data")
    w, b = fit(x.take(train_rows), y[train_rows], cfg)
    scores = sigmoid(x.dot(w) + b)
    summary = {
        "train": metrics(y[train_rows], scores[train_rows]),
        "holdout": metrics(y[held_rows], scores[held_rows]),
        "seconds": round(time.perf_counter() - t0, 2),
        "config": cfg.model_dump(),
    }
    return QualityModel(spec, w.astype(np.float32), float(b), {"training": summary}), summary
