"""Trainer throughput and MFU: a 350M Llama-style causal LM, bf16, seq 2048, next to a bare nanoGPT loop.

Four measurements in one run, on the same model (same init) and the same token data:

  trainer        `pretrain.train.train` (DataLoader workers, doc-aware packing, loss normalised
                 by target tokens, grad clipping, fused AdamW, warmup + cosine, bf16 autocast)
  trainer+compile  the same with `compile: true`
  bare           a nanoGPT-style loop: pinned batch -> GPU, autocast forward, cross-entropy,
                 backward, clip, fused AdamW step; nothing else
  bare+compile   the same on `torch.compile(model)`

Tokens/s is model input tokens per second over the measured steps (after warm-up steps that
include compilation); the trainer's figure is its own logged tokens/s for the last log interval.
MFU = tokens/s × F / peak, with F = 6N + 12·L·H·Q·T FLOPs per token (`pretrain.mfu`: N matmul
parameters, L layers, H heads, Q head dim, T sequence length; PaLM appendix B, as nanoGPT) and
peak = the device's dense bf16 peak (H100 SXM: 989 TFLOPS; `--peak-tflops` to override).
Goal on one H100: MFU >= 45 % and trainer >= 0.95 × bare.

Without a GPU it runs the same four measurements on the CPU with a tiny model (`--tiny`, also
the default when CUDA is absent); MFU is then not defined and is printed as n/a.

Usage:
  python bench/gpu_bench.py                      # H100: 350M, seq 2048, batch 8
  python bench/gpu_bench.py --tiny --steps 20 --workers 1   # CPU smoke run
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch
import torch.nn.functional as F

from pretrain.collate import make_collate
from pretrain.config import ModelConfig, RunConfig
from pretrain.data.stream import PretrainStream
from pretrain.metrics import read_metrics
from pretrain.mfu import flops_per_token, peak_flops
from pretrain.models import build_model
from pretrain.objectives import special_ids
from pretrain.train import make_optimizer, train
from tokenization.mixture import mixture_of_weights, write_mixture
from tokenization.special_tokens import special_token_strings

VOCAB = 32_000  # tiny (CPU) runs use 2,000
LLAMA_350M = {  # 24 x (4·1024² attention + 3·1024·2560 MLP) + 2 x 32000·1024 embeddings ≈ 355M
    "hidden_size": 1024,
    "num_hidden_layers": 24,
    "num_attention_heads": 16,
    "num_key_value_heads": 16,
    "intermediate_size": 2560,
    "tie_word_embeddings": False,
}


def write_tokenizer(out: Path, vocab_size: int) -> None:
    """A word-level tokenizer with the project's special ids and 100 sentinels at the top (no training)."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>", "<unk>", "<mask>", "<cls>", "<sep>"]
    sentinels = [f"<extra_id_{i}>" for i in reversed(range(100))]
    plain = [f"w{i}" for i in range(vocab_size - len(specials) - len(sentinels))]
    vocab = {t: i for i, t in enumerate([*specials, *plain, *sentinels])}
    fast = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="<unk>")),
        **{f"{role}_token": t for role, t in special_token_strings().items()},
        extra_special_tokens=sentinels,
    )
    fast.save_pretrained(out)


def write_tokens(out: Path, n_tokens: int, vocab_size: int, seed: int = 0) -> None:
    """Random-id documents (log-normal lengths, mean ~1k tokens) in 4 shards + manifest + mixture."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    schema = pa.schema([("source", pa.string()), ("input_ids", pa.list_(pa.uint16()))])
    shards = []
    for i in range(4):
        lengths = np.maximum(16, rng.lognormal(np.log(700), 0.8, max(8, n_tokens // 4 // 900))).astype(
            np.int64
        )
        offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
        values = pa.array(rng.integers(7, vocab_size - 100, int(lengths.sum()), dtype=np.uint16))
        table = pa.Table.from_arrays(
            [pa.array(["web"] * len(lengths)), pa.ListArray.from_arrays(offsets, values)], schema=schema
        )
        name = f"shard-{i:05d}.arrow"
        with pa.OSFile(str(out / name), "wb") as sink, pa.ipc.new_file(sink, schema) as w:
            w.write_table(table)
        n = int(lengths.sum())
        shards.append(
            {
                "path": name,
                "rows": len(lengths),
                "rows_per_source": {"web": len(lengths)},
                "tokens": n,
                "tokens_per_source": {"web": n},
            }
        )
    (out / "manifest.json").write_text(json.dumps({"shards": shards, "eos_id": 2, "pad_id": 0}))
    write_mixture(out / "mixture.json", mixture_of_weights({"web": 1.0}, seed=1))


def trainer_tokens_per_s(run: RunConfig, root: Path, name: str) -> float:
    """The trainer's own logged tokens/s over its last log interval (warm-up steps excluded)."""
    out = root / name
    train(run, root / "tokens", root / "tokens" / "mixture.json", root / "tokenizer", out)
    return float(read_metrics(out / "metrics.jsonl", "train")[-1]["tokens_per_s"])


def bare_tokens_per_s(run: RunConfig, root: Path, device: torch.device, compile_model: bool) -> float:
    """nanoGPT's loop on the same model, init and batches (read once, pinned, copied per step)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(root / "tokenizer", local_files_only=True)
    stream = PretrainStream(
        root / "tokens",
        root / "tokens" / "mixture.json",
        make_collate(run, special_ids(tokenizer)),
        chunk_len=run.seq_len,
        batch_size=run.batch_size,
        seed=run.seed,
    )
    pin = device.type == "cuda"
    batches = [
        {k: (v.pin_memory() if pin else v) for k, v in b.items()}
        for b, _ in zip(stream, range(run.steps), strict=False)
    ]
    model = build_model(run, tokenizer).to(device).train()
    optimizer = make_optimizer(model, run, device)
    forward = torch.compile(model) if compile_model else model
    autocast = (
        torch.autocast(device_type="cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()
    )
    warmup = run.steps - run.log_every
    for step, batch in enumerate(batches):
        if step == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
        x = batch["input_ids"].to(device, non_blocking=True)  # [B, T]
        pos = batch["position_ids"].to(device, non_blocking=True)  # [B, T]
        y = batch["labels"].to(device, non_blocking=True)  # [B, T]
        with autocast:
            logits = forward(input_ids=x, position_ids=pos, use_cache=False).logits  # [B, T, V]
            loss = F.cross_entropy(
                logits[:, :-1].reshape(-1, logits.size(-1)).float(), y[:, 1:].reshape(-1), ignore_index=-100
            )
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), run.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    if device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - t0
    assert math.isfinite(loss.item())
    return run.log_every * run.batch_size * run.seq_len / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true", help="tiny model, seq 64 (the default without CUDA)")
    ap.add_argument("--seq-len", type=int, default=None, help="default 2048 (tiny: 64)")
    ap.add_argument("--batch-size", type=int, default=None, help="default 8 (tiny: 4)")
    ap.add_argument("--steps", type=int, default=30, help="steps per measurement, the first half warm-up")
    ap.add_argument("--workers", type=int, default=4, help="trainer DataLoader workers")
    ap.add_argument("--no-compile", action="store_true", help="skip the two torch.compile measurements")
    ap.add_argument("--peak-tflops", type=float, default=None, help="peak bf16 TFLOPS (default: by GPU name)")
    args = ap.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tiny = args.tiny or device.type != "cuda"
    seq_len = args.seq_len or (64 if tiny else 2048)
    batch = args.batch_size or (4 if tiny else 8)
    measured = args.steps // 2
    base = RunConfig(
        name="bench",
        objective="clm",
        model=ModelConfig(arch="llama", overrides={} if tiny else LLAMA_350M),
        seq_len=seq_len,
        batch_size=batch,
        steps=2 * measured,
        log_every=measured,  # two log lines: warm-up (compile included), then the measured steps
        warmup_steps=2,
        lr=3e-4,
        num_workers=args.workers,
        peak_tflops=args.peak_tflops,
    )
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        vocab = 2_000 if tiny else VOCAB
        write_tokenizer(root / "tokenizer", vocab)
        write_tokens(root / "tokens", max(2_000_000, 2 * base.steps * batch * seq_len), vocab)
        from transformers import AutoTokenizer

        model = build_model(base, AutoTokenizer.from_pretrained(root / "tokenizer", local_files_only=True))
        flops = flops_per_token(model, seq_len)
        params = sum(p.numel() for p in model.parameters())
        del model
        peak = peak_flops(device, args.peak_tflops)
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (no GPU available)"
        print(
            f"device: {name}; model: llama {params / 1e6:.1f}M params, seq {seq_len}, batch {batch}, "
            f"{'bf16 autocast' if device.type == 'cuda' else 'fp32'}; {measured} measured steps after "
            f"{measured} warm-up\nF = 6N + 12·L·H·Q·T = {flops / 1e9:.3f} GFLOP/token; peak "
            + (f"{peak / 1e12:.0f} TFLOPS" if peak else "n/a (MFU not defined on CPU)")
        )
        rows = []
        for compiled in [False] if args.no_compile else [False, True]:
            run = base.model_copy(update={"compile": compiled})
            suffix = "+compile" if compiled else ""
            bare = bare_tokens_per_s(run, root, device, compiled)
            ours = trainer_tokens_per_s(run, root, f"trainer{suffix}")
            rows += [(f"trainer{suffix}", ours, ours / bare), (f"bare{suffix}", bare, 1.0)]
        print(f"{'loop':<18} {'tokens/s':>12} {'MFU':>7} {'vs bare':>8}")
        for label, tok_s, ratio in rows:
            mfu = f"{100 * tok_s * flops / peak:.1f}%" if peak else "n/a"
            print(f"{label:<18} {tok_s:>12,.0f} {mfu:>7} {ratio:>7.3f}×")


if __name__ == "__main__":
    main()
