"""Packed documents: where each document starts inside a chunk, and the masks that keep them apart.

The stream joins documents with EOS and cuts the result into fixed chunks, so a chunk holds the
tail of one document, whole documents, and the head of another.  Document-aware training needs
two things per token: its document (segment) inside the chunk and its position inside that
document (the masks built from segments are in `masks.py`).  A segment ends with its EOS; the chunk's first token starts segment 0 at position 0.
"""

from __future__ import annotations

import numpy as np


def segments(tokens: np.ndarray, eos_id: int) -> tuple[np.ndarray, np.ndarray]:
    """tokens [B, L] -> (segment id [B, L], position in segment [B, L]); a new segment follows each EOS."""
    b, length = tokens.shape
    starts = np.zeros((b, length), dtype=bool)
    starts[:, 0] = True
    starts[:, 1:] = tokens[:, :-1] == eos_id
    seg = np.cumsum(starts, axis=1) - 1
    idx = np.broadcast_to(np.arange(length), (b, length))
    first = np.maximum.accumulate(np.where(starts, idx, 0), axis=1)  # index of the segment's first token
    return seg, idx - first
