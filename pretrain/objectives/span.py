"""T5 span corruption, ported from t5.data.preprocessors (random_spans_noise_mask & friends).

A raw chunk of `compute_input_and_target_lengths(L)[0]` tokens gives inputs of exactly L tokens
and targets of a fixed length, so batches stack without padding.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from pretrain.objectives.rng import Rngs, uniforms

if TYPE_CHECKING:
    from pretrain.objectives.special_ids import SpecialIds


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


def _random_segmentation(keys: np.ndarray, num_segments: int) -> np.ndarray:
    """keys [B, n-1] uniform -> [B, num_segments] positive lengths summing to n, uniform over compositions.

    The segment boundaries are the num_segments-1 gaps with the smallest keys: a uniformly random
    subset, exactly what T5's shuffle of `first_in_segment` draws.
    """
    b, gaps = keys.shape
    n = gaps + 1
    if num_segments == 1:
        return np.full((b, 1), n, dtype=np.int64)
    cut = np.sort(np.argpartition(keys, num_segments - 2, axis=1)[:, : num_segments - 1], axis=1) + 1
    edges = np.concatenate([np.zeros((b, 1), np.int64), cut, np.full((b, 1), n, np.int64)], axis=1)
    return np.diff(edges, axis=1)


def random_spans_noise_masks(
    length: int, noise_density: float, mean_noise_span_length: float, rngs: Rngs, b: int | None = None
) -> np.ndarray:
    """Boolean [B, length] masks, each with round(length*density) noise tokens in alternating random spans.

    Every row starts with a non-noise span and ends with a noise span, as in T5.
    """
    num_noise, num_spans = _span_counts(length, noise_density, mean_noise_span_length)
    b = len(rngs) if b is None else b
    keys = uniforms(rngs, b, length - 2)  # [B, L-2]
    noise_lengths = _random_segmentation(keys[:, : num_noise - 1], num_spans)  # [B, spans]
    keep_lengths = _random_segmentation(keys[:, num_noise - 1 :], num_spans)  # [B, spans]
    interleaved = np.stack([keep_lengths, noise_lengths], axis=2).reshape(b, -1)  # keep, noise, keep, ...
    span_start = np.zeros((b, length), dtype=np.int64)
    np.put_along_axis(span_start, np.cumsum(interleaved, axis=1)[:, :-1], 1, axis=1)
    return np.cumsum(span_start, axis=1) % 2 == 1


def random_spans_noise_mask(
    length: int, noise_density: float, mean_noise_span_length: float, rng: np.random.Generator
) -> np.ndarray:
    """One row of `random_spans_noise_masks`."""
    return random_spans_noise_masks(length, noise_density, mean_noise_span_length, [rng])[0]


def _fill_sentinels(tokens: np.ndarray, noise: np.ndarray, ids: SpecialIds) -> np.ndarray:
    """[B, R] -> [B, kept]: each noise span becomes one sentinel (counting down from vocab_size-1), then EOS.

    Every row has the same number of noise tokens and spans, so the kept tokens reshape to a matrix.
    """
    span_first = noise.copy()
    span_first[:, 1:] &= ~noise[:, :-1]
    sentinel = np.cumsum(span_first, axis=1) - 1  # span number of each noise token
    out = np.where(span_first, ids.vocab_size - 1 - sentinel, tokens)
    out = out[~noise | span_first].reshape(len(tokens), -1)
    return np.concatenate([out, np.full((len(tokens), 1), ids.eos, dtype=np.int64)], axis=1)


def span_collate(
    chunks: np.ndarray,
    rngs: Rngs | None = None,
    word_starts: np.ndarray | None = None,
    *,
    ids: SpecialIds,
    noise_density: float = 0.15,
    mean_noise_span_length: float = 3.0,
) -> dict[str, torch.Tensor]:
    """chunks [B, R] -> input_ids/attention_mask [B, L], labels/decoder_input_ids [B, T] (fixed by R).

    Documents are not isolated: T5's own span_corruption concatenates documents
    (`reduce_concat_tokens`) before splitting and noising, and its relative position buckets
    need no resets.  `decoder_input_ids` are the labels shifted right behind <pad>, as T5 does.
    """
    chunks = np.asarray(chunks, dtype=np.int64)
    b, r = chunks.shape
    noise = random_spans_noise_masks(r, noise_density, mean_noise_span_length, rngs, b)
    inputs = _fill_sentinels(chunks, noise, ids)  # kept tokens, <extra_id_i> per span
    targets = _fill_sentinels(chunks, ~noise, ids)  # <extra_id_i> + span tokens
    decoder_inputs = np.concatenate([np.full((b, 1), ids.pad, dtype=np.int64), targets[:, :-1]], axis=1)
    input_ids = torch.from_numpy(inputs)
    return {
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "labels": torch.from_numpy(targets),
        "decoder_input_ids": torch.from_numpy(decoder_inputs),
    }
