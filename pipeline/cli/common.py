"""Bits every command shares: loading a manifest with a clean error, printing a report."""

from __future__ import annotations

import logging
from pathlib import Path

import typer

from pipeline.cli.manifest import Manifest, ManifestError, load_manifest
from pipeline.core.atomic import AnyPath
from pipeline.core.layout import RunLayout


def manifest_or_exit(path: Path) -> Manifest:
    try:
        return load_manifest(path)
    except ManifestError as e:
        typer.secho(str(e), fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from None


def print_and_write_report(layout: RunLayout) -> AnyPath:
    from pipeline.report.collect import collect
    from pipeline.report.render import summary_lines, write_report

    r = collect(layout)
    typer.echo("\n".join(summary_lines(r)))
    path = write_report(r, layout.report)
    typer.echo(f"\nreport: {path}")
    return path


def run_pipeline_or_exit(
    m: Manifest, output: AnyPath, client: object, overwrite: bool, strict: bool = False
) -> None:
    """Stage the manifest's sources into `output`; an output that is not ours, or a --strict
    run with warnings, exits 2 with the reason."""
    from pipeline.core.ownership import OutputRefused
    from pipeline.run import StrictFailure, run_pipeline

    try:
        run_pipeline(
            m.sources,
            m.pipeline,
            output,
            client,
            m.base_dir,
            overwrite=overwrite,
            resolved_config=m.model_dump(mode="json", include={"sources", "pipeline"}),
            strict=strict,
        )
    except (OutputRefused, StrictFailure) as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(2) from None
    except Exception as e:
        if client is None or not _scheduler_lost(e):
            raise
        # the client's reconnect loop logs each failed retry with a traceback while it shuts down
        for name in [
            "distributed",
            *(n for n in logging.root.manager.loggerDict if n.startswith("distributed.")),
        ]:
            logging.getLogger(name).setLevel(logging.CRITICAL)
        typer.secho(
            f"the Dask scheduler was lost mid-job ({type(e).__name__}); every partition that finished is "
            f"kept (its done marker is written after its data): start a scheduler and rerun the same "
            f"command to resume",
            fg="red",
            err=True,
        )
        raise typer.Exit(3) from None


def _scheduler_lost(e: BaseException) -> bool:
    """Distributed's ways of saying the scheduler went away: cancelled futures, a closed comm."""
    from concurrent.futures import CancelledError

    from distributed.comm.core import CommClosedError

    return isinstance(e, CancelledError | CommClosedError)
