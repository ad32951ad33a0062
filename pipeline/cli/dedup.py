"""`yuliao pipeline dedup`: exact + MinHash near-dedup of a JSONL/Parquet/Arrow file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def dedup_command(
    input: Annotated[Path, typer.Option(help=".jsonl[.gz], .parquet or .arrow with id and text columns")],
    output: Annotated[Path, typer.Option(help="output dir: data/, ledger/, kept_ids.txt, summary.json")],
    id_field: Annotated[str, typer.Option(help="id column")] = "id",
    text_field: Annotated[str, typer.Option(help="text column")] = "text",
    threshold: Annotated[float, typer.Option(help="Jaccard threshold for near duplicates")] = 0.8,
    num_perm: Annotated[int, typer.Option(help="MinHash permutations")] = 128,
    ngram: Annotated[int, typer.Option(help="char n-gram size for CJK text")] = 5,
) -> None:
    import json

    from pipeline.config import DedupConfig
    from pipeline.dedup.standalone import dedup_file

    try:
        cfg = DedupConfig(threshold=threshold, num_perm=num_perm, ngram=ngram)
        summary = dedup_file(input, output, id_field, text_field, cfg)
    except ValueError as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(summary, indent=2))
