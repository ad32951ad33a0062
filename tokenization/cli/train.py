"""`yuliao tokenizer train`: fit a tokenizer on a dataset dir, .jsonl(.gz) or .parquet file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def train(
    input: Annotated[
        Path,
        typer.Option(
            "--input", help="Pipeline dataset dir (with manifest.json), .jsonl, .jsonl.gz or .parquet."
        ),
    ],
    output: Annotated[Path, typer.Option("--output", help="Directory to write the tokenizer into.")],
    kind: Annotated[str, typer.Option("--kind", help="Tokenizer kind (only 'bpe' for now).")] = "bpe",
    vocab_size: Annotated[
        int | None,
        typer.Option("--vocab-size", help="Total vocab size incl. specials + 100 sentinels (default 8000)."),
    ] = None,
    min_frequency: Annotated[
        int | None, typer.Option("--min-frequency", help="Minimum pair count for a merge (default 2).")
    ] = None,
    text_field: Annotated[
        str, typer.Option("--text-field", help="Column / JSON field with the text.")
    ] = "text",
    max_docs: Annotated[
        int | None, typer.Option("--max-docs", help="Train on at most this many documents.")
    ] = None,
) -> None:
    """Train a tokenizer; loadable with tokenizers.Tokenizer.from_file and transformers.AutoTokenizer."""
    from pydantic import ValidationError

    from tokenization.config import TokenizerConfig
    from tokenization.train import DatasetError, iter_input_texts, train_tokenizer

    # Unset options fall back to the config's defaults, so they live in one place.
    given = {"kind": kind, "vocab_size": vocab_size, "min_frequency": min_frequency}
    given |= {"text_field": text_field, "max_docs": max_docs}
    try:
        cfg = TokenizerConfig(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as e:
        raise typer.BadParameter(str(e)) from e
    try:
        texts = iter_input_texts(input, cfg.text_field, cfg.max_docs)
        manifest = train_tokenizer(texts, cfg, output, source=str(input))
    except (DatasetError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e
    t = manifest["training"]
    typer.echo(
        f"trained {cfg.kind} tokenizer: vocab_size={manifest['vocab_size']} "
        f"(learned {manifest['learned_vocab_size']}, reserved {manifest['reserved_tokens']}) "
        f"on {t['docs']} docs / {t['chars']} chars -> {output}"
    )
