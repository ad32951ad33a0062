"""`yuliao tokenizer train`: fit a tokenizer on dataset dirs or JSONL / Parquet / Arrow files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def train(
    input: Annotated[
        list[Path] | None,
        typer.Option(
            "--input",
            help="Pipeline dataset dir (with manifest.json), .jsonl(.gz), .parquet or .arrow; repeatable "
            "(default OUTPUT/dataset).",
        ),
    ] = None,
    output: Annotated[
        Path, typer.Option("--output", help="Run folder; the tokenizer goes to OUTPUT/tokenizer.")
    ] = Path("out"),
    tokenizer: Annotated[
        Path | None, typer.Option("--tokenizer", help="Write the tokenizer here instead of OUTPUT/tokenizer.")
    ] = None,
    kind: Annotated[
        str, typer.Option("--kind", help="bpe (byte-level), char (Chinese-BERT), wordpiece.")
    ] = "bpe",
    vocab_size: Annotated[
        int | None,
        typer.Option(
            "--vocab-size", help="Total vocab size incl. 7 specials + 100 sentinels (default 8000)."
        ),
    ] = None,
    min_frequency: Annotated[
        int | None,
        typer.Option(
            "--min-frequency", help="Min pair count for a merge; char: min count of a CJK char (2)."
        ),
    ] = None,
    text_field: Annotated[
        str, typer.Option("--text-field", help="Column / JSON field with the text.")
    ] = "text",
    max_docs: Annotated[
        int | None, typer.Option("--max-docs", help="Read at most this many documents.")
    ] = None,
    mixture: Annotated[
        Path | None,
        typer.Option(
            "--mixture",
            help="mixture.json or run manifest (.yaml): sample sources by their weights, as training will.",
        ),
    ] = None,
    sample_bytes: Annotated[
        int | None, typer.Option("--sample-bytes", help="Size of the weighted sample (default: the corpus).")
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Seed of the weighted sample (default 0).")
    ] = None,
    holdout_every: Annotated[
        int | None,
        typer.Option(
            "--holdout-every", help="Hold out every Nth document for the report (default 50; 0: none)."
        ),
    ] = None,
    split_cjk_chars: Annotated[
        bool, typer.Option("--split-cjk-chars", help="bpe: pre-split CJK into single characters.")
    ] = False,
    max_token_length: Annotated[
        int | None, typer.Option("--max-token-length", help="bpe: longest token in byte symbols.")
    ] = None,
    lowercase: Annotated[
        bool | None,
        typer.Option("--lowercase/--cased", help="char/wordpiece: BERT lower-casing (default on)."),
    ] = None,
    compare_sentencepiece: Annotated[
        bool,
        typer.Option(
            "--compare-sentencepiece/--no-compare-sentencepiece",
            help="Also train SentencePiece BPE on the same sample at the same size; report both side by side.",
        ),
    ] = True,
) -> None:
    """Train a tokenizer; loadable with tokenizers.Tokenizer.from_file and transformers.AutoTokenizer."""
    from itertools import islice

    from pydantic import ValidationError

    from pipeline.core.layout import run_layout
    from tokenization.config import TokenizerConfig
    from tokenization.evaluate import format_side_by_side
    from tokenization.inputs import DatasetError, iter_inputs, source_text_bytes
    from tokenization.sample import load_weights, sample_docs, sample_rates
    from tokenization.train import split_holdout, train_tokenizer

    # Unset options fall back to the config's defaults, so they live in one place.
    given = {"kind": kind, "vocab_size": vocab_size, "min_frequency": min_frequency}
    given |= {"text_field": text_field, "max_docs": max_docs, "sample_bytes": sample_bytes, "seed": seed}
    given |= {"max_token_length": max_token_length, "lowercase": lowercase}
    given |= {"holdout_every": None if holdout_every == 0 else holdout_every}
    if split_cjk_chars:
        given["split_cjk_chars"] = True
    values = {k: v for k, v in given.items() if v is not None}
    if holdout_every == 0:
        values["holdout_every"] = None
    try:
        cfg = TokenizerConfig(**values)
    except ValidationError as e:
        raise typer.BadParameter(str(e)) from e
    layout = run_layout(output)
    inputs = input or [layout.dataset]
    tok_dir = tokenizer or layout.tokenizer
    try:
        docs = islice(iter_inputs(inputs, cfg.text_field), cfg.max_docs)
        pairs, heldout = split_holdout(docs, cfg.holdout_every, text_of=lambda d: d[1])
        sampling = None
        if mixture is not None:
            weights = load_weights(mixture)
            sizes = source_text_bytes(inputs, cfg.text_field)
            rates = sample_rates(weights, sizes, cfg.sample_bytes)
            sampling = {"mixture": str(mixture), "seed": cfg.seed, "text_bytes": sizes, "rates": rates}
            texts = sample_docs(pairs, rates, cfg.seed)
        else:
            texts = (t for _, t in pairs)
        manifest = train_tokenizer(
            texts,
            cfg,
            tok_dir,
            source=",".join(str(p) for p in inputs),
            heldout=heldout,
            sampling=sampling,
            compare_sentencepiece=compare_sentencepiece and cfg.holdout_every is not None,
        )
    except (DatasetError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e
    t = manifest["training"]
    typer.echo(
        f"trained {cfg.kind} tokenizer: vocab_size={manifest['vocab_size']} "
        f"(learned {manifest['learned_vocab_size']}, reserved {manifest['reserved_tokens']}) "
        f"on {t['docs']} docs / {t['chars']} chars, {t['heldout_docs']} held out -> {tok_dir}"
    )
    if t["heldout_docs"]:
        typer.echo(format_side_by_side(manifest["report"]))
        skipped = (manifest["report"].get("sentencepiece_bpe") or {}).get("skipped")
        if skipped:
            typer.echo(f"note: {skipped}")
