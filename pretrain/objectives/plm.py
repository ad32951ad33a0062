"""XLNet permuted LM: span targets, a factorisation order with context first, two-stream masks.

Targets are sampled as in the XLNet reference (`_sample_mask`): span lengths n in 1..max_span
with p(n) ~ 1/n, separated by about n*(1-r)/r context tokens so roughly a ratio r of the
sequence is predicted; random single tokens top it up to exactly round(L*r).  In the
factorisation order all non-targets come first (they see each other, never a target) and the
targets follow in a random order (each sees the context and the targets before it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from pretrain.objectives import SpecialIds


def num_predict(length: int, predict_ratio: float) -> int:
    return max(1, int(round(length * predict_ratio)))


def sample_targets(
    tokens: np.ndarray, rng: np.random.Generator, *, ids: SpecialIds, max_span: int, predict_ratio: float
) -> np.ndarray:
    """Boolean [L]: positions to predict; special tokens (EOS separators, pads) are never targets."""
    length = len(tokens)
    allowed = ~np.isin(tokens, ids.special)
    goal = min(num_predict(length, predict_ratio), int(allowed.sum()))
    ngrams = np.arange(1, max_span + 1)
    pvals = 1.0 / ngrams
    pvals /= pvals.sum()
    context_per_target = (1 - predict_ratio) / predict_ratio

    mask = np.zeros(length, dtype=bool)
    cur = 0
    while cur < length and (count := int(mask.sum())) < goal:
        n = min(int(rng.choice(ngrams, p=pvals)), goal - count)
        ctx = max(1, int(round(n * context_per_target)))
        left = int(rng.integers(ctx))  # context split randomly around the span
        beg = cur + left
        if beg + n > length:
            break
        mask[beg : beg + n] = allowed[beg : beg + n]
        cur = beg + n + ctx - left
    missing = goal - int(mask.sum())
    if missing > 0:  # top up with single tokens, as the reference does
        free = np.flatnonzero(allowed & ~mask)
        mask[rng.choice(free, size=missing, replace=False)] = True
    return mask


def permutation_masks(is_target: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """perm_mask [L, L]: 1 where token i may NOT see token j under a random context-first order."""
    order = np.full(len(is_target), -1, dtype=np.int64)  # all context shares rank -1
    targets = np.flatnonzero(is_target)
    order[rng.permutation(targets)] = np.arange(len(targets))
    # j is hidden from i iff j is a target not strictly before i (a target never sees itself)
    return is_target[None, :] & (order[None, :] >= order[:, None])


def plm_collate(
    chunks: np.ndarray,
    rng: np.random.Generator,
    *,
    ids: SpecialIds,
    max_span: int = 5,
    predict_ratio: float = 1 / 6,
) -> dict[str, torch.Tensor]:
    """chunks [B, L] -> input_ids [B, L], perm_mask [B, L, L], target_mapping [B, P, L], labels [B, P].

    P = round(L*ratio) is fixed so batches stack; unused rows (too few ordinary tokens) are all
    zero with label -100.
    """
    chunks = np.asarray(chunks, dtype=np.int64)
    b, length = chunks.shape
    p = num_predict(length, predict_ratio)
    perm_mask = np.zeros((b, length, length), dtype=np.float32)
    target_mapping = np.zeros((b, p, length), dtype=np.float32)
    labels = np.full((b, p), -100, dtype=np.int64)
    for i, tokens in enumerate(chunks):
        is_target = sample_targets(tokens, rng, ids=ids, max_span=max_span, predict_ratio=predict_ratio)
        perm_mask[i] = permutation_masks(is_target, rng)
        pos = np.flatnonzero(is_target)
        target_mapping[i, np.arange(len(pos)), pos] = 1.0
        labels[i, : len(pos)] = tokens[pos]
    return {
        "input_ids": torch.from_numpy(chunks),
        "perm_mask": torch.from_numpy(perm_mask),
        "target_mapping": torch.from_numpy(target_mapping),
        "labels": torch.from_numpy(labels),
    }
