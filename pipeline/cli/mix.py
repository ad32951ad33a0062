"""`yuliao pipeline mix MANIFEST`: GPT-3-style epochs per source for a token budget."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def mix_command(
    manifest: Annotated[Path, typer.Argument(help="manifest with sources (weights, and tokens or data)")],
    tokens: Annotated[
        Path | None, typer.Option(help="token-shard dir whose manifest.json gives measured tokens per source")
    ] = None,
    budget: Annotated[
        int | None, typer.Option(help="training tokens (default: the manifest's mix.budget_tokens)")
    ] = None,
    output: Annotated[
        Path | None, typer.Option(help="write the mixture JSON the trainer consumes here")
    ] = None,
) -> None:
    from pipeline.cli.common import manifest_or_exit
    from pipeline.cli.mixing import plan_mixture
    from pipeline.core.atomic import write_json
    from pipeline.mix import format_table

    m = manifest_or_exit(manifest)
    try:
        plan = plan_mixture(m, tokens, budget)
    except ValueError as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(2) from None
    typer.echo(format_table(plan))
    if output:
        write_json(output, plan.to_json(m.mix.seed))
        typer.echo(f"mixture: {output}")
