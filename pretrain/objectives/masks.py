"""Dense [L, L] masks rebuilt from O(L) keys where the batch lands (on the GPU in training).

MLM's block-diagonal document mask and XLNet's perm_mask hold L² booleans per example (256 KB
at L = 512): 512 bytes per token through the DataLoader's shared memory and the host -> device
copy, far more than the tokens, and the [L, L] compares dominated collation.  So collators built
with `compact=True` (the trainer's) emit the keys instead and `expand` turns them into the
model's arguments with one broadcast compare on the device:

    segment_ids      [B, L] int16  document of each token inside the packed chunk; -1 = padding
    perm_order       [B, L] int16  XLNet factorisation rank of each target; -1 = context
    target_positions [B, P] int16  position of each prediction target; -1 = unused slot

With `compact=False` (the default) collators call `expand` themselves, so both forms come from
this one definition of the masks.
"""

from __future__ import annotations

import torch

COMPACT_KEYS = ("segment_ids", "perm_order", "target_positions")


def block_mask(seg: torch.Tensor) -> torch.Tensor:
    """segment ids [B, L] -> bidirectional block-diagonal mask [B, 1, L, L] (True = may attend).

    Padding (-1) is never attended to; every token still sees itself, so no row is empty (an
    all-masked row makes SDPA return NaN, which then leaks through the zero-weight values).
    """
    same = (seg[:, :, None] == seg[:, None, :]) & (seg[:, None, :] >= 0)
    same |= torch.eye(seg.shape[1], dtype=torch.bool, device=seg.device)
    return same[:, None]


def perm_mask(order: torch.Tensor, seg: torch.Tensor | None = None) -> torch.Tensor:
    """XLNet ranks [B, L] -> perm_mask [B, L, L]: True where query i may NOT see key j.

    Context (-1) is seen by every query and sees only context; target j is hidden from i unless
    it comes strictly earlier in the order (never itself).  One compare: keys rank context at
    -2, queries at -1.  With segment ids, other documents are hidden too.
    """
    target = order >= 0
    key = torch.where(target, order, torch.full_like(order, -2))
    query = torch.where(target, order, torch.full_like(order, -1))
    hidden = key[:, None, :] >= query[:, :, None]
    if seg is not None:
        hidden |= seg[:, :, None] != seg[:, None, :]
    return hidden


def target_mapping(positions: torch.Tensor, length: int) -> torch.Tensor:
    """Target positions [B, P] (-1 = unused) -> one-hot target_mapping [B, P, L] bool."""
    b, p = positions.shape
    mapping = torch.zeros(b, p, length, dtype=torch.bool, device=positions.device)
    valid = positions >= 0
    mapping.scatter_(2, positions.clamp(min=0).long()[:, :, None], valid[:, :, None])
    return mapping


def expand(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Replace compact keys by the dense masks the transformers models take (other keys as they are)."""
    if not any(k in batch for k in COMPACT_KEYS):
        return batch
    out = dict(batch)
    seg = out.pop("segment_ids", None)
    if "perm_order" in out:  # XLNet
        order = out.pop("perm_order")
        out["perm_mask"] = perm_mask(order, seg)
        out["target_mapping"] = target_mapping(out.pop("target_positions"), order.shape[1])
    elif seg is not None:  # MLM over packed documents
        out["attention_mask"] = block_mask(seg)
    return out
