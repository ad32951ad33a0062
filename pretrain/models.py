"""Models from transformers config classes only (nothing is downloaded): tiny defaults + overrides."""

from __future__ import annotations

import inspect
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoModelForMaskedLM,
    AutoModelForSeq2SeqLM,
    BertConfig,
    GPT2Config,
    LlamaConfig,
    PretrainedConfig,
    PreTrainedModel,
    RobertaConfig,
    T5Config,
    XLNetConfig,
)

from pretrain.config import RunConfig

CONFIG_CLASS: dict[str, type[PretrainedConfig]] = {
    "gpt2": GPT2Config,
    "llama": LlamaConfig,
    "bert": BertConfig,
    "roberta": RobertaConfig,
    "t5": T5Config,
    "xlnet": XLNetConfig,
}

# The Auto class that builds (and later reloads) each architecture with its pretraining head.
AUTO_CLASS: dict[str, Any] = {
    "gpt2": AutoModelForCausalLM,
    "llama": AutoModelForCausalLM,
    "bert": AutoModelForMaskedLM,
    "roberta": AutoModelForMaskedLM,
    "t5": AutoModelForSeq2SeqLM,
    "xlnet": AutoModelForCausalLM,  # maps to XLNetLMHeadModel
}


def tiny_defaults(arch: str, seq_len: int) -> dict[str, Any]:
    """Hidden 64, 2 layers, 2 heads, FFN 128, no dropout: seconds per run on a CPU."""
    if arch == "gpt2":
        return {"n_embd": 64, "n_layer": 2, "n_head": 2, "n_inner": 128, "n_positions": seq_len,
                "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0}  # fmt: skip
    if arch == "llama":
        return {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 2,
                "intermediate_size": 128, "max_position_embeddings": seq_len}  # fmt: skip
    if arch in ("bert", "roberta"):
        return {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128,
                "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0,
                # RoBERTa numbers positions from pad_id+1, so it needs two spare slots
                "max_position_embeddings": seq_len + 2 if arch == "roberta" else seq_len,
                "type_vocab_size": 1 if arch == "roberta" else 2}  # fmt: skip
    if arch == "t5":
        return {"d_model": 64, "d_kv": 32, "d_ff": 128, "num_layers": 2, "num_heads": 2, "dropout_rate": 0.0}
    if arch == "xlnet":
        return {"d_model": 64, "n_layer": 2, "n_head": 2, "d_inner": 128, "dropout": 0.0, "mem_len": None}
    raise ValueError(f"unknown arch {arch!r}")


def model_config(run: RunConfig, tokenizer: Any) -> PretrainedConfig:
    """Config = tiny defaults, special ids from the tokenizer, then the run's overrides on top."""
    cls = CONFIG_CLASS[run.model.arch]
    known = set(cls().to_dict()) | set(inspect.signature(cls.__init__).parameters)
    unknown = sorted(set(run.model.overrides) - known)
    if unknown:
        raise ValueError(f"model.overrides: {unknown} are not fields of {cls.__name__}")
    special = {
        "vocab_size": len(tokenizer),
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }
    if run.model.arch == "t5":
        special["decoder_start_token_id"] = tokenizer.pad_token_id  # T5 starts decoding from <pad>
    return cls(**{**tiny_defaults(run.model.arch, run.seq_len), **special, **run.model.overrides})


def build_model(run: RunConfig, tokenizer: Any) -> PreTrainedModel:
    """A freshly initialised fp32 model on the CPU; the seed makes the init reproducible."""
    config = model_config(run, tokenizer)
    torch.manual_seed(run.seed)
    extra = {"attn_implementation": run.attn_implementation} if run.attn_implementation else {}
    return AUTO_CLASS[run.model.arch].from_config(config, **extra)


def enable_activation_checkpointing(model: torch.nn.Module) -> None:
    """Recompute each block's activations in the backward pass (non-reentrant, as FSDP2 needs).

    `model` is an HF model or holds one (a pipeline stage holds the HF base model of its layers)."""
    model = next(m for m in model.modules() if isinstance(m, PreTrainedModel))
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.2x; the old name warns
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def transformer_blocks(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The repeated layers (units for FSDP sharding): the HF model's `_no_split_modules` (a pipeline stage:
    its HF base model's), else the items of ModuleLists / ModuleDicts."""
    hf = next((m for m in model.modules() if isinstance(m, PreTrainedModel)), model)
    names = set(getattr(hf, "_no_split_modules", None) or ()) - {"BertEmbeddings", "RobertaEmbeddings"}
    blocks = [m for m in model.modules() if type(m).__name__ in names]
    if not blocks:
        lists = [c for c in model.modules() if isinstance(c, torch.nn.ModuleList | torch.nn.ModuleDict)]
        blocks = [m for c in lists for m in (c.values() if isinstance(c, torch.nn.ModuleDict) else c)]
    return blocks
