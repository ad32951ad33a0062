"""`yuliao report OUTPUT_DIR`: re-render the summary and report from a finished run's files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def report_command(
    output: Annotated[Path, typer.Argument(help="a run folder: the --output of pipeline run or the demo")],
    manifest: Annotated[
        Path | None, typer.Option(help="the run's manifest, when its pretrain_data moves tokens or tokenizer")
    ] = None,
) -> None:
    from pipeline.cli.common import manifest_or_exit, print_and_write_report
    from pipeline.core.layout import run_layout

    layout = manifest_or_exit(manifest).layout(output) if manifest else run_layout(output)
    try:
        print_and_write_report(layout)
    except FileNotFoundError as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(2) from None
