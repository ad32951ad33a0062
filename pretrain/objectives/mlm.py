"""Masked LM (BERT/RoBERTa): <cls> chunk <sep>, pad to seq_len, 80/10/10 corruption."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from pretrain.objectives import SpecialIds


def mlm_collate(
    chunks: Sequence[np.ndarray] | np.ndarray,
    rng: np.random.Generator,
    *,
    ids: SpecialIds,
    seq_len: int,
    mlm_probability: float = 0.15,
) -> dict[str, torch.Tensor]:
    """chunks: B rows of <= seq_len-2 tokens -> input_ids, attention_mask, labels, each [B, seq_len].

    Each non-special token is selected with `mlm_probability`; selected tokens become <mask>
    80% of the time, a random ordinary token 10%, and stay unchanged 10%.  Labels hold the
    original id at selected positions and -100 everywhere else.
    """
    b = len(chunks)
    tokens = np.full((b, seq_len), ids.pad, dtype=np.int64)  # [B, S]
    attention = np.zeros((b, seq_len), dtype=np.int64)  # [B, S]
    for i, chunk in enumerate(chunks):
        n = len(chunk)
        if n > seq_len - 2:
            raise ValueError(f"chunk of {n} tokens does not fit seq_len={seq_len} with <cls>/<sep>")
        tokens[i, 0], tokens[i, 1 : n + 1], tokens[i, n + 1] = ids.cls, chunk, ids.sep
        attention[i, : n + 2] = 1

    candidates = ~np.isin(tokens, ids.special)  # [B, S]: pad/cls/sep/eos/... never selected
    selected = candidates & (rng.random(tokens.shape) < mlm_probability)
    labels = np.where(selected, tokens, -100)
    action = rng.random(tokens.shape)  # one draw decides mask / random / keep
    to_mask = selected & (action < 0.8)
    to_random = selected & (action >= 0.8) & (action < 0.9)
    inputs = tokens.copy()
    inputs[to_mask] = ids.mask
    inputs[to_random] = rng.choice(ids.ordinary, size=int(to_random.sum()))
    return {
        "input_ids": torch.from_numpy(inputs),
        "attention_mask": torch.from_numpy(attention),
        "labels": torch.from_numpy(labels),
    }
