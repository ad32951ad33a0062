"""`yuliao pretrain MANIFEST`: train every run in the manifest's `pretrain` section.

Launch plainly for one process, or with `torchrun --nproc-per-node N yuliao pretrain ...`
for DDP; every rank runs this same command.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Annotated

import typer

# What a run writes inside models/NAME (the owner file lists the ones it created).
RUN_WRITES = ("model", "checkpoint", "losses.json", "result.json", "metrics.jsonl", "tb")


def train_runs(manifest, out: Path, only: str | None = None) -> list[dict]:
    """Train the manifest's runs against the token shards/mixture/tokenizer under `out`."""
    from pipeline.core.atomic import resolve_inside, write_json
    from pipeline.core.ownership import claim_output
    from pretrain import distributed as D
    from pretrain.train import train

    data = manifest.pretrain_data
    results = []
    for run in manifest.pretrain.runs:
        if only and run.name != only:
            continue
        # run names are validated, but this is the line that would rmtree outside `out`: check it here too
        run_dir = resolve_inside(out / "models", run.name)
        # The trainer checks a checkpoint against the run itself; the claim keeps the folder to
        # one `pretrain` job (rank 0 holds it; torchrun sets RANK before the group exists).
        main = os.environ.get("RANK", "0") == "0"
        claim = claim_output(run_dir, "pretrain", "", RUN_WRITES) if main else contextlib.nullcontext()
        with claim:
            result = train(
                run,
                resolve_inside(out, data.tokens),
                resolve_inside(out, data.mixture),
                resolve_inside(out, data.tokenizer),
                run_dir,
            )
        if D.is_main():  # under torchrun every rank trains; rank 0 holds the full result
            write_json(run_dir / "result.json", result)
        results.append(result)
    return results


def pretrain_command(
    manifest: Annotated[Path, typer.Argument(help="run manifest with a `pretrain:` section")],
    output: Annotated[
        Path, typer.Option(help="run directory holding tokens/, tokenizer/; models go to models/")
    ] = Path("out"),
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
    from pipeline.core.ownership import OutputRefused
    from pretrain import distributed as D

    try:
        results = train_runs(m, output, run)
    except (FileNotFoundError, OutputRefused) as e:  # say which input is missing / whose folder
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(2) from None
    if not D.is_main():
        return
    for result in results:
        typer.echo(
            f"{result['name']} ({result['objective']}): loss first-20 mean {result['first20_mean']:.3f} → "
            f"last-20 mean {result['last20_mean']:.3f}; model at {result['model_dir']}"
        )
