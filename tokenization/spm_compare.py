"""A SentencePiece BPE model trained on the same sample at the same vocabulary size, for side-by-side figures.

Settings mirror the peer bench (`../shared/bench/peer_tokenizers.py`): BPE, byte fallback, 0.9995
character coverage, lines of the training text as sentences.  Note SentencePiece's default
normaliser (nmt_nfkc) folds full-width forms and collapses whitespace, so it does not round-trip
exactly; Yuliao's byte-level BPE must and does.  `sentencepiece` is imported only here.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tokenization.evaluate import by_language, compression, coverage


def train_sentencepiece(sample_file: str | Path, vocab_size: int, model_prefix: str | Path, seed: int = 0):
    """Train SentencePiece BPE on a text file; returns the loaded processor."""
    import sentencepiece as spm

    spm.set_random_generator_seed(seed)
    spm.SentencePieceTrainer.train(
        input=str(sample_file),
        model_prefix=str(model_prefix),
        vocab_size=vocab_size,
        model_type="bpe",
        byte_fallback=True,
        character_coverage=0.9995,
        input_sentence_size=2_000_000,
        max_sentence_length=1 << 16,
        shuffle_input_sentence=True,
        num_threads=os.cpu_count() or 1,
        minloglevel=2,
        # Small corpora cannot fill a large vocabulary; at bench sizes the limit is never reached.
        hard_vocab_limit=False,
    )
    return spm.SentencePieceProcessor(model_file=f"{model_prefix}.model")


def sentencepiece_report(sp, heldout: Sequence[str]) -> dict[str, Any]:
    """Same figures as `evaluate.tokenizer_report`, for a SentencePieceProcessor."""
    unk = sp.unk_id()

    def count(batch: list[str]) -> int:
        return sum(len(ids) for ids in sp.encode(batch))

    def single(c: str) -> bool:
        i = sp.piece_to_id(c)
        return i != unk and not sp.is_byte(i)

    langs = by_language(heldout)
    report: dict[str, Any] = {lang: compression(count, langs[lang]) for lang in ("zh", "en")}
    report["tgh_level1_coverage"] = coverage(single)
    report["heldout_docs"] = len(heldout)
    return report


def train_and_report(
    sample_file: str | Path, vocab_size: int, heldout: Sequence[str], seed: int = 0
) -> dict[str, Any]:
    """Train on `sample_file` and report; no timings, so the tokenizer manifest stays byte-stable.

    The comparison never fails the training: when SentencePiece refuses (a vocabulary smaller
    than the characters it must cover, say) its refusal is reported instead of its figures.
    """
    with tempfile.TemporaryDirectory(prefix="yuliao-spm-") as d:
        try:
            sp = train_sentencepiece(sample_file, vocab_size, Path(d) / "m", seed)
        except RuntimeError as e:
            return {"skipped": f"SentencePiece could not train at vocab_size={vocab_size}: {e}"}
        return sentencepiece_report(sp, heldout)
