"""A run's collator: its objective with the run's hyper-parameters bound (config -> objectives)."""

from __future__ import annotations

from functools import partial
from typing import Literal

import torch.distributed as dist

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
from pretrain.objectives.mlm import ERNIE_STAGES, UnitSchedule


def chunk_length(run: RunConfig) -> int:
    """Raw stream tokens per example: mlm adds <cls>/<sep>, span eats more than it emits."""
    if run.objective == "mlm":
        return run.seq_len - 2
    if run.objective == "span":
        return compute_input_and_target_lengths(run.seq_len, run.noise_density, run.mean_span_length)[0]
    return run.seq_len


def uses_words(run: RunConfig) -> bool | Literal["units"]:
    """What a run reads of the stored word boundaries (`PretrainStream(word_starts=...)`): "units"
    (word, phrase and entity unit codes) for MLM knowledge masking, True (word starts) for
    whole-word MLM and XLNet's word spans, else False."""
    if run.objective == "mlm" and run.mask_unit in ("phrase", "entity", "ernie"):
        return "units"
    return (run.objective == "mlm" and run.mask_unit == "word") or run.objective == "plm"


def mask_units(run: RunConfig, data_parallel: int | None = None) -> str | UnitSchedule:
    """The MLM collator's `mask_unit`: the run's, or ERNIE 1.0's stages at thirds of its steps.

    Stages are keyed by global example index: step k uses examples [k, k + 1) x batch_size x
    grad_accum x data-parallel ranks.  `data_parallel` defaults to the initialised process
    group's world / (tensor_parallel x pipeline_parallel), else 1."""
    if run.mask_unit != "ernie":
        return run.mask_unit
    if data_parallel is None:
        world = dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1
        data_parallel = max(1, world // (run.tensor_parallel * run.pipeline_parallel))
    per_step = run.batch_size * run.grad_accum * data_parallel
    return UnitSchedule.over_run(ERNIE_STAGES, run.steps, per_step)


def make_collate(
    run: RunConfig,
    ids: SpecialIds,
    words: WordTable | None = None,
    *,
    compact: bool = False,
    data_parallel: int | None = None,
) -> Collate:
    """The objective's collator with this run's hyper-parameters bound (picklable for workers).

    `words` derives word starts from token ids when the shards store none (see `word_table.py`);
    `compact` ships O(L) mask keys that `masks.expand` turns into [L, L] masks on the device;
    `data_parallel` places the stages of `mask_unit: ernie` (`mask_units`).
    """
    if run.objective == "clm":
        return partial(clm_collate, eos_id=ids.eos, doc_attention=run.doc_attention)
    if run.objective == "mlm":
        return partial(
            mlm_collate,
            ids=ids,
            seq_len=run.seq_len,
            mlm_probability=run.mlm_probability,
            mask_unit=mask_units(run, data_parallel),
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
