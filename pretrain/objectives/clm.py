"""Causal LM: packed chunks are already the inputs; HF models shift labels internally."""

from __future__ import annotations

import numpy as np
import torch


def clm_collate(chunks: np.ndarray, rng: np.random.Generator | None = None) -> dict[str, torch.Tensor]:
    """chunks [B, L] -> input_ids, labels (= input_ids), attention_mask, all [B, L]."""
    input_ids = torch.as_tensor(np.asarray(chunks, dtype=np.int64))
    return {"input_ids": input_ids, "labels": input_ids.clone(), "attention_mask": torch.ones_like(input_ids)}
