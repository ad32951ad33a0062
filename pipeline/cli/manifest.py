"""A run manifest: sources, pipeline, mix, tokenizer and pretraining, from one YAML file.

Each part's config lives with its part (`pipeline.config`, `tokenization.config`,
`pretrain.config`); this module composes them and turns validation errors into messages
that name the field and say how to fix it, before any work starts.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from pipeline.config import PipelineConfig, SourcesMixin, Strict
from pipeline.core.config import format_validation_error
from pipeline.core.layout import RunLayout, run_layout
from pretrain.config import PretrainConfig
from tokenization.config import TokenizerConfig
from tokenization.mixture import MixConfig


class PretrainData(Strict):
    """Moves a run's tokens, tokenizer and mixture inside its output directory (see RunLayout)."""

    tokens: str = "tokens"
    tokenizer: str = "tokenizer"
    mixture: str | None = Field(default=None, description="default: mixture.json in the tokens folder")

    @field_validator("tokens", "tokenizer", "mixture")
    @classmethod
    def _inside_output(cls, v: str | None) -> str | None:
        # Every verb writes and reads these paths: they must stay in the output dir.
        if v is None:
            return v
        p = PurePosixPath(v)
        if not v or p.is_absolute() or ".." in p.parts or "\\" in v:
            raise ValueError("must be a relative path inside the output directory, without '..'")
        return v


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

    def layout(self, root: Path) -> RunLayout:
        """The output folder `root` laid out with this manifest's `pretrain_data` paths."""
        d = self.pretrain_data
        return run_layout(root, tokenizer=d.tokenizer, tokens=d.tokens, mixture=d.mixture)


class ManifestError(ValueError):
    """An invalid manifest; the message lists every bad field with a fix."""


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses anchors and aliases: nine lines of nested aliases expand to gigabytes
    ("billion laughs"), and a manifest never needs them."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None,
                None,
                "YAML anchors (&name) and aliases (*name) are not allowed in a manifest; write the value out",
                event.start_mark,
            )
        return super().compose_node(parent, index)


def load_yaml(text: str, origin: str = "manifest") -> object:
    """Parse YAML as manifests allow it (safe types, no anchors/aliases); errors name file, line, column."""
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ManifestError(f"{origin}{where}: not valid YAML: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise ManifestError(f"{origin}: not valid YAML: {e}") from None
    except RecursionError:
        raise ManifestError(f"{origin}: not valid YAML: nested too deeply") from None


def parse_manifest(data: dict, base_dir: Path, origin: str = "manifest") -> Manifest:
    if not isinstance(data, dict):
        raise ManifestError(f"{origin}: expected a mapping at the top level, got {type(data).__name__}")
    try:
        return Manifest.model_validate({**data, "base_dir": base_dir})
    except ValidationError as e:
        raise ManifestError(f"{origin} is invalid:\n  {format_validation_error(e)}") from None


def load_manifest(path: str | Path) -> Manifest:
    path = Path(path)
    if not path.exists():
        raise ManifestError(f"manifest not found: {path}")
    data = load_yaml(path.read_text(encoding="utf-8"), str(path))
    return parse_manifest(data, path.resolve().parent, origin=str(path))
