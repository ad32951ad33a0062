"""Typed, frozen run configs so a typo or an impossible arch/objective pair fails before any work."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Arch = Literal["gpt2", "llama", "bert", "roberta", "t5", "xlnet"]
Objective = Literal["clm", "mlm", "span", "plm"]

# Which architectures each objective can train (the model head must match the loss).
COMPATIBLE: dict[str, tuple[str, ...]] = {
    "clm": ("gpt2", "llama"),
    "mlm": ("bert", "roberta"),
    "span": ("t5",),
    "plm": ("xlnet",),
}


class ModelConfig(BaseModel):
    """An architecture plus overrides merged into its transformers config class (tiny by default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    arch: Arch
    overrides: dict[str, Any] = Field(default_factory=dict)


class RunConfig(BaseModel):
    """One pretraining run: objective, model and optimisation hyper-parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    objective: Objective
    model: ModelConfig
    seq_len: int = Field(default=128, ge=8)
    batch_size: int = Field(default=8, ge=1)
    steps: int = Field(default=60, ge=1)
    lr: float = Field(default=3e-3, gt=0)
    warmup_steps: int = Field(default=5, ge=0)
    weight_decay: float = Field(default=0.01, ge=0)
    grad_clip: float = Field(default=1.0, ge=0)
    grad_accum: int = Field(default=1, ge=1)
    seed: int = 0
    log_every: int = Field(default=10, ge=1)
    ckpt_every: int | None = Field(default=None, ge=1)
    num_workers: int = Field(default=0, ge=0)
    mlm_probability: float = Field(default=0.15, gt=0, lt=1)
    noise_density: float = Field(default=0.15, gt=0, lt=1)
    mean_span_length: float = Field(default=3.0, ge=1)
    plm_max_span: int = Field(default=5, ge=1)
    plm_predict_ratio: float = Field(default=1 / 6, gt=0, lt=1)

    @model_validator(mode="after")
    def _objective_matches_arch(self) -> RunConfig:
        allowed = COMPATIBLE[self.objective]
        if self.model.arch not in allowed:
            raise ValueError(
                f"model.arch={self.model.arch!r} cannot train objective={self.objective!r}; "
                f"objective {self.objective!r} needs model.arch in {list(allowed)}"
            )
        return self


class PretrainConfig(BaseModel):
    """A set of runs; names are unique because they name output directories."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    runs: list[RunConfig] = Field(min_length=1)

    @field_validator("runs")
    @classmethod
    def _unique_names(cls, runs: list[RunConfig]) -> list[RunConfig]:
        seen: set[str] = set()
        dupes = sorted({r.name for r in runs if r.name in seen or seen.add(r.name)})
        if dupes:
            raise ValueError(f"runs: duplicate run name(s) {dupes}")
        return runs
