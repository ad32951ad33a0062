"""`yuliao pipeline dedup`: exact + MinHash-LSH near-dedup (+ optional line dedup) of document files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def dedup_command(
    input: Annotated[
        list[Path], typer.Option(help=".jsonl[.gz], .parquet or .arrow with id and text columns; repeatable")
    ],
    output: Annotated[
        Path, typer.Option(help="output dir: data/, ledger/, kept_ids.txt, summary.json, report/")
    ],
    id_field: Annotated[str, typer.Option(help="id column")] = "id",
    text_field: Annotated[str, typer.Option(help="text column")] = "text",
    workers: Annotated[int, typer.Option(help="Dask LocalCluster workers; 0 = in this process")] = 0,
    threshold: Annotated[
        float | None, typer.Option(help="Jaccard threshold over the shingles (default 0.6)")
    ] = None,
    num_perm: Annotated[int | None, typer.Option(help="MinHash permutations (default 128)")] = None,
    ngram: Annotated[
        int | None, typer.Option(help="char n-gram size for Chinese/Japanese/Korean text (default 5)")
    ] = None,
    word_ngram: Annotated[
        int | None, typer.Option(help="word n-gram size for space-delimited text (default 2)")
    ] = None,
    shingle: Annotated[
        str | None,
        typer.Option(help="script (char n-grams in CJK runs, word n-grams elsewhere) | char (everywhere)"),
    ] = None,
    verify: Annotated[
        str | None, typer.Option(help="candidate check: exact | estimate | none (default exact)")
    ] = None,
    url: Annotated[
        bool, typer.Option("--url/--no-url", help="also keep one document per normalised URL")
    ] = False,
    t2s: Annotated[
        bool, typer.Option("--t2s/--no-t2s", help="fold traditional to simplified Chinese")
    ] = False,
    line_min_count: Annotated[
        int, typer.Option(help="strip lines found in at least this many kept documents; 0 = off")
    ] = 0,
    line_unit: Annotated[str, typer.Option(help="line dedup unit: line | paragraph")] = "line",
    keep: Annotated[
        str | None, typer.Option(help="copy kept per cluster after quality_score: first | longest")
    ] = None,
    index: Annotated[
        Path | None, typer.Option(help="band index dir: dedup against it, then append the kept documents")
    ] = None,
    partition_bytes: Annotated[
        str,
        typer.Option(
            help="most input bytes per partition (e.g. 64MiB, 500kB): no task holds more than about "
            "one; smaller inputs are cut into up to 64 partitions of at least 4MiB"
        ),
    ] = "8MiB",
    overwrite: Annotated[
        bool, typer.Option(help="replace an earlier dedup output in --output made with other inputs/config")
    ] = False,
) -> None:
    import json

    from dask.utils import parse_bytes
    from pydantic import ValidationError

    from pipeline.config import DedupConfig
    from pipeline.core.executor import INLINE, open_client
    from pipeline.core.ownership import OutputRefused
    from pipeline.dedup.standalone import dedup_files

    try:
        part_bytes = parse_bytes(partition_bytes)
    except (ValueError, TypeError) as e:
        typer.secho(f"--partition-bytes {partition_bytes!r}: {e}", fg="red", err=True)
        raise typer.Exit(2) from None
    try:
        given = dict(threshold=threshold, num_perm=num_perm, ngram=ngram, word_ngram=word_ngram)
        given |= dict(shingle=shingle, verify=verify, keep=keep)
        settings: dict = {k: v for k, v in given.items() if v is not None} | {"url": url, "t2s": t2s}
        if line_min_count > 0:
            settings["lines"] = {"enabled": True, "min_count": line_min_count, "unit": line_unit}
        cfg = DedupConfig(**settings)
    except ValidationError as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(2) from None
    try:
        from pipeline.dedup.warm import warm_up

        warm_up(cfg)  # the driver clusters; load its kernels before any round is timed
        with open_client(INLINE if workers == 0 else None, workers) as client:
            if client is not None:
                client.run(warm_up, cfg)
            summary = dedup_files(
                input, output, id_field, text_field, cfg, client, index, part_bytes, overwrite
            )
    except (ValueError, FileNotFoundError, OutputRefused) as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps({k: v for k, v in summary.items() if k != "config"}, indent=2))
