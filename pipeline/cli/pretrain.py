"""`yuliao pretrain MANIFEST`: train every run in the manifest's `pretrain` section.

Launch plainly for one process, or with `torchrun --nproc-per-node N yuliao pretrain ...`
for DDP; every rank runs this same command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def pretrain_command(
    manifest: Annotated[Path, typer.Argument(help="run manifest with a `pretrain:` section")],
    output: Annotated[
        str,
        typer.Option(
            help="run folder holding tokens/ and tokenizer/, a path or an fsspec URL (s3://bucket/run); "
            "models go to models/"
        ),
    ] = "out",
    run: Annotated[str | None, typer.Option(help="train only the run with this name")] = None,
) -> None:
    from pipeline.cli.common import manifest_or_exit

    m = manifest_or_exit(manifest)
    if m.pretrain is None:
        typer.secho(f"{manifest}: no `pretrain:` section", fg="red", err=True)
        raise typer.Exit(2)
    names = [r.name for r in m.pretrain.runs]
    if run and run not in names:
        typer.secho(f"--run {run!r}: not in the manifest (runs: {names})", fg="red", err=True)
        raise typer.Exit(2)
    from pipeline.core.atomic import UnsafePathError
    from pipeline.core.ownership import OutputRefused
    from pretrain import distributed as D
    from pretrain.runs import train_runs

    try:
        results = train_runs(m.pretrain.runs, m.layout(output), run)
    except (FileNotFoundError, OutputRefused, UnsafePathError) as e:  # which input is missing / whose folder
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(2) from None
    if not D.is_main():
        return
    for result in results:
        typer.echo(
            f"{result['name']} ({result['objective']}): loss first-20 mean {result['first20_mean']:.3f} → "
            f"last-20 mean {result['last20_mean']:.3f}; model at {result['model_dir']}"
        )
