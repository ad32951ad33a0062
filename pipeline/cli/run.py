"""`yuliao pipeline run MANIFEST`: crawl → cleaned, filtered, deduplicated Arrow dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def run_command(
    manifest: Annotated[Path, typer.Argument(help="run manifest (YAML), e.g. manifests/demo.yaml")],
    output: Annotated[
        str,
        typer.Option(
            help="run folder, a path or an fsspec URL (s3://bucket/run): the dataset goes to "
            "OUTPUT/dataset, the report to OUTPUT/report"
        ),
    ] = "out",
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address; default a LocalCluster; 'inline' = no Dask")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="LocalCluster workers (default: cores)")] = None,
    overwrite: Annotated[
        bool, typer.Option(help="replace an earlier run in OUTPUT made with other inputs or config")
    ] = False,
    strict: Annotated[
        bool,
        typer.Option(help="fail on any warning (unreadable file, damaged records) instead of reporting it"),
    ] = False,
) -> None:
    from pipeline.cli.common import manifest_or_exit, print_and_write_report, run_pipeline_or_exit
    from pipeline.core.executor import open_client

    m = manifest_or_exit(manifest)
    missing = [s.name for s in m.sources if not s.paths]
    if missing:
        typer.secho(
            f"sources {missing} have no paths: nothing to read (see `yuliao mix`)",
            fg="red",
            err=True,
        )
        raise typer.Exit(2)
    layout = m.layout(output)
    with open_client(scheduler, workers) as client:
        run_pipeline_or_exit(m, layout.dataset, client, overwrite, strict)
    print_and_write_report(layout)
