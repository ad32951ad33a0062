"""Tokenizer training configuration; frozen so a config can be hashed and recorded verbatim."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tokenization.special_tokens import MIN_VOCAB_SIZE


class TokenizerConfig(BaseModel):
    """How to train a tokenizer. `vocab_size` is the TOTAL size, specials and sentinels included."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Only byte-level BPE today; "char" / "wordpiece" can join this Literal later.
    kind: Literal["bpe"] = "bpe"
    # >= 7 specials + 256 bytes + 100 sentinels, otherwise the layout cannot fit.
    vocab_size: int = Field(default=8000, ge=MIN_VOCAB_SIZE)
    min_frequency: int = Field(default=2, ge=1)
    text_field: str = Field(default="text", min_length=1)
    max_docs: int | None = Field(default=None, ge=1)
    # BPE training is deterministic; the seed is recorded for future sampled-training kinds.
    seed: int = 0
