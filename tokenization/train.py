"""Train a byte-level BPE tokenizer from a stream of texts and save it for `tokenizers` and `transformers`.

Byte-level BPE never emits <unk> and decodes back to the exact input bytes, which matters for a
Chinese-first corpus full of full-width punctuation, emoji and mixed scripts.  Training streams the
input (the corpus is never held in memory) and is deterministic: same texts and config give a
byte-identical tokenizer.json.
"""

from __future__ import annotations

import gzip
import json
import logging
import tempfile
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow as pa

from pipeline.io.atomic import read_arrow, sha256_file, write_bytes, write_json
from tokenization import __version__
from tokenization import special_tokens as st
from tokenization.config import TokenizerConfig

log = logging.getLogger(__name__)

TOKENIZER_JSON = "tokenizer.json"
TOKENIZER_MANIFEST = "yuliao_tokenizer.json"
DATASET_MANIFEST = "manifest.json"

# GPT-4 / Llama-3 / Qwen2 split: letters, 1-3 digit groups, punctuation runs and whitespace are
# separate pre-tokens, so merges never glue words to punctuation.  A Han run is one \p{L}+ pre-token.
SPLIT_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

_TEXT_BATCH = 1024


class DatasetError(ValueError):
    """Input dataset is missing or does not match the pipeline contract."""


# ---------------------------------------------------------------------------------------------- inputs


def load_dataset_manifest(dataset_dir: str | Path) -> dict[str, Any]:
    """Read and sanity-check `DATASET/manifest.json`; errors name the offending path."""
    path = Path(dataset_dir) / DATASET_MANIFEST
    if not path.is_file():
        raise DatasetError(f"dataset manifest not found: {path} (expected a pipeline dataset directory)")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DatasetError(f"dataset manifest is not valid JSON: {path}: {e}") from e
    shards = manifest.get("shards") if isinstance(manifest, dict) else None
    if not isinstance(shards, list) or not all(isinstance(s, dict) and "path" in s for s in shards):
        raise DatasetError(f"dataset manifest {path} has no valid 'shards' list of {{'path': ...}} entries")
    return manifest


def require_columns(schema: pa.Schema, columns: Iterable[str], where: str | Path) -> None:
    """Fail with the missing column, the file, and what columns do exist."""
    missing = [c for c in columns if c not in schema.names]
    if missing:
        raise DatasetError(f"{where}: missing column(s) {missing}; available columns: {schema.names}")


def _iter_column_texts(table: pa.Table, column: str) -> Iterator[str]:
    """Convert to Python strings one batch at a time so a shard is never fully materialised."""
    col = table.column(column)
    for start in range(0, len(col), _TEXT_BATCH):
        for text in col.slice(start, _TEXT_BATCH).to_pylist():
            if text is not None:
                yield text


def iter_dataset_texts(
    dataset_dir: str | Path, text_field: str = "text", max_docs: int | None = None
) -> Iterator[str]:
    """Stream texts from a pipeline dataset, shard by shard in manifest order (null texts skipped)."""
    dataset_dir = Path(dataset_dir)
    manifest = load_dataset_manifest(dataset_dir)

    def gen() -> Iterator[str]:
        for shard in manifest["shards"]:
            path = dataset_dir / shard["path"]
            if not path.is_file():
                raise DatasetError(f"shard listed in {dataset_dir / DATASET_MANIFEST} not found: {path}")
            table = read_arrow(path)
            require_columns(table.schema, [text_field], path)
            yield from _iter_column_texts(table, text_field)

    return islice(gen(), max_docs)


def _iter_jsonl_texts(path: Path, text_field: str) -> Iterator[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise DatasetError(f"{path}:{lineno}: invalid JSON: {e}") from e
            if not isinstance(record, dict) or text_field not in record:
                raise DatasetError(f"{path}:{lineno}: record has no {text_field!r} field")
            text = record[text_field]
            if text is not None:
                yield str(text)


def _iter_parquet_texts(path: Path, text_field: str) -> Iterator[str]:
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    require_columns(pf.schema_arrow, [text_field], path)
    for batch in pf.iter_batches(columns=[text_field], batch_size=_TEXT_BATCH):
        yield from (t for t in batch.column(0).to_pylist() if t is not None)


def iter_input_texts(
    path: str | Path, text_field: str = "text", max_docs: int | None = None
) -> Iterator[str]:
    """Stream texts from a pipeline dataset dir, a .jsonl / .jsonl.gz file, or a .parquet file."""
    path = Path(path)
    if path.is_dir():
        return iter_dataset_texts(path, text_field, max_docs)
    if not path.exists():
        raise DatasetError(f"input not found: {path}")
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz")):
        return islice(_iter_jsonl_texts(path, text_field), max_docs)
    if name.endswith(".parquet"):
        return islice(_iter_parquet_texts(path, text_field), max_docs)
    raise DatasetError(
        f"unsupported input {path}: expected a dataset directory with {DATASET_MANIFEST}, "
        "a .jsonl/.jsonl.gz file, or a .parquet file"
    )


# ---------------------------------------------------------------------------------------------- training


def build_byte_level_bpe():  # -> tokenizers.Tokenizer
    """An untrained byte-level BPE pipeline: regex split, byte mapping, no normaliser (exact round trip)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    # Explicit no-op: BOS/EOS are inserted by the packer, never by the tokenizer.  Setting it here
    # also stops transformers from installing its own, so both libraries save the same JSON.
    tok.post_processor = processors.TemplateProcessing(single="$A:0", pair="$A:0 $B:1", special_tokens=[])
    return tok


class _Counter:
    """Counts documents and characters while passing a stream through to the trainer."""

    def __init__(self, texts: Iterable[str]) -> None:
        self._texts = texts
        self.docs = 0
        self.chars = 0

    def __iter__(self) -> Iterator[str]:
        for text in self._texts:
            self.docs += 1
            self.chars += len(text)
            yield text


def _place_top_specials(tok, vocab_size: int) -> int:
    """Pad with reserved fillers if BPE ran out of merges, then append sentinels so they end on top."""
    from tokenizers import AddedToken

    base = vocab_size - st.NUM_SENTINELS
    learned = tok.get_vocab_size()
    if learned > base:
        raise RuntimeError(f"BPE learned {learned} tokens, more than the {base} requested")
    n_reserved = base - learned
    if n_reserved:
        log.warning(
            "corpus yielded only %d of %d BPE tokens (min_frequency too high or corpus too small); "
            "padding with %d <reserved_k> tokens to keep vocab_size=%d",
            learned,
            base,
            n_reserved,
            vocab_size,
        )
        tok.add_special_tokens(
            [AddedToken(st.reserved_token(k), special=True, normalized=False) for k in range(n_reserved)]
        )
    tok.add_special_tokens(
        [AddedToken(t, special=True, normalized=False) for t in st.sentinel_tokens_in_id_order()]
    )
    return n_reserved


def verify_layout(tok, vocab_size: int) -> None:
    """Raise unless every special token sits at the id the layout promises."""
    if tok.get_vocab_size() != vocab_size:
        raise RuntimeError(f"tokenizer has {tok.get_vocab_size()} tokens, expected {vocab_size}")
    expected = {t: i for i, t in enumerate(st.LEADING_SPECIAL_TOKENS)}
    expected |= {st.sentinel_token(i): st.sentinel_id(i, vocab_size) for i in range(st.NUM_SENTINELS)}
    wrong = {t: (tok.token_to_id(t), i) for t, i in expected.items() if tok.token_to_id(t) != i}
    if wrong:
        raise RuntimeError(f"special tokens at wrong ids (got, expected): {wrong}")


def _save_transformers(tok, out_dir: Path) -> None:
    """Save via `PreTrainedTokenizerFast.save_pretrained`, staging in a temp dir, then atomic renames."""
    from transformers import PreTrainedTokenizerFast

    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=st.BOS,
        eos_token=st.EOS,
        unk_token=st.UNK,
        pad_token=st.PAD,
        mask_token=st.MASK,
        cls_token=st.CLS,
        sep_token=st.SEP,
        # transformers 5 name; `additional_special_tokens` is its deprecated alias.
        extra_special_tokens=[st.sentinel_token(i) for i in range(st.NUM_SENTINELS)],
        # Byte-level BPE decodes exactly; the "clean up" pass would eat spaces before punctuation.
        clean_up_tokenization_spaces=False,
    )
    with tempfile.TemporaryDirectory(prefix=".hf-", dir=out_dir) as staging:
        hf.save_pretrained(staging)
        for f in sorted(Path(staging).iterdir()):
            write_bytes(out_dir / f.name, f.read_bytes())


def train_tokenizer(
    texts: Iterable[str], cfg: TokenizerConfig, out_dir: str | Path, *, source: str | None = None
) -> dict[str, Any]:
    """Train on streamed `texts` (capped at `cfg.max_docs`), save to `out_dir`, return the manifest.

    Writes tokenizer.json + tokenizer_config.json (loadable offline by `AutoTokenizer`) and, last,
    yuliao_tokenizer.json, so a directory with the manifest is a complete tokenizer.
    """
    from tokenizers import pre_tokenizers, trainers

    if cfg.kind != "bpe":  # pragma: no cover - guarded by the config Literal
        raise NotImplementedError(f"tokenizer kind {cfg.kind!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    tok = build_byte_level_bpe()
    trainer = trainers.BpeTrainer(
        vocab_size=cfg.vocab_size - st.NUM_SENTINELS,
        min_frequency=cfg.min_frequency,
        special_tokens=list(st.LEADING_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    counter = _Counter(islice(texts, cfg.max_docs))
    tok.train_from_iterator(iter(counter), trainer=trainer)
    if counter.docs == 0:
        raise DatasetError("no training texts: the input is empty (or every text was null)")
    learned = tok.get_vocab_size()
    n_reserved = _place_top_specials(tok, cfg.vocab_size)
    verify_layout(tok, cfg.vocab_size)

    _save_transformers(tok, out_dir)
    manifest = {
        "kind": cfg.kind,
        "vocab_size": cfg.vocab_size,
        "special_token_ids": st.special_token_ids(cfg.vocab_size),
        "learned_vocab_size": learned,
        "reserved_tokens": n_reserved,
        "tokenizer_json_sha256": sha256_file(out_dir / TOKENIZER_JSON),
        "training": {"docs": counter.docs, "chars": counter.chars, "source": source},
        "pre_tokenizer_split_pattern": SPLIT_PATTERN,
        "config": cfg.model_dump(mode="json"),
        "code_version": __version__,
    }
    write_json(out_dir / TOKENIZER_MANIFEST, manifest)
    return manifest


def load_tokenizer(tokenizer_dir: str | Path):  # -> tokenizers.Tokenizer
    """Load `tokenizer.json` from a tokenizer directory with a clear error when it is absent."""
    from tokenizers import Tokenizer

    path = Path(tokenizer_dir) / TOKENIZER_JSON
    if not path.is_file():
        raise FileNotFoundError(f"tokenizer file not found: {path} (train one with `yuliao tokenizer train`)")
    return Tokenizer.from_file(str(path))
