"""Train every run of a manifest's `pretrain` section against the files of one run folder.

The library side of `yuliao pretrain` and of the demo (the command is in pipeline/cli/pretrain.py).
"""

from __future__ import annotations

import contextlib
import os

from pipeline.core.layout import RunLayout
from pretrain.config import RunConfig

# What a run writes inside models/NAME (the owner file lists the ones it created).
RUN_WRITES = ("model", "checkpoint", "losses.json", "result.json", "metrics.jsonl", "tb")


def train_runs(runs: list[RunConfig], layout: RunLayout, only: str | None = None) -> list[dict]:
    """Train `runs` (or the one named `only`) on the layout's tokens, mixture and tokenizer."""
    from pipeline.core.atomic import write_json
    from pipeline.core.ownership import claim_output
    from pretrain import distributed as D
    from pretrain.train import train

    results = []
    for run in runs:
        if only and run.name != only:
            continue
        run_dir = layout.model(run.name)
        # The trainer checks a checkpoint against the run itself; the claim keeps the folder to
        # one `pretrain` job (rank 0 holds it; torchrun sets RANK before the group exists).
        main = os.environ.get("RANK", "0") == "0"
        claim = claim_output(run_dir, "pretrain", "", RUN_WRITES) if main else contextlib.nullcontext()
        with claim:
            result = train(run, layout.tokens, layout.mixture, layout.tokenizer, run_dir)
        if D.is_main():  # under torchrun every rank trains; rank 0 holds the full result
            write_json(run_dir / "result.json", result)
        results.append(result)
    return results
