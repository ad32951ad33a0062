"""T5 span corruption, ported from t5.data.preprocessors (random_spans_noise_mask & friends).

A raw chunk of `compute_input_and_target_lengths(L)[0]` tokens gives inputs of exactly L tokens
and targets of a fixed length, so batches stack without padding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from pretrain.objectives import SpecialIds


def _span_counts(length: int, noise_density: float, mean_noise_span_length: float) -> tuple[int, int]:
    """(noise tokens, noise spans) for a chunk of `length`, never degenerate."""
    num_noise = int(np.round(length * noise_density))
    num_noise = min(max(num_noise, 1), length - 1)
    num_spans = int(np.round(min(num_noise, length - num_noise) / mean_noise_span_length))
    return num_noise, max(num_spans, 1)


def compute_input_and_target_lengths(
    inputs_length: int, noise_density: float, mean_noise_span_length: float
) -> tuple[int, int]:
    """(raw tokens to read, targets length) so that span corruption yields exactly `inputs_length`.

    For 512, 0.15, 3.0 this is (568, 114): 568 raw tokens -> 483 kept + 28 sentinels + EOS = 512.
    """

    def lengths(tokens_length: int) -> tuple[int, int]:
        num_noise = int(round(tokens_length * noise_density))
        num_spans = int(round(num_noise / mean_noise_span_length))
        # inputs: kept tokens + one sentinel per span + EOS; targets: noise + sentinels + EOS
        return tokens_length - num_noise + num_spans + 1, num_noise + num_spans + 1

    tokens_length = inputs_length
    while lengths(tokens_length + 1)[0] <= inputs_length:
        tokens_length += 1
    _, targets_length = lengths(tokens_length)
    if noise_density == 0.5 and targets_length > inputs_length:  # T5's hack: keep targets <= inputs
        tokens_length -= 1
        targets_length -= 1
    return tokens_length, targets_length


def random_spans_noise_mask(
    length: int, noise_density: float, mean_noise_span_length: float, rng: np.random.Generator
) -> np.ndarray:
    """Boolean [length] mask with round(length*density) noise tokens in alternating random spans.

    The sequence always starts with a non-noise span, as in T5.
    """
    num_noise, num_spans = _span_counts(length, noise_density, mean_noise_span_length)

    def random_segmentation(num_items: int, num_segments: int) -> np.ndarray:
        # num_segments positive lengths summing to num_items, uniformly over compositions
        first_in_segment = np.arange(num_items - 1) < num_segments - 1
        rng.shuffle(first_in_segment)
        segment_id = np.cumsum(np.pad(first_in_segment, [1, 0]))
        return np.bincount(segment_id)

    noise_lengths = random_segmentation(num_noise, num_spans)
    keep_lengths = random_segmentation(length - num_noise, num_spans)
    interleaved = np.stack([keep_lengths, noise_lengths], axis=1).reshape(-1)  # keep, noise, keep, ...
    span_start = np.zeros(length, dtype=np.int64)
    span_start[np.cumsum(interleaved)[:-1]] = 1
    return np.cumsum(span_start) % 2 == 1


def _fill_sentinels(tokens: np.ndarray, noise: np.ndarray, ids: SpecialIds, eos: int) -> np.ndarray:
    """Replace each noise span by one sentinel (counting down from vocab_size-1), drop the rest, add EOS."""
    span_first = noise & ~np.pad(noise, [1, 0])[:-1]
    sentinel = np.cumsum(span_first) - 1  # span number of each noise token
    out = np.where(span_first, ids.vocab_size - 1 - sentinel, tokens)
    out = out[~noise | span_first]
    return np.append(out, eos)


def span_collate(
    chunks: np.ndarray,
    rng: np.random.Generator,
    *,
    ids: SpecialIds,
    noise_density: float = 0.15,
    mean_noise_span_length: float = 3.0,
) -> dict[str, torch.Tensor]:
    """chunks [B, R] -> input_ids/attention_mask [B, L], labels [B, T] (lengths fixed by R)."""
    inputs, targets = [], []
    for chunk in np.asarray(chunks, dtype=np.int64):
        noise = random_spans_noise_mask(len(chunk), noise_density, mean_noise_span_length, rng)
        inputs.append(_fill_sentinels(chunk, noise, ids, ids.eos))  # kept tokens, <extra_id_i> per span
        targets.append(_fill_sentinels(chunk, ~noise, ids, ids.eos))  # <extra_id_i> + span tokens
    input_ids = torch.from_numpy(np.stack(inputs))
    return {
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "labels": torch.from_numpy(np.stack(targets)),
    }
