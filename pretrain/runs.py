"""Train every run of a manifest's `pretrain` section against the files of one output folder.

The library side of `yuliao pretrain` and of the demo (the command is in pipeline/cli/pretrain.py).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

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
