"""`yuliao tokenizer encode`: tokenize every shard of a dataset with Dask."""

from __future__ import annotations

from typing import Annotated

import typer


def encode(
    output: Annotated[
        str,
        typer.Option(
            "--output",
            help="Run folder, a path or an fsspec URL (s3://bucket/run); token shards + manifest.json go "
            "to OUTPUT/tokens.",
        ),
    ] = "out",
    input: Annotated[
        str | None,
        typer.Option("--input", help="Pipeline dataset dir (with manifest.json; default OUTPUT/dataset)."),
    ] = None,
    tokenizer: Annotated[
        str | None,
        typer.Option("--tokenizer", help="Tokenizer dir (with tokenizer.json; default OUTPUT/tokenizer)."),
    ] = None,
    tokens: Annotated[
        str | None, typer.Option("--tokens", help="Write the token shards here instead of OUTPUT/tokens.")
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=0, help="Dask worker processes; 0 = threads in this process.")
    ] = 0,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Address of a running Dask scheduler (instead of --workers)."),
    ] = None,
    text_field: Annotated[str, typer.Option("--text-field", help="Column with the text.")] = "text",
    word_boundaries: Annotated[
        bool,
        typer.Option(
            "--word-boundaries", help="Store word_starts (list<bool> per token; jieba for Chinese)."
        ),
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Write into an output folder holding files of others.")
    ] = False,
) -> None:
    """Encode a dataset into list<uint16> token shards; resumes finished shards, reruns are byte-identical."""
    from pipeline.core.atomic import as_path
    from pipeline.core.layout import run_layout
    from pipeline.core.ownership import OutputRefused
    from tokenization.encode import encode_dataset
    from tokenization.train import DatasetError

    layout = run_layout(output)
    dataset_dir = as_path(input) if input else layout.dataset
    tokenizer_dir = as_path(tokenizer) if tokenizer else layout.tokenizer
    tokens_dir = as_path(tokens) if tokens else layout.tokens
    try:
        if workers == 0 and scheduler is None:
            manifest = encode_dataset(
                dataset_dir,
                tokenizer_dir,
                tokens_dir,
                text_field=text_field,
                word_boundaries=word_boundaries,
                overwrite=overwrite,
            )
        else:
            # the pipeline's LocalCluster (its worker malloc settings and monitoring), or the given one
            from pipeline.core.executor import open_client

            with open_client(scheduler, workers) as client:
                manifest = encode_dataset(
                    dataset_dir,
                    tokenizer_dir,
                    tokens_dir,
                    client,
                    text_field=text_field,
                    word_boundaries=word_boundaries,
                    overwrite=overwrite,
                )
    except (DatasetError, FileNotFoundError, OutputRefused) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from e
    typer.echo(
        f"encoded {manifest['rows']} docs in {len(manifest['shards'])} shards: "
        f"{manifest['total_tokens']} tokens ({manifest['dtype']}) -> {tokens_dir}"
    )
