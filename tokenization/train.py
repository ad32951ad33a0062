"""Train a tokenizer of any kind from a stream of texts and save it for `tokenizers` and `transformers`.

Training streams the input (the corpus is never held in memory) and is deterministic: the same
texts and config give a byte-identical tokenizer.json.  Every kind shares the id layout of
`tokenization.special_tokens`; the per-kind pipelines live in `bpe.py` and `wordpiece.py`.
The directory loads offline with `AutoTokenizer.from_pretrained(DIR)` and gives the raw ids.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any, TextIO, TypeVar

from pipeline.core.atomic import sha256_file, write_bytes, write_json
from tokenization import __version__
from tokenization import special_tokens as st
from tokenization.bpe import SPLIT_PATTERN, build_byte_level_bpe, split_pattern, train_bpe
from tokenization.config import TokenizerConfig
from tokenization.inputs import (
    DATASET_MANIFEST,
    DatasetError,
    iter_dataset_texts,
    iter_input_texts,
    load_dataset_manifest,
    require_columns,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

# The input helpers moved to inputs.py; they stay importable from here.
__all__ = [
    "DATASET_MANIFEST",
    "SPLIT_PATTERN",
    "TOKENIZER_JSON",
    "TOKENIZER_MANIFEST",
    "DatasetError",
    "build_byte_level_bpe",
    "iter_dataset_texts",
    "iter_input_texts",
    "load_dataset_manifest",
    "load_tokenizer",
    "require_columns",
    "split_holdout",
    "train_tokenizer",
    "verify_layout",
]

TOKENIZER_JSON = "tokenizer.json"
TOKENIZER_MANIFEST = "yuliao_tokenizer.json"
# Held-out texts kept for the report; later held-out documents are still kept out of training.
MAX_HELDOUT_DOCS = 5000


class _Counter:
    """Counts what the trainer sees while passing the stream through (and, optionally, tees it to a file)."""

    def __init__(self, texts: Iterable[str], tee: TextIO | None = None) -> None:
        self._texts, self._tee = texts, tee
        self.docs = self.chars = self.bytes = 0

    def __iter__(self) -> Iterator[str]:
        for text in self._texts:
            self.docs += 1
            self.chars += len(text)
            self.bytes += len(text.encode("utf-8"))
            if self._tee is not None:
                self._tee.write(text)
                self._tee.write("\n")
            yield text


def split_holdout(
    items: Iterable[T], every: int | None, text_of: Callable[[T], str] | None = None
) -> tuple[Iterator[T], list[str]]:
    """Items 0, N, 2N, ... go (as text) to the returned list, filled as the iterator is consumed.

    Same rule as the peer bench (`docs[::N]` held out), so figures compare on the same documents.
    `text_of` turns an item into its text (items are texts by default, or (source, text) pairs).
    """
    heldout: list[str] = []
    if not every:
        return iter(items), heldout

    def gen() -> Iterator[T]:
        for i, item in enumerate(items):
            if i % every == 0:
                if len(heldout) < MAX_HELDOUT_DOCS:
                    heldout.append(text_of(item) if text_of else item)  # type: ignore[arg-type]
            else:
                yield item

    return gen(), heldout


def _train_kind(texts: Iterable[str], cfg: TokenizerConfig, n_learned: int):
    if cfg.kind == "bpe":
        return train_bpe(texts, cfg, n_learned), {}
    from tokenization.wordpiece import train_char, train_wordpiece

    if cfg.kind == "wordpiece":
        return train_wordpiece(texts, cfg, n_learned), {}
    return train_char(texts, cfg, n_learned)


def _add_special_tokens(tok, tokens) -> None:
    """Add `tokens` as special added tokens (matched whole in any text, never normalised)."""
    from tokenizers import AddedToken

    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in tokens])


def _place_top_specials(tok, vocab_size: int, kind: str) -> int:
    """Pad with fillers if training yielded too few tokens, then append sentinels so they end on top."""
    base = vocab_size - st.NUM_SENTINELS
    learned = tok.get_vocab_size()
    if learned > base:
        raise RuntimeError(f"training produced {learned} tokens, more than the {base} requested")
    n_reserved = base - learned
    if n_reserved:
        log.warning(
            "corpus yielded only %d of %d tokens (min_frequency too high or corpus too small); "
            "padding with %d filler tokens to keep vocab_size=%d",
            learned,
            base,
            n_reserved,
            vocab_size,
        )
        _add_special_tokens(tok, [st.reserved_token(k, kind) for k in range(n_reserved)])
    _add_special_tokens(tok, st.sentinel_tokens_in_id_order())
    return n_reserved


def verify_layout(tok, vocab_size: int, kind: str = "bpe") -> None:
    """Raise unless every special token sits at the id the layout promises."""
    if tok.get_vocab_size() != vocab_size:
        raise RuntimeError(f"tokenizer has {tok.get_vocab_size()} tokens, expected {vocab_size}")
    expected = {t: i for i, t in enumerate(st.leading_special_tokens(kind))}
    expected |= {st.sentinel_token(i): st.sentinel_id(i, vocab_size) for i in range(st.NUM_SENTINELS)}
    wrong = {t: (tok.token_to_id(t), i) for t, i in expected.items() if tok.token_to_id(t) != i}
    if wrong:
        raise RuntimeError(f"special tokens at wrong ids (got, expected): {wrong}")


# transformers' VERY_LARGE_INTEGER: no length limit of the tokenizer's own (the model has one)
_NO_MAX_LENGTH = int(1e30)


def transformers_config(kind: str) -> dict[str, Any]:
    """tokenizer_config.json as transformers 5's `save_pretrained` writes it for this tokenizer.

    Written by us so that training never imports transformers (1.1-1.3 s of CPU, 5 % of a 32k
    training's on 2 cores, for two small files); tests/tokenization check it byte for byte
    against `save_pretrained` of the installed transformers and load it with AutoTokenizer.
    """
    return {
        "backend": "tokenizers",
        **{f"{role}_token": t for role, t in st.special_token_strings(kind).items()},
        # Byte-level BPE decodes exactly; the "clean up" pass would eat spaces before punctuation.
        "clean_up_tokenization_spaces": False,
        "extra_special_tokens": [st.sentinel_token(i) for i in range(st.NUM_SENTINELS)],
        "model_max_length": _NO_MAX_LENGTH,
        "tokenizer_class": "TokenizersBackend",
    }


def _save(tok, out_dir: Path, kind: str) -> None:
    """tokenizer.json and tokenizer_config.json, each written atomically."""
    write_bytes(out_dir / TOKENIZER_JSON, tok.to_str(pretty=True).encode("utf-8"))
    write_json(out_dir / "tokenizer_config.json", transformers_config(kind))


def train_tokenizer(
    texts: Iterable[str],
    cfg: TokenizerConfig,
    out_dir: str | Path,
    *,
    source: str | None = None,
    heldout: list[str] | None = None,
    sampling: dict[str, Any] | None = None,
    compare_sentencepiece: bool = False,
) -> dict[str, Any]:
    """Train on streamed `texts`, save to `out_dir`, return the manifest (also written last).

    Without `heldout`, the first `cfg.max_docs` texts are read and every `cfg.holdout_every`-th is
    held out for the report.  With `heldout` (the CLI's case: it holds out before the mixture
    sample) `texts` is the training stream as is.  `compare_sentencepiece` also trains a
    SentencePiece BPE model of the same size on the same stream and reports it side by side.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if heldout is None:
        texts, heldout = split_holdout(islice(texts, cfg.max_docs), cfg.holdout_every)
    n_learned = cfg.vocab_size - st.NUM_SENTINELS - len(st.LEADING_SPECIAL_TOKENS)

    with tempfile.TemporaryDirectory(prefix=".train-", dir=out_dir) as work:
        sample = Path(work) / "sample.txt"
        with contextlib.ExitStack() as stack:
            tee = stack.enter_context(sample.open("w", encoding="utf-8")) if compare_sentencepiece else None
            counter = _Counter(texts, tee)
            tok, kind_info = _train_kind(iter(counter), cfg, n_learned)
        trained = time.perf_counter()
        if counter.docs == 0:
            raise DatasetError("no training texts: the input is empty (or every text was null)")
        spm_report = None
        if compare_sentencepiece and heldout:  # nothing held out: nothing to compare on
            from tokenization.spm_compare import train_and_report

            spm_report = train_and_report(sample, cfg.vocab_size, heldout, cfg.seed)

    learned = tok.get_vocab_size()
    # The leading specials become added tokens for every kind (ids unchanged): the BPE trainer
    # registers them itself, the char and wordpiece vocabularies hold them as plain entries,
    # and transformers would register them so when it builds the tokenizer.
    _add_special_tokens(tok, st.leading_special_tokens(cfg.kind))
    n_reserved = _place_top_specials(tok, cfg.vocab_size, cfg.kind)
    verify_layout(tok, cfg.vocab_size, cfg.kind)
    _save(tok, out_dir, cfg.kind)
    from tokenization.evaluate import tokenizer_report

    # After saving: the report sets encode_special_tokens on the tokenizer it is given.  The
    # in-memory one is what was saved (tests compare with a report from the saved file).
    report: dict[str, Any] = {"yuliao": tokenizer_report(tok, heldout, cfg.kind)}
    if spm_report is not None:
        report["sentencepiece_bpe"] = spm_report
    manifest = {
        "kind": cfg.kind,
        "vocab_size": cfg.vocab_size,
        "special_token_ids": st.special_token_ids(cfg.vocab_size, cfg.kind),
        "learned_vocab_size": learned,
        "reserved_tokens": n_reserved,
        "tokenizer_json_sha256": sha256_file(out_dir / TOKENIZER_JSON),
        "training": {
            "docs": counter.docs,
            "chars": counter.chars,
            "bytes": counter.bytes,
            "heldout_docs": len(heldout),
            "source": source,
            "sampling": sampling,
            **kind_info,
        },
        "pre_tokenizer_split_pattern": split_pattern(cfg) if cfg.kind == "bpe" else None,
        "report": report,
        "config": cfg.model_dump(mode="json"),
        "code_version": __version__,
    }
    write_json(out_dir / TOKENIZER_MANIFEST, manifest)
    # Timings are returned, never written: the manifest file stays byte-identical across reruns.
    seconds = {"read_and_train": trained - started, "total": time.perf_counter() - started}
    return {**manifest, "seconds": {k: round(v, 3) for k, v in seconds.items()}}


def load_tokenizer(tokenizer_dir: str | Path):  # -> tokenizers.Tokenizer
    """Load `tokenizer.json` from a tokenizer directory with a clear error when it is absent."""
    from tokenizers import Tokenizer

    path = Path(tokenizer_dir) / TOKENIZER_JSON
    if not path.is_file():
        raise FileNotFoundError(f"tokenizer file not found: {path} (train one with `yuliao tokenizer train`)")
    return Tokenizer.from_file(str(path))
