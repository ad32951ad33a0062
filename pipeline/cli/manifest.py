"""A run manifest: sources, pipeline, mix, tokenizer and pretraining, from one YAML file.

Each part's config lives with its part (`pipeline.config`, `tokenization.config`,
`pretrain.config`); this module composes them and turns validation errors into messages
that name the field and say how to fix it, before any work starts.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import Field, ValidationError, model_validator

from pipeline.config import MixConfig, PipelineConfig, SourcesMixin, Strict
from pretrain.config import PretrainConfig
from tokenization.config import TokenizerConfig


class PretrainData(Strict):
    """Where a pretraining run finds its inputs, relative to the run's output directory."""

    tokens: str = "tokens"
    tokenizer: str = "tokenizer"
    mixture: str = "tokens/mixture.json"


class Manifest(SourcesMixin):
    name: str = "yuliao"
    pipeline: PipelineConfig = PipelineConfig()
    mix: MixConfig = MixConfig()
    tokenizer: TokenizerConfig | None = None
    pretrain: PretrainConfig | None = None
    pretrain_data: PretrainData = PretrainData()
    base_dir: Path = Field(
        default=Path("."), exclude=True, description="set by the loader: the manifest's folder"
    )

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> Manifest:
        if self.mix.weights == "shares":
            total = sum(s.weight for s in self.sources)
            if not 0.95 <= total <= 1.05:
                raise ValueError(
                    f"mix.weights is 'shares' but source weights sum to {total:g}; "
                    "shares are fractions of the budget (sum ≈ 1) — use weights: relative otherwise"
                )
        return self


class ManifestError(ValueError):
    """An invalid manifest; the message lists every bad field with a fix."""


_FIXES = {
    "extra_forbidden": "unknown field — remove it or check its spelling",
    "greater_than": "must be greater than {gt}",
    "missing": "required field — add it",
    "too_short": "must not be empty",
    "literal_error": "must be one of {expected}",
}


def _describe(err: dict) -> str:
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    fix = _FIXES.get(err["type"])
    if fix:
        fix = fix.format(**(err.get("ctx") or {}))
        return f"{loc}: {fix} (got {err.get('input')!r})"
    return f"{loc}: {err['msg']}"


def parse_manifest(data: dict, base_dir: Path, origin: str = "manifest") -> Manifest:
    if not isinstance(data, dict):
        raise ManifestError(f"{origin}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return Manifest.model_validate({**data, "base_dir": base_dir})
    except ValidationError as e:
        lines = "\n  ".join(_describe(err) for err in e.errors())
        raise ManifestError(f"{origin} is invalid:\n  {lines}") from None


def load_manifest(path: str | Path) -> Manifest:
    path = Path(path)
    if not path.exists():
        raise ManifestError(f"manifest not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ManifestError(f"{path}: not valid YAML: {e}") from None
    return parse_manifest(data, path.resolve().parent, origin=str(path))
