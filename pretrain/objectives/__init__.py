"""Pure collators: raw token chunks [B, C] (+ one numpy Generator per row) -> dict of tensors for the model.

`chunk_length` says how many raw stream tokens one example of an objective eats; `make_collate`
binds a run's hyper-parameters so the data stream can call `collate(chunks, rngs, word_starts=...)`.
Labels use -100 for "no loss" everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any

import numpy as np

from pretrain.objectives.clm import clm_collate
from pretrain.objectives.masks import expand
from pretrain.objectives.mlm import mlm_collate
from pretrain.objectives.plm import plm_collate
from pretrain.objectives.span import compute_input_and_target_lengths, span_collate
from pretrain.objectives.words import WordTable

if TYPE_CHECKING:
    from pretrain.config import RunConfig
    from pretrain.data.stream import Collate

NUM_SENTINELS = 100


@dataclass(frozen=True)
class SpecialIds:
    """Fixed special ids of the project tokenizer; sentinel i is vocab_size-1-i (T5 convention)."""

    vocab_size: int
    pad: int = 0
    bos: int = 1
    eos: int = 2
    unk: int = 3
    mask: int = 4
    cls: int = 5
    sep: int = 6
    num_sentinels: int = NUM_SENTINELS
    extra: tuple[int, ...] = ()  # any other special ids the tokenizer declares (e.g. <reserved_k>)

    def sentinel(self, i: int) -> int:
        return self.vocab_size - 1 - i

    @cached_property
    def special(self) -> np.ndarray:
        """Every id that must never be masked, predicted or sampled as a random token."""
        named = [self.pad, self.bos, self.eos, self.unk, self.mask, self.cls, self.sep, *self.extra]
        sentinels = range(self.vocab_size - self.num_sentinels, self.vocab_size)
        return np.unique(np.array([*named, *sentinels], dtype=np.int64))

    @cached_property
    def is_special(self) -> np.ndarray:
        """[vocab_size] bool lookup table of `special` (one gather per batch instead of np.isin)."""
        table = np.zeros(self.vocab_size, dtype=bool)
        table[self.special[self.special < self.vocab_size]] = True
        return table

    @cached_property
    def ordinary(self) -> np.ndarray:
        """Ids that are plain text pieces (candidates for MLM's random replacement)."""
        return np.setdiff1d(np.arange(self.vocab_size, dtype=np.int64), self.special)


def special_ids(tokenizer: Any) -> SpecialIds:
    """Read the special ids from a loaded tokenizer and check they match the project contract."""
    ids = SpecialIds(
        vocab_size=len(tokenizer),
        pad=tokenizer.pad_token_id,
        bos=tokenizer.bos_token_id,
        eos=tokenizer.eos_token_id,
        unk=tokenizer.unk_token_id,
        mask=tokenizer.mask_token_id,
        cls=tokenizer.cls_token_id,
        sep=tokenizer.sep_token_id,
        extra=tuple(
            sorted(
                set(tokenizer.all_special_ids)
                | {i for i, t in tokenizer.added_tokens_decoder.items() if getattr(t, "special", False)}
            )
        ),
    )
    first = tokenizer.convert_tokens_to_ids("<extra_id_0>")
    if first != ids.sentinel(0):
        raise ValueError(f"<extra_id_0> has id {first}, expected vocab_size-1 = {ids.sentinel(0)}")
    return ids


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


__all__ = [
    "SpecialIds",
    "WordTable",
    "chunk_length",
    "clm_collate",
    "expand",
    "make_collate",
    "mlm_collate",
    "plm_collate",
    "span_collate",
    "special_ids",
    "uses_words",
]
