"""Where a run's artefacts live under one output folder, so that every verb finds the others'.

`yuliao pipeline run --output OUT` writes `dataset`, `tokenizer train`/`encode --output OUT`
read it and write `tokenizer` and `tokens`, `pretrain --output OUT` reads them and writes
`models`; the report and the demo look in the same places. One object, so no verb re-spells a path.
OUT may be an fsspec URL (`s3://bucket/run`): its paths are then UPaths (pipeline.core.atomic.as_path).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from upath import UPath

from pipeline.core.atomic import AnyPath, as_path, resolve_inside

MIXTURE_FILE = "mixture.json"


@dataclass(frozen=True)
class RunLayout:
    """Absolute-or-relative paths as the user gave the root; a verb's explicit path flag replaces one."""

    root: AnyPath
    dataset: AnyPath
    tokenizer: AnyPath
    tokens: AnyPath
    mixture: AnyPath
    models: AnyPath
    report: AnyPath

    def model(self, name: str) -> AnyPath:
        """models/NAME; a name that would leave models/ is refused (this folder gets rmtree'd)."""
        return resolve_inside(self.models, name)


def run_layout(
    root: str | os.PathLike[str] | UPath,
    *,
    tokenizer: str = "tokenizer",
    tokens: str = "tokens",
    mixture: str | None = None,
) -> RunLayout:
    """The layout under `root`; the manifest's `pretrain_data` may move tokenizer, tokens and mixture,
    but only inside `root` (the mixture defaults to `mixture.json` in the tokens folder)."""
    root = as_path(root)
    return RunLayout(
        root=root,
        dataset=root / "dataset",
        tokenizer=resolve_inside(root, tokenizer),
        tokens=resolve_inside(root, tokens),
        mixture=resolve_inside(root, mixture or f"{tokens}/{MIXTURE_FILE}"),
        models=root / "models",
        report=root / "report",
    )
