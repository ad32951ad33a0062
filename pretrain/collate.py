"""A run's collator: its objective with the run's hyper-parameters bound (config -> objectives)."""

from __future__ import annotations

from functools import partial

from pretrain.config import RunConfig
from pretrain.data.stream import Collate
from pretrain.objectives import (
    SpecialIds,
    WordTable,
    clm_collate,
    compute_input_and_target_lengths,
    mlm_collate,
    plm_collate,
    span_collate,
)


def chunk_length(run: RunConfig) -> int:
    """Raw stream tokens per example: mlm adds <cls>/<sep>, span eats more than it emits."""
    if run.objective == "mlm":
        return run.seq_len - 2
    if run.objective == "span":
        return compute_input_and_target_lengths(run.seq_len, run.noise_density, run.mean_span_length)[0]
    return run.seq_len


def uses_words(run: RunConfig) -> bool:
    """Objectives that work on words: whole-word MLM and XLNet's word spans."""
    return (run.objective == "mlm" and run.whole_word_mask) or run.objective == "plm"


def make_collate(
    run: RunConfig, ids: SpecialIds, words: WordTable | None = None, *, compact: bool = False
) -> Collate:
    """The objective's collator with this run's hyper-parameters bound (picklable for workers).

    `words` derives word starts from token ids when the shards store none (see `words.py`);
    `compact` ships O(L) mask keys that `masks.expand` turns into [L, L] masks on the device.
    """
    if run.objective == "clm":
        return partial(clm_collate, eos_id=ids.eos, doc_attention=run.doc_attention)
    if run.objective == "mlm":
        return partial(
            mlm_collate,
            ids=ids,
            seq_len=run.seq_len,
            mlm_probability=run.mlm_probability,
            whole_word=run.whole_word_mask,
            words=words,
            doc_attention=run.doc_attention,
            position_offset=ids.pad + 1 if run.model.arch == "roberta" else 0,  # RoBERTa counts from pad+1
            compact=compact,
        )
    if run.objective == "span":
        return partial(
            span_collate,
            ids=ids,
            noise_density=run.noise_density,
            mean_noise_span_length=run.mean_span_length,
        )
    return partial(
        plm_collate,
        ids=ids,
        words=words,
        max_span=run.plm_max_span,
        predict_ratio=run.plm_predict_ratio,
        alpha=run.plm_mask_alpha,
        beta=run.plm_mask_beta,
        doc_attention=run.doc_attention,
        compact=compact,
    )
