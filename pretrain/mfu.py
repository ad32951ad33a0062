"""Model FLOPs utilisation: achieved model FLOPs per second over the device's peak.

FLOPs per trained token (PaLM, appendix B; nanoGPT's estimate_mfu):

    6 * N  +  12 * L * H * Q * T

N = parameters that take part in matrix multiplies (all parameters minus the token and position
embedding tables, plus the output head: a tied head counts once, as a matmul), L layers, H heads,
Q head dim, T sequence length; 6 = forward 2 + backward 4 FLOPs per weight per token, and the
attention term counts QK^T and AV over the full T x T square (as PaLM does, even for causal or
document-masked attention, which do less work).  Activation recomputation is not counted (MFU,
not HFU).  For T5 the layers are encoder + decoder; XLNet's two-stream attention does about
twice the attention work — both are approximations.

Peak: bf16 dense tensor-core FLOPS of the device, from its name (H100 SXM 989 TFLOPS), or
RunConfig.peak_tflops; None on a CPU (MFU is not reported).
"""

from __future__ import annotations

import torch

PEAK_TFLOPS = {  # bf16 dense, no sparsity
    "H200": 989.0,
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
    "H100": 989.0,  # SXM
    "GH200": 989.0,
    "B200": 2250.0,
    "A100": 312.0,
    "L40S": 362.0,
    "A10G": 125.0,
    "RTX 4090": 165.0,
}


def matmul_params(model: torch.nn.Module) -> int:
    """Parameters used in matmuls: all minus the embedding lookup tables, plus the output head once."""
    total = sum(p.numel() for p in model.parameters())
    skip = model.get_input_embeddings().weight.numel()
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Embedding) and name.split(".")[-1] in ("wpe", "position_embeddings"):
            skip += module.weight.numel()
    head = model.get_output_embeddings()
    tied = head is not None and head.weight is model.get_input_embeddings().weight
    return total - skip + (head.weight.numel() if tied else 0)


def flops_per_token(model: torch.nn.Module, seq_len: int) -> float:
    """6N + 12·L·H·Q·T (see the module docstring)."""
    c = model.config
    layers = c.num_hidden_layers + (getattr(c, "num_decoder_layers", 0) or 0 if c.model_type == "t5" else 0)
    heads = c.num_attention_heads
    head_dim = getattr(c, "head_dim", None) or getattr(c, "d_head", None) or c.hidden_size // heads
    return 6.0 * matmul_params(model) + 12.0 * layers * heads * head_dim * seq_len


def peak_flops(device: torch.device, override_tflops: float | None = None) -> float | None:
    """Peak FLOPS of one device, or None when unknown (CPU)."""
    if override_tflops:
        return override_tflops * 1e12
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, tflops in PEAK_TFLOPS.items():  # ordered: specific names before generic ones
        if key in name:
            return tflops * 1e12
    return None


def mfu(tokens_per_s: float, flops_tok: float, peak: float | None) -> float | None:
    return None if not peak else tokens_per_s * flops_tok / peak
