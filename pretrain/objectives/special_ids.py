"""The project tokenizer's special ids, as every collator needs them."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

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
