"""Solve a manifest's mix against declared or measured token counts."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.cli.manifest import Manifest
from pipeline.mix import MixPlan, solve


def plan_mixture(m: Manifest, tokens_dir: Path | None, budget: int | None) -> MixPlan:
    measured: dict[str, int] = {}
    if tokens_dir is not None:
        measured = json.loads((tokens_dir / "manifest.json").read_text())["tokens_per_source"]
    counts = []
    for s in m.sources:
        n = measured.get(s.name, s.tokens)
        if n is None:
            raise ValueError(f"sources[{s.name}].tokens: unknown — declare it or pass --tokens TOKENS_DIR")
        counts.append(int(n))
    budget = budget or m.mix.budget_tokens or sum(counts)
    return solve(
        [s.name for s in m.sources],
        [s.weight for s in m.sources],
        counts,
        budget,
        max_epochs=[s.max_epochs for s in m.sources],
        normalize=m.mix.weights == "relative",
    )
