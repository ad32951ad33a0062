"""FLOPs per token against a hand count of each tiny model's matrices, and the MFU train() logs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoTokenizer

from pretrain.config import ModelConfig, RunConfig
from pretrain.metrics import METRICS_FILE, read_metrics
from pretrain.mfu import flops_per_token, matmul_params, mfu, peak_flops
from pretrain.models import build_model
from pretrain.train import train
from tests.pretrain.fixtures import Workspace, build_workspace

# The tiny defaults (`models.tiny_defaults`) at seq_len T = 32, with the fixture's 600-token vocabulary.
D, F, V, L, H, T = 64, 128, 600, 2, 2, 32  # hidden, FFN, vocab, layers, heads, sequence
Q = D // H  # head dim
ATTENTION = 12 * L * H * Q * T  # QK^T and AV: 2 * 2 * T * Q per head and layer forward, x3 with backward

GPT2_PARAMS = (
    L * (
        D * 3 * D + 3 * D  # attn.c_attn: q, k, v  (weight + bias)
        + D * D + D  # attn.c_proj
        + D * F + F  # mlp.c_fc
        + F * D + D  # mlp.c_proj
        + 2 * 2 * D  # ln_1, ln_2 (weight + bias)
    )
    + 2 * D  # ln_f
    + V * D  # the output head: wte used as a matmul (tied); wte and wpe as lookups are not counted
)  # fmt: skip
LLAMA_PARAMS = (
    L * (
        4 * D * D  # q, k, v, o projections (as many kv heads as heads, no biases)
        + 3 * D * F  # gate, up, down
        + 2 * D  # input and post-attention RMSNorm
    )
    + D  # final norm
    + V * D  # lm_head (untied); embed_tokens is a lookup
)  # fmt: skip


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return build_workspace(tmp_path_factory.mktemp("mfu"), per_source=40)


def _run(arch: str, **kw: object) -> RunConfig:
    return RunConfig(name="m", objective="clm", model=ModelConfig(arch=arch), seq_len=T, **kw)


@pytest.mark.parametrize(("arch", "params"), [("gpt2", GPT2_PARAMS), ("llama", LLAMA_PARAMS)])
def test_flops_per_token_is_the_hand_count(ws: Workspace, arch: str, params: int) -> None:
    model = build_model(_run(arch), AutoTokenizer.from_pretrained(ws.tokenizer_dir))
    assert matmul_params(model) == params
    assert flops_per_token(model, T) == 6 * params + ATTENTION
    assert {"gpt2": 681_984, "llama": 772_992}[arch] == 6 * params + ATTENTION  # the numbers written out


def test_mfu_is_model_flops_over_peak() -> None:
    assert mfu(1000.0, 681_984.0, 2e12) == pytest.approx(1000 * 681_984 / 2e12)
    assert mfu(1000.0, 681_984.0, None) is None
    assert peak_flops(torch.device("cpu")) is None  # unknown peak: MFU is not reported
    assert peak_flops(torch.device("cpu"), 1.5) == 1.5e12


def test_train_logs_mfu_from_the_hand_count(ws: Workspace, tmp_path: Path) -> None:
    peak_tflops = 1e-3  # a CPU-sized peak so that MFU is reported
    result = train(
        _run("gpt2", batch_size=4, steps=3, log_every=1, peak_tflops=peak_tflops),
        ws.tokens_dir, ws.mixture_path, ws.tokenizer_dir, tmp_path,
    )  # fmt: skip
    assert result["flops_per_token"] == 6 * GPT2_PARAMS + ATTENTION
    rows = read_metrics(tmp_path / METRICS_FILE, "train")
    assert len(rows) == 3
    for row in rows:  # one process: every token of the step on this device
        assert row["mfu"] == pytest.approx(
            row["tokens_per_s"] * (6 * GPT2_PARAMS + ATTENTION) / (peak_tflops * 1e12)
        )
