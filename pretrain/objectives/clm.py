"""Causal LM over packed chunks, document-aware by default.

With `doc_attention` (the default) every document restarts its `position_ids` at 0 after the EOS
that ends the previous one, there is no `attention_mask`, and the first token of each document
gets label -100 (nothing before it in its own document predicts it).  transformers (5.x) reads
position resets without a 2D mask as packed sequences: `masking_utils.find_packed_sequence_indices`
turns them into a block-diagonal causal mask for sdpa / eager / flex attention, and the
flash-attention paths run varlen kernels from the same `position_ids` (what
`DataCollatorWithFlattening` produces).  GPT-2 (absolute positions) and Llama (RoPE) both take
`position_ids`; the trainer passes `use_cache=False`, without which the packing is not detected.
The loss of a packed chunk then equals the loss of its documents run one by one.
"""

from __future__ import annotations

import numpy as np
import torch

from pretrain.objectives.packing import segments
from pretrain.objectives.rng import Rngs


def clm_collate(
    chunks: np.ndarray,
    rngs: Rngs | None = None,
    word_starts: np.ndarray | None = None,
    *,
    eos_id: int = 2,
    doc_attention: bool = True,
) -> dict[str, torch.Tensor]:
    """chunks [B, L] -> input_ids, labels, and position_ids (doc-aware) or attention_mask, all [B, L].

    Labels are the inputs (HF models shift them); no randomness is used.
    """
    tokens = np.asarray(chunks, dtype=np.int64)
    input_ids = torch.from_numpy(tokens)
    if not doc_attention:
        return {
            "input_ids": input_ids,
            "labels": input_ids.clone(),
            "attention_mask": torch.ones_like(input_ids),
        }
    _, pos = segments(tokens, eos_id)
    labels = np.where(pos == 0, -100, tokens)  # a document's first token has no context to predict it from
    return {
        "input_ids": input_ids,
        "labels": torch.from_numpy(labels),
        "position_ids": torch.from_numpy(np.ascontiguousarray(pos)),
    }
