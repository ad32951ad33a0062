"""`yuliao report OUTPUT_DIR`: re-render the summary and report from a finished run's files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def report_command(
    output: Annotated[Path, typer.Argument(help="a pipeline or demo output directory")],
) -> None:
    from pipeline.cli.common import print_and_write_report

    print_and_write_report(output)
