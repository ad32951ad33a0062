"""Tokenizer training configuration; frozen so a config can be hashed and recorded verbatim."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tokenization.special_tokens import MIN_VOCAB_SIZE

Kind = Literal["bpe", "char", "wordpiece"]


class TokenizerConfig(BaseModel):
    """How to train a tokenizer. `vocab_size` is the TOTAL size, specials and sentinels included.

    Kinds: `bpe` byte-level BPE (exact round trip, never <unk>; the default for causal LMs), `char`
    (Chinese-BERT convention: every CJK character is its own token, WordPiece for other scripts,
    [UNK] for characters seen fewer than `min_frequency` times), `wordpiece` (BERT WordPiece for MLM
    models: BERT normalisation, CJK characters split apart as in BERT's `handle_chinese_chars`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Kind = "bpe"
    # >= 7 specials + 256 bytes + 100 sentinels, otherwise the layout cannot fit.
    vocab_size: int = Field(default=8000, ge=MIN_VOCAB_SIZE)
    # bpe/wordpiece: minimum pair count for a merge; char: minimum count for a CJK character.
    min_frequency: int = Field(default=2, ge=1)
    text_field: str = Field(default="text", min_length=1)
    max_docs: int | None = Field(default=None, ge=1)
    # Seeds the mixture-weighted training sample (training itself is deterministic).
    seed: int = 0
    # Every Nth input document is held out of training and used for the report (None: no report).
    holdout_every: int | None = Field(default=50, ge=2)
    # Mixture-weighted sample size in UTF-8 bytes (None: as large as the corpus).
    sample_bytes: int | None = Field(default=None, gt=0)

    # ---- bpe only
    # Pre-split every CJK ideograph into its own pre-token, so merges never join two Han characters.
    split_cjk_chars: bool = False
    # Longest token, in byte-level symbols (a Han character is 3); None = unlimited.
    max_token_length: int | None = Field(default=None, ge=2)

    # ---- char / wordpiece only
    lowercase: bool = True  # BERT uncased convention (bert-base-chinese lower-cases too)
    # wordpiece: most frequent characters kept in the initial alphabet (BERT's default is 1000,
    # too few for Chinese); char ignores it (its CJK characters are chosen by `min_frequency`).
    limit_alphabet: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _kind_options(self) -> TokenizerConfig:
        if self.kind != "bpe" and (self.split_cjk_chars or self.max_token_length is not None):
            raise ValueError(
                f"split_cjk_chars / max_token_length apply to kind 'bpe' only, not {self.kind!r}"
            )
        if self.kind == "bpe" and self.limit_alphabet is not None:
            raise ValueError("limit_alphabet applies to kind 'wordpiece' only")
        return self
