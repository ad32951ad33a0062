"""Typed, frozen run configs so a typo or an impossible arch/objective pair fails before any work."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Arch = Literal["gpt2", "llama", "bert", "roberta", "t5", "xlnet"]
Objective = Literal["clm", "mlm", "span", "plm"]
Parallel = Literal["ddp", "fsdp"]
PipelineSchedule = Literal["1f1b", "gpipe"]
Attention = Literal["sdpa", "eager", "flex_attention", "flash_attention_2", "flash_attention_3"]
# What MLM masks as one piece (pretrain/objectives/mlm.py); "ernie" stages char, phrase, entity.
MaskUnit = Literal["char", "word", "phrase", "entity"]
RUN_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # one path component: no "/", no leading "." (so no "..")

# Architectures with a tensor-parallel plan (pretrain/parallel/tensor.py) and a pipeline split.
TENSOR_PARALLEL_ARCHS = ("llama", "gpt2")
PIPELINE_PARALLEL_ARCHS = ("llama", "gpt2")

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
    """One pretraining run: objective, model, data, optimisation, parallelism and logging."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = Field(pattern=RUN_NAME, description="names the run's directory under the output's models/")
    objective: Objective
    model: ModelConfig
    seq_len: int = Field(default=128, ge=8)
    batch_size: int = Field(default=8, ge=1, description="examples per rank per micro-batch")
    steps: int = Field(default=60, ge=1)
    lr: float = Field(default=3e-3, gt=0)
    warmup_steps: int = Field(default=5, ge=0)
    weight_decay: float = Field(default=0.01, ge=0)
    grad_clip: float = Field(default=1.0, ge=0, description="max global grad norm; 0 = no clipping")
    grad_accum: int = Field(default=1, ge=1)
    seed: int = 0
    log_every: int = Field(default=10, ge=1)
    ckpt_every: int | None = Field(default=None, ge=1)
    num_workers: int = Field(default=0, ge=0, description="DataLoader workers per rank")
    # ---- packing and objectives
    doc_attention: bool = Field(
        default=True,
        description="packed documents never attend to each other and restart their positions (clm, mlm, plm)",
    )
    mlm_probability: float = Field(default=0.15, gt=0, lt=1)
    mask_unit: MaskUnit | Literal["ernie"] = Field(
        default="word",
        description="mlm: char (each token), word (jieba words, Chinese-BERT-wwm), phrase, entity "
        "(ERNIE knowledge masking: needs `tokenizer encode --word-boundaries`), or ernie: char, phrase, "
        "entity over thirds of the steps (ERNIE 1.0)",
    )
    noise_density: float = Field(default=0.15, gt=0, lt=1)
    mean_span_length: float = Field(default=3.0, ge=1)
    plm_max_span: int = Field(default=5, ge=1)
    plm_predict_ratio: float = Field(default=1 / 6, gt=0, lt=1)
    plm_mask_alpha: int = Field(default=6, ge=1, description="XLNet mask_alpha: context tokens per span word")
    plm_mask_beta: int = Field(default=1, ge=1, description="XLNet mask_beta")
    # ---- systems
    parallel: Parallel = Field(
        default="ddp", description="data-parallel wrapper: ddp, or fsdp (FSDP2 fully_shard per block)"
    )
    tensor_parallel: int = Field(default=1, ge=1, description="ranks that split each layer's matrices")
    pipeline_parallel: int = Field(default=1, ge=1, description="pipeline stages (consecutive layers)")
    pipeline_schedule: PipelineSchedule = Field(
        default="1f1b",
        description="1f1b or gpipe; the step's grad_accum micro-batches flow through the stages",
    )
    allow_global_batch_change: bool = Field(
        default=False,
        description="resume with another batch_size x grad_accum x data-parallel ranks than the checkpoint's",
    )
    compile: bool = Field(default=False, description="torch.compile the model")
    activation_checkpointing: bool = False
    attn_implementation: Attention | None = Field(default=None, description="None: transformers' default")
    peak_tflops: float | None = Field(
        default=None, gt=0, description="peak bf16 dense TFLOPS per device for MFU; None: known GPUs"
    )
    # ---- evaluation
    eval_every: int | None = Field(default=None, ge=1)
    eval_batches: int = Field(default=8, ge=1, description="batches per rank per evaluation")
    eval_holdout: float = Field(
        default=0.0, ge=0, lt=0.5, description="fraction of each source's documents held out for eval"
    )
    eval_tokens: str | None = Field(
        default=None, description="separate held-out token dir (relative to the run output dir)"
    )

    @model_validator(mode="before")
    @classmethod
    def _whole_word_mask_is_mask_unit(cls, data: Any) -> Any:
        """The old field `whole_word_mask` (true: word, false: char) is read as mask_unit."""
        if not isinstance(data, dict) or "whole_word_mask" not in data:
            return data
        data = dict(data)
        old = data.pop("whole_word_mask")
        if not isinstance(old, bool) or "mask_unit" in data:
            raise ValueError(
                "whole_word_mask is now mask_unit (whole_word_mask: true = mask_unit: word, false = char); "
                "give mask_unit alone"
            )
        return {**data, "mask_unit": "word" if old else "char"}

    @property
    def whole_word_mask(self) -> bool:
        """Deprecated reading of mask_unit: masks more than single tokens."""
        return self.mask_unit != "char"

    @model_validator(mode="after")
    def _objective_matches_arch(self) -> RunConfig:
        allowed = COMPATIBLE[self.objective]
        if self.model.arch not in allowed:
            raise ValueError(
                f"model.arch={self.model.arch!r} cannot train objective={self.objective!r}; "
                f"objective {self.objective!r} needs model.arch in {list(allowed)}"
            )
        if self.eval_every and not (self.eval_holdout > 0 or self.eval_tokens):
            raise ValueError("eval_every needs held-out data: set eval_holdout > 0 or eval_tokens")
        for field, n, archs in (
            ("tensor_parallel", self.tensor_parallel, TENSOR_PARALLEL_ARCHS),
            ("pipeline_parallel", self.pipeline_parallel, PIPELINE_PARALLEL_ARCHS),
        ):
            if n > 1 and self.model.arch not in archs:
                raise ValueError(
                    f"{field}={n}: model.arch={self.model.arch!r} has no {field.replace('_', ' ')} support; "
                    f"use model.arch in {list(archs)} or {field}: 1"
                )
        if self.tensor_parallel > 1 and self.model.arch == "gpt2" and self.parallel == "fsdp":
            raise ValueError(
                "parallel=fsdp with tensor_parallel > 1 is not supported for model.arch='gpt2': FSDP2 does "
                "not reshard its packed q|k|v (c_attn) exactly; use parallel: ddp (or model.arch: llama)"
            )
        if (
            self.pipeline_parallel > 1
            and self.pipeline_schedule == "1f1b"
            and self.grad_accum < self.pipeline_parallel
        ):
            raise ValueError(
                f"grad_accum={self.grad_accum} micro-batches for pipeline_parallel={self.pipeline_parallel} "
                "stages: 1F1B needs at least one micro-batch per stage; raise grad_accum or set "
                "pipeline_schedule: gpipe"
            )
        if self.seq_len % self.tensor_parallel:
            raise ValueError(
                f"seq_len={self.seq_len} is not divisible by tensor_parallel={self.tensor_parallel}: sequence "
                "parallelism splits each sequence evenly over the tensor-parallel ranks; choose a multiple"
            )
        if self.activation_checkpointing and self.model.arch == "xlnet":
            raise ValueError("activation_checkpointing: XLNet does not support gradient checkpointing")
        if (
            self.objective == "mlm"
            and self.doc_attention
            and (self.attn_implementation or "").startswith("flash")
        ):
            raise ValueError(
                "mlm with doc_attention passes a 4D block mask, which flash attention ignores; "
                "use attn_implementation sdpa/eager or doc_attention: false"
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
