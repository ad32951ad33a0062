"""Pure collators: raw token chunks [B, C] (+ one numpy Generator per row) -> dict of tensors for the model.

`chunk_length` says how many raw stream tokens one example of an objective eats; `pretrain.collate`
binds a run's hyper-parameters so the data stream can call `collate(chunks, rngs, word_starts=...)`.
Labels use -100 for "no loss" everywhere.
"""

from __future__ import annotations

from pretrain.objectives.clm import clm_collate
from pretrain.objectives.masks import expand
from pretrain.objectives.mlm import mlm_collate
from pretrain.objectives.plm import plm_collate
from pretrain.objectives.span import compute_input_and_target_lengths, span_collate
from pretrain.objectives.special_ids import NUM_SENTINELS, SpecialIds, special_ids
from pretrain.objectives.word_table import WordTable

__all__ = [
    "NUM_SENTINELS",
    "SpecialIds",
    "WordTable",
    "clm_collate",
    "compute_input_and_target_lengths",
    "expand",
    "mlm_collate",
    "plm_collate",
    "span_collate",
    "special_ids",
]
