"""XLNet permuted LM: word-level span targets, a context-first factorisation order, two-stream masks.

Targets follow the XLNet reference `data_utils._sample_mask`: repeatedly draw n in 1..max_span
with p(n) ∝ 1/n, reserve a context of n*alpha//beta tokens (alpha=6, beta=1 in XLNet) around
the span, move the span start to the next word start and cover n whole words; stop when the goal
is reached or a span would run off the end, then top up with random single tokens to exactly
P = round(L * predict_ratio) targets (85 of 512 for ratio 1/6 — XLNet's partial prediction with
K = 6).  A span that would overshoot the goal is cut short so P is exact and batches stack.
HF's DataCollatorForPermutationLanguageModeling instead draws token spans of uniform length in
1..5 and needs even lengths; this works for any length.

Factorisation order (XLNet `_local_perm` with one permutation block): every non-target comes
first (sees every non-target, never a target), the targets follow in a random order, each
seeing the context and the targets before it — never itself or later ones.

With `doc_attention` a token also never sees another packed document, and the first token of
each document is never a target, so every query row keeps at least one visible token (XLNet
masks with -1e30, and a fully masked row would attend uniformly, i.e. to everything).
perm_mask and target_mapping are boolean to keep worker→trainer traffic small; XLNet wants
floats (`pretrain.train.model_inputs` casts them on the device).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from pretrain.objectives.packing import segments
from pretrain.objectives.rng import Rngs, row_rngs

if TYPE_CHECKING:
    from pretrain.objectives import SpecialIds
    from pretrain.objectives.words import WordTable


def num_predict(length: int, predict_ratio: float) -> int:
    return max(1, int(round(length * predict_ratio)))


def sample_spans(
    starts: np.ndarray,
    allowed: np.ndarray,
    goal: int,
    rng: np.random.Generator,
    *,
    max_span: int = 5,
    alpha: int = 6,
    beta: int = 1,
) -> tuple[np.ndarray, int]:
    """The span loop of XLNet `_sample_mask` over word starts [L] -> (boolean [L] mask, targets in it)."""
    length = len(starts)
    word = np.flatnonzero(starts)  # positions of word starts
    ngrams = np.arange(1, max_span + 1)
    pvals = 1.0 / ngrams
    pvals /= pvals.sum()
    draws = length // max(1, alpha // beta) + 2  # bound on iterations (each advances >= alpha tokens)
    ns = rng.choice(ngrams, size=draws, p=pvals)
    us = rng.random(draws)

    mask = np.zeros(length, dtype=bool)
    num, cur, t = 0, 0, 0
    while cur < length and num < goal and t < draws:
        n = min(int(ns[t]), goal - num)
        ctx = n * alpha // beta
        left = int(us[t] * ctx)  # np.random.choice(ctx_size) in the reference
        t += 1
        w = int(np.searchsorted(word, cur + left))  # the span starts at the next word start
        if w + n >= len(word):  # the n-th word would reach the end of the sequence: stop
            break
        beg, end = int(word[w]), int(word[w + n])
        span = np.flatnonzero(allowed[beg:end])[: goal - num] + beg  # never specials; never past the goal
        mask[span] = True
        num += len(span)
        cur = end + ctx - left
    return mask, num


def sample_targets(
    starts: np.ndarray,
    allowed: np.ndarray,
    goal: int,
    rng: np.random.Generator,
    *,
    max_span: int = 5,
    alpha: int = 6,
    beta: int = 1,
) -> np.ndarray:
    """XLNet `_sample_mask`: word spans, then single tokens up to exactly min(goal, allowed) targets."""
    goal = min(goal, int(allowed.sum()))
    mask, num = sample_spans(starts, allowed, goal, rng, max_span=max_span, alpha=alpha, beta=beta)
    if num < goal:  # top up with single tokens, as the reference does
        free = np.flatnonzero(allowed & ~mask)
        mask[rng.choice(free, size=goal - num, replace=False)] = True
    return mask


def permutation_masks(is_target: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """is_target [B, L], uniform keys [B, L] -> perm_mask [B, L, L]: True where i may NOT see j.

    Context has order -1; targets are ranked by their keys.  j is hidden from i iff j is a target
    not strictly before i (so a target never sees itself or later targets).
    """
    ranked = np.where(is_target, keys, 2.0)
    order = np.argsort(np.argsort(ranked, axis=1), axis=1)  # targets get 0..P-1
    order = np.where(is_target, order, -1)
    return is_target[:, None, :] & (order[:, None, :] >= order[:, :, None])


def plm_collate(
    chunks: np.ndarray,
    rngs: Rngs | None = None,
    word_starts: np.ndarray | None = None,
    *,
    ids: SpecialIds,
    words: WordTable | None = None,
    max_span: int = 5,
    predict_ratio: float = 1 / 6,
    alpha: int = 6,
    beta: int = 1,
    doc_attention: bool = False,
) -> dict[str, torch.Tensor]:
    """chunks [B, L] -> input_ids [B, L], perm_mask [B, L, L], target_mapping [B, P, L], labels [B, P].

    P = round(L*ratio) is fixed so batches stack; unused rows (too few ordinary tokens) are all
    False with label -100.  Word starts: stored (`word_starts`), else derived by `words`, else
    every token is a word.
    """
    tokens = np.asarray(chunks, dtype=np.int64)
    b, length = tokens.shape
    p = num_predict(length, predict_ratio)
    rows = row_rngs(rngs, b)
    if word_starts is not None:
        starts = np.asarray(word_starts, dtype=bool)
    elif words is not None:
        starts = words.starts(tokens)
    else:
        starts = np.ones((b, length), dtype=bool)
    allowed = ~np.isin(tokens, ids.special)  # [B, L]: separators are never predicted
    seg = None
    if doc_attention:
        seg, pos = segments(tokens, ids.eos)
        allowed &= pos > 0  # each document keeps its first token as context

    is_target = np.stack(
        [
            sample_targets(starts[i], allowed[i], p, rows[i], max_span=max_span, alpha=alpha, beta=beta)
            for i in range(b)
        ]
    )  # [B, L]
    keys = np.stack([r.random(length) for r in rows])  # [B, L]: the targets' random order
    perm_mask = permutation_masks(is_target, keys)  # [B, L, L]
    if seg is not None:
        perm_mask |= seg[:, :, None] != seg[:, None, :]

    pos_t = np.argsort(~is_target, axis=1, kind="stable")[:, :p]  # [B, P]: target positions, ascending
    valid = np.arange(p)[None, :] < is_target.sum(axis=1, keepdims=True)  # [B, P]
    target_mapping = np.zeros((b, p, length), dtype=bool)
    np.put_along_axis(target_mapping, pos_t[:, :, None], valid[:, :, None], axis=2)
    labels = np.where(valid, np.take_along_axis(tokens, pos_t, axis=1), -100)
    return {
        "input_ids": torch.from_numpy(tokens),
        "perm_mask": torch.from_numpy(perm_mask),
        "target_mapping": torch.from_numpy(target_mapping),
        "labels": torch.from_numpy(labels),
    }
