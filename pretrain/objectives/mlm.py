"""Masked LM (BERT/RoBERTa): <cls> chunk <sep>, 15 % selected, 80/10/10, whole words, doc-aware.

Selection is a Bernoulli(p) draw per non-special token, or — with `whole_word` — per word, all of
a selected word's tokens being predicted (Chinese-BERT-wwm; words from stored jieba boundaries or
`words.WordTable`).  Either way a token is selected with probability p, so the masking rate is p.
Each selected token is then replaced by <mask> 80 %, by a random ordinary token 10 %, or kept
10 % (decided per token, as BERT's create_pretraining_data.py does also for whole words).
Masks are redrawn every time an example is built: the stream keys each row's Generator by
(seed, global example index), and that index never repeats — dynamic masking (RoBERTa).

With `doc_attention` the packed documents do not see each other: the attention mask is a
block-diagonal [B, 1, S, S] boolean (True = attend; transformers passes a 4D mask through to
SDPA untouched) and `position_ids` restart at every document (+ `position_offset`, which is
pad_id + 1 for RoBERTa, whose positions start there).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from pretrain.objectives.masks import expand
from pretrain.objectives.packing import segments
from pretrain.objectives.rng import Rngs, uniforms

if TYPE_CHECKING:
    from pretrain.objectives.special_ids import SpecialIds
    from pretrain.objectives.word_table import WordTable


def _frame(
    chunks: Sequence[np.ndarray] | np.ndarray, ids: SpecialIds, seq_len: int
) -> tuple[np.ndarray, np.ndarray]:
    """<cls> chunk <sep> <pad>... -> tokens [B, S], attention [B, S]."""
    b = len(chunks)
    tokens = np.full((b, seq_len), ids.pad, dtype=np.int64)  # [B, S]
    attention = np.zeros((b, seq_len), dtype=np.int64)  # [B, S]
    if isinstance(chunks, np.ndarray) and chunks.ndim == 2:  # equal lengths: no Python loop
        n = chunks.shape[1]
        if n > seq_len - 2:
            raise ValueError(f"chunk of {n} tokens does not fit seq_len={seq_len} with <cls>/<sep>")
        tokens[:, 0], tokens[:, 1 : n + 1], tokens[:, n + 1] = ids.cls, chunks, ids.sep
        attention[:, : n + 2] = 1
        return tokens, attention
    for i, chunk in enumerate(chunks):
        n = len(chunk)
        if n > seq_len - 2:
            raise ValueError(f"chunk of {n} tokens does not fit seq_len={seq_len} with <cls>/<sep>")
        tokens[i, 0], tokens[i, 1 : n + 1], tokens[i, n + 1] = ids.cls, chunk, ids.sep
        attention[i, : n + 2] = 1
    return tokens, attention


def _framed_starts(word_starts: np.ndarray | None, tokens: np.ndarray, words: WordTable | None) -> np.ndarray:
    """Word starts aligned with the framed tokens: stored ones shifted past <cls>, else derived."""
    if word_starts is not None:
        starts = np.ones(tokens.shape, dtype=bool)  # cls, sep, pads: words of their own
        n = word_starts.shape[1]
        starts[:, 1 : n + 1] = word_starts
        return starts
    if words is None:
        raise ValueError("whole-word masking needs stored word_starts or a WordTable")
    return words.starts(tokens)


def mlm_collate(
    chunks: Sequence[np.ndarray] | np.ndarray,
    rngs: Rngs | None = None,
    word_starts: np.ndarray | None = None,
    *,
    ids: SpecialIds,
    seq_len: int,
    mlm_probability: float = 0.15,
    whole_word: bool = False,
    words: WordTable | None = None,
    doc_attention: bool = False,
    position_offset: int = 0,
    compact: bool = False,
) -> dict[str, torch.Tensor]:
    """chunks: B rows of <= seq_len-2 tokens -> input_ids, labels [B, S], attention_mask, (position_ids).

    Labels hold the original id at selected positions and -100 everywhere else.  With
    doc_attention and `compact`, `segment_ids` [B, S] replaces the [B, 1, S, S] mask (`masks.expand`).
    """
    tokens, attention = _frame(chunks, ids, seq_len)
    b, s = tokens.shape
    u = uniforms(rngs, b, 3 * s).reshape(b, 3, s)  # [B, 3, S]: select, action, random id
    select, action, pick = u[:, 0], u[:, 1], u[:, 2]

    candidates = ~ids.is_special[tokens]  # [B, S]: pad/cls/sep/eos/... never selected
    if whole_word:
        starts = _framed_starts(word_starts, tokens, words)
        idx = np.broadcast_to(np.arange(s), (b, s))
        first = np.maximum.accumulate(np.where(starts, idx, 0), axis=1)  # [B, S]: first token of my word
        select = np.take_along_axis(select, first, axis=1)  # one draw per word
    selected = candidates & (select < mlm_probability)
    labels = np.where(selected, tokens, -100)

    random_ids = ids.ordinary[(pick * len(ids.ordinary)).astype(np.int64)]  # [B, S]
    inputs = np.where(selected & (action < 0.8), ids.mask, tokens)
    inputs = np.where(selected & (action >= 0.8) & (action < 0.9), random_ids, inputs)
    out = {"input_ids": torch.from_numpy(inputs), "labels": torch.from_numpy(labels)}
    if not doc_attention:
        out["attention_mask"] = torch.from_numpy(attention)
        return out
    seg, pos = segments(tokens, ids.eos)
    narrow = np.int16 if s < 2**15 else np.int32
    out["segment_ids"] = torch.from_numpy(np.where(attention == 1, seg, -1).astype(narrow))  # -1: padding
    out["position_ids"] = torch.from_numpy(np.ascontiguousarray(pos + position_offset))
    return out if compact else expand(out)
