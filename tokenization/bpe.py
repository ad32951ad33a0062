"""Byte-level BPE: the pre-tokeniser that decides which merges can exist, and the trainer.

Byte-level BPE never emits <unk> and decodes back to the exact input bytes (no normaliser), which
matters for a Chinese-first corpus full of full-width punctuation, emoji and mixed scripts.

The split pattern starts from GPT-4 / Llama-3's (contractions, letter runs with one leading
non-letter, 1-3 digit groups, punctuation runs) and changes what measurably wasted tokens on the
dev crawl (bench/tokenizer_bench.py, side by side with SentencePiece at 32k):
  * a whitespace run of any kind — several spaces, a line break plus indentation — is the prefix
    of the word, Han run, number or punctuation after it, as a single space is in GPT-2.  That
    is SentencePiece's "▁" made lossless: SentencePiece collapses whitespace runs (nmt_nfkc) and
    so never spends a token on them; splitting them off cost Llama-3's pattern about 5% more
    tokens on our English and 3% on Chinese (web tables, indented docs, "|  |").  BPE still
    learns the run and the word separately, so a rare combination costs no more than before;
  * a Han run may carry punctuation inside it ("，我们", "。然后"): Chinese has no spaces, so
    punctuation is where its words meet, and merges across it are frequent, cheap wins.
The pattern compresses better than SentencePiece BPE on our zh and en text and trains a little
slower than a GPT-2-style call (figures, and the reverted variant that cut Han runs at
punctuation: bench/results/2026-12-07-measurements-moved-from-code.md).
`split_cjk_chars` instead isolates every CJK character (no merges between Han characters).
"""

from __future__ import annotations

from tokenization import special_tokens as st
from tokenization.cjk import ONIG_CLASS
from tokenization.config import TokenizerConfig

# The Llama-3 / GPT-4 pattern, kept for reference and for `pattern="llama3"` comparisons.
LLAMA3_SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
_HAN_WITH_PUNCT = r"\s*[^\s\p{L}\p{N}]?[\p{Han}\p{P}]*\p{Han}[\p{Han}\p{P}]*"
_REST = r"|\s*\p{N}{1,3}|\s*[^\s\p{L}\p{N}]+[\r\n]*|\s+"
SPLIT_PATTERN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|" + _HAN_WITH_PUNCT + r"|\s*[^\s\p{L}\p{N}]?\p{L}+" + _REST
# Every CJK character alone (whitespace before it still attaches); other letters as in
# SPLIT_PATTERN (the class intersection keeps Han out of letter runs).
SPLIT_CJK_CHARS_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|\s*[^\s\p{L}\p{N}]?"
    + ONIG_CLASS
    + r"|\s*[^\s\p{L}\p{N}]?[\p{L}&&[^\p{Han}]]+"
    + _REST
)


def split_pattern(cfg: TokenizerConfig) -> str:
    return SPLIT_CJK_CHARS_PATTERN if cfg.split_cjk_chars else SPLIT_PATTERN


def build_byte_level_bpe(pattern: str = SPLIT_PATTERN):  # -> tokenizers.Tokenizer
    """An untrained byte-level BPE pipeline: regex split, byte mapping, no normaliser (exact round trip)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    # Explicit no-op: BOS/EOS are inserted by the packer, never by the tokenizer.  Setting it here
    # also stops transformers from installing its own, so both libraries save the same JSON.
    tok.post_processor = processors.TemplateProcessing(single="$A:0", pair="$A:0 $B:1", special_tokens=[])
    return tok


def train_bpe(texts, cfg: TokenizerConfig, n_learned: int):  # -> tokenizers.Tokenizer
    """Train on streamed texts; `n_learned` tokens besides the 7 leading specials (bytes included)."""
    from tokenizers import pre_tokenizers, trainers

    tok = build_byte_level_bpe(split_pattern(cfg))
    kwargs = {} if cfg.max_token_length is None else {"max_token_length": cfg.max_token_length}
    trainer = trainers.BpeTrainer(
        vocab_size=n_learned + len(st.LEADING_SPECIAL_TOKENS),
        min_frequency=cfg.min_frequency,
        special_tokens=list(st.LEADING_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
        **kwargs,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return tok
