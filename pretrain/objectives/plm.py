"""XLNet permuted LM: word-level span targets, a context-first factorisation order, two-stream masks.

Targets follow the XLNet reference `data_utils._sample_mask`: repeatedly draw n in 1..max_span
with p(n) ∝ 1/n, reserve a context of n*alpha//beta tokens (alpha=6, beta=1 in XLNet) around
the span, move the span start to the next word start and cover n whole words; stop when a span
would run off the end, keep the first P = round(L * predict_ratio) span tokens (85 of 512 for
ratio 1/6 — XLNet's partial prediction with K = 6; the span that crosses the goal is cut short,
so P is exact and batches stack), then top up with random single tokens to exactly P, as the
reference does.  (The reference also shrinks the last span's n to the tokens still missing
before drawing its context; here the cut comes after, the only difference.)  The span loop runs
once for the whole batch, one step per span over [B] arrays (about L/7 steps), so collation is
vectorised like the other objectives.
HF's DataCollatorForPermutationLanguageModeling instead draws token spans of uniform length in
1..5 and needs even lengths; this works for any length.

Factorisation order (XLNet `_local_perm` with one permutation block): every non-target comes
first (sees every non-target, never a target), the targets follow in a random order, each
seeing the context and the targets before it — never itself or later ones.

With `doc_attention` a token also never sees another packed document, and the first token of
each document is never a target, so every query row keeps at least one visible token (XLNet
masks with -1e30, and a fully masked row would attend uniformly, i.e. to everything).
perm_mask and target_mapping are boolean (XLNet wants floats: `pretrain.train.model_inputs` casts
them on the device); the trainer's collator is `compact` and ships O(L) keys instead (`masks.py`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from numba import njit

from pretrain.objectives.masks import expand, perm_mask
from pretrain.objectives.packing import segments
from pretrain.objectives.rng import Rngs, uniforms

if TYPE_CHECKING:
    from pretrain.objectives.special_ids import SpecialIds
    from pretrain.objectives.word_table import WordTable


def num_predict(length: int, predict_ratio: float) -> int:
    return max(1, int(round(length * predict_ratio)))


def span_steps(length: int, alpha: int = 6, beta: int = 1) -> int:
    """Bound on spans per row: each step advances by more than its context (>= alpha//beta tokens)."""
    return length // max(1, alpha // beta) + 2


def sample_spans(
    starts: np.ndarray,
    allowed: np.ndarray,
    goal: int | np.ndarray,
    u: np.ndarray,
    *,
    max_span: int = 5,
    alpha: int = 6,
    beta: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """The span loop of XLNet `_sample_mask`, batched.

    starts, allowed [B, L] bool; goal: targets per row (int or [B]); u [B, 2 * span_steps(L)]
    uniforms -> (mask [B, L] bool, targets per row [B]).
    """
    b, length = starts.shape
    pvals = 1.0 / np.arange(1, max_span + 1)
    cdf = np.cumsum(pvals / pvals.sum())
    goals = np.ascontiguousarray(np.broadcast_to(np.asarray(goal, dtype=np.int64), (b,)))
    mask = np.zeros((b, length), dtype=np.bool_)
    num = np.zeros(b, dtype=np.int64)
    _span_rows(
        np.ascontiguousarray(starts, dtype=np.bool_),
        np.ascontiguousarray(allowed, dtype=np.bool_),
        goals,
        np.ascontiguousarray(u, dtype=np.float64),
        cdf,
        alpha,
        beta,
        mask,
        num,
    )
    return mask, num


# Hand-written (numba) because the loop is sequential within a row: where the next span may start
# depends on where the last one ended.  Batched numpy needs one pass over [B] arrays per span step
# (about L/7 of them) and was half of the collator's time; this is one pass over each row.
@njit(cache=True, nogil=True)
def _span_rows(starts, allowed, goals, u, cdf, alpha, beta, mask, num):  # type: ignore[no-untyped-def]
    b, length = starts.shape
    steps = u.shape[1] // 2
    max_span = cdf.shape[0]
    word_pos = np.empty(length + 1, np.int64)  # position of the k-th word start, `length` past the last
    before = np.empty(length + 1, np.int64)  # word starts before position p
    for i in range(b):
        n_words = 0
        for p in range(length):
            before[p] = n_words
            if starts[i, p]:
                word_pos[n_words] = p
                n_words += 1
        before[length] = n_words
        for k in range(n_words, length + 1):
            word_pos[k] = length
        cur, covered, goal = 0, 0, goals[i]
        for t in range(steps):
            n = 1  # words in this span: p(n) ∝ 1/n, np.searchsorted(cdf, u, "right") + 1
            while n < max_span and cdf[n - 1] <= u[i, t]:
                n += 1
            ctx = n * alpha // beta  # context reserved around the span
            left = int(u[i, steps + t] * ctx)  # np.random.choice(ctx) in the reference
            w = before[min(cur + left, length)]  # the span starts at the next word start
            if cur >= length or w + n >= n_words:  # its n-th word must end before the sequence does
                break
            beg, end = word_pos[w], word_pos[w + n]
            for p in range(beg, end):
                if allowed[i, p]:  # never specials
                    mask[i, p] = True
                    covered += 1
            cur = end + ctx - left
            # A row whose spans already hold its goal is done: later spans would be cut away below.
            if covered >= goal:
                break
        kept = 0
        for p in range(length):  # the span crossing the goal is cut short
            if mask[i, p]:
                if kept < goal:
                    kept += 1
                else:
                    mask[i, p] = False
        num[i] = kept


def sample_targets(
    starts: np.ndarray,
    allowed: np.ndarray,
    goal: int,
    u: np.ndarray,
    *,
    max_span: int = 5,
    alpha: int = 6,
    beta: int = 1,
) -> np.ndarray:
    """XLNet `_sample_mask`, batched: word spans, then single tokens up to exactly min(goal, allowed).

    starts, allowed [B, L]; u [B, 2 * span_steps(L) + L] uniforms -> is_target [B, L].
    """
    length = starts.shape[1]
    steps = span_steps(length, alpha, beta)
    goals = np.minimum(goal, allowed.sum(axis=1))  # [B]
    mask, num = sample_spans(
        starts, allowed, goals, u[:, : 2 * steps], max_span=max_span, alpha=alpha, beta=beta
    )
    short = np.flatnonzero(num < goals)  # rows whose spans fell short (few: the sort is only for them)
    if len(short):
        free = allowed[short] & ~mask[short]
        keys = np.where(free, u[short, 2 * steps : 2 * steps + length], 2.0)  # [S, L]: free tokens < 1
        top_up = np.zeros((len(short), length), dtype=bool)  # the (goal - num) smallest-key free tokens
        picked = np.arange(length)[None, :] < (goals - num)[short, None]  # [S, L] in key order
        np.put_along_axis(top_up, np.argsort(keys, axis=1), picked, axis=1)
        mask[short] |= top_up  # top up with random single tokens
    return mask


def permutation_masks(is_target: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """is_target [B, L], uniform keys [B, L] -> perm_mask [B, L, L]: True where i may NOT see j.

    Targets are ranked by their keys (`factorisation_order`); see `masks.perm_mask`.
    """
    return perm_mask(torch.from_numpy(factorisation_order(is_target, keys))).numpy()


def factorisation_order(is_target: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """[B, L] int16 (int32 past 32k): each target's rank 0..P-1 in a random order (by its key), -1 for context."""
    b, length = is_target.shape
    narrow = np.int16 if length < 2**15 else np.int32
    order = np.empty((b, length), dtype=narrow)
    ranks = np.broadcast_to(np.arange(length, dtype=narrow), (b, length))
    np.put_along_axis(order, np.argsort(np.where(is_target, keys, 2.0), axis=1), ranks, axis=1)
    return np.where(is_target, order, narrow(-1))


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
    compact: bool = False,
) -> dict[str, torch.Tensor]:
    """chunks [B, L] -> input_ids [B, L], perm_mask [B, L, L], target_mapping [B, P, L], labels [B, P].

    With `compact`, perm_order [B, L] and target_positions [B, P] (+ segment_ids) replace the two
    masks; `masks.expand` rebuilds them.

    P = round(L*ratio) is fixed so batches stack; unused rows (too few ordinary tokens) are all
    False with label -100.  Word starts: stored (`word_starts`), else derived by `words`, else
    every token is a word.
    """
    tokens = np.asarray(chunks, dtype=np.int64)
    b, length = tokens.shape
    p = num_predict(length, predict_ratio)
    steps = span_steps(length, alpha, beta)
    u = uniforms(rngs, b, 2 * steps + 2 * length)  # [B, spans | top-up keys | order keys]
    if word_starts is not None:
        starts = np.asarray(word_starts, dtype=bool)
    elif words is not None:
        starts = words.starts(tokens)
    else:
        starts = np.ones((b, length), dtype=bool)
    allowed = ~ids.is_special[tokens]  # [B, L]: separators are never predicted
    seg = None
    if doc_attention:
        seg, pos = segments(tokens, ids.eos)
        allowed &= pos > 0  # each document keeps its first token as context

    is_target = sample_targets(
        starts, allowed, p, u[:, : 2 * steps + length], max_span=max_span, alpha=alpha, beta=beta
    )  # [B, L]
    order = factorisation_order(is_target, u[:, 2 * steps + length :])  # [B, L] int16
    narrow = np.int16 if length < 2**15 else np.int32
    rows, cols = np.nonzero(is_target)  # row-major: each row's targets in ascending position
    pos_t = np.zeros((b, p), dtype=np.int64)  # [B, P]: target positions, ascending
    pos_t[rows, (np.cumsum(is_target, axis=1) - 1)[rows, cols]] = cols
    valid = np.arange(p)[None, :] < is_target.sum(axis=1, keepdims=True)  # [B, P]
    labels = np.where(valid, np.take_along_axis(tokens, pos_t, axis=1), -100)
    out = {
        "input_ids": torch.from_numpy(tokens),
        "perm_order": torch.from_numpy(order),
        "target_positions": torch.from_numpy(np.where(valid, pos_t, -1).astype(narrow)),
        "labels": torch.from_numpy(labels),
    }
    if seg is not None:
        out["segment_ids"] = torch.from_numpy(seg.astype(narrow))
    return out if compact else expand(out)
