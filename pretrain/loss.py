"""Token-level loss: SUM of per-token cross-entropies, divided later by the GLOBAL number of targets.

A step's loss is  sum over ranks, micro-batches and target tokens of CE  /  number of those
targets  — every target token weighs the same, however the tokens fall on ranks and
micro-batches (a mean of per-rank means would over-weight ranks with few MLM targets).  The
trainer counts targets on the host before the forward pass, sums the count over ranks, and
back-propagates  loss_sum * world / global_count  (DDP and FSDP average gradients over ranks).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def targets(labels: torch.Tensor, causal: bool) -> torch.Tensor:
    """Labels that carry a loss: [B, L-1] shifted for causal LMs (HF convention), as given otherwise."""
    return labels[:, 1:] if causal else labels


def target_count(labels: torch.Tensor, causal: bool) -> int:
    return int((targets(labels, causal) != -100).sum())


def loss_sum(logits: torch.Tensor, labels: torch.Tensor, causal: bool) -> torch.Tensor:
    """Sum of fp32 cross-entropies over targets (-100 ignored).  logits [B, L, V], labels [B, L]."""
    if causal:
        logits = logits[:, :-1]
    y = targets(labels, causal)
    return F.cross_entropy(
        logits.reshape(-1, logits.size(-1)).float(), y.reshape(-1), ignore_index=-100, reduction="sum"
    )
