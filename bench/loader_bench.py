"""Pretraining loader throughput per objective, against what one H100 eats training a 124M GPT.

Two numbers per objective (clm, mlm with whole-word masking and document-aware attention, span
corruption, permuted LM), at --seq-len model tokens per example:

* loader tokens/s per DataLoader worker: `PretrainStream` (mixture of two sources, lazily
  memory-mapped Arrow shards, window shuffle, stored word starts, the objective's collator as
  the trainer builds it: `compact`, the [L, L] masks being expanded on the GPU) behind
  `DataLoader(num_workers=1)`, measured in the training process, so reading, collation and the
  worker -> trainer transfer all count (items of about 256k tokens split into micro-batches, as
  the trainer fetches them: `pretrain.train.micro_batches_per_item`);
* collation tokens/s per CPU core: the collator alone on ready chunks, one thread.

Tokens are MODEL INPUT tokens (span corruption reads 568 raw tokens per 512 inputs).

Wall-clock tokens/s of a worker depends on how much of a core it gets; on a shared machine the
per-worker-CPU-second figure (the worker's own user+sys time) is the one the goal is checked
against, and both are printed.

The H100 figure it is compared with (stated, not measured): a 124M GPT-2 (12 layers, d 768,
vocab 50257, seq 1024) costs F = 6N + 12·L·H·Q·T FLOPs per token (`pretrain.mfu`, about 0.85
GFLOP); one H100 SXM at 989 dense bf16 TFLOPS and an assumed 50 % MFU (above the published
35-42 % for small models, so the bar is high) consumes 989e12 × 0.5 / F ≈ 580k tokens/s.  The
loader goal is at least 10× that per worker.

The data is synthetic (random ids in a 32k vocabulary, log-normal document lengths of mean
about 600 tokens, word starts on 60 % of tokens as jieba gives for Chinese), written once to a
temp dir: the loader does not look at token values, so throughput does not depend on them.

Usage:
  python bench/loader_bench.py [--seq-len 512] [--batch-size 16] [--seconds 5] [--objectives clm,mlm,span,plm]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import torch
from torch.utils.data import DataLoader

from pretrain.collate import chunk_length, make_collate, uses_words
from pretrain.config import COMPATIBLE, ModelConfig, RunConfig
from pretrain.data.stream import PretrainStream, micro_batches
from pretrain.objectives import SpecialIds
from pretrain.train import micro_batches_per_item
from tokenization.mixture import mixture_of_weights, write_mixture

VOCAB = 32_000
H100_PEAK = 989e12  # bf16 dense, H100 SXM
ASSUMED_MFU = 0.50


def h100_gpt124m_tokens_per_s() -> tuple[float, float]:
    """(FLOPs per token, tokens/s) of GPT-2 124M at seq 1024 on one H100 at ASSUMED_MFU."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from pretrain.mfu import flops_per_token

    with torch.device("meta"):
        model = GPT2LMHeadModel(GPT2Config())  # 124M: 12 layers, 12 heads, d 768, vocab 50257
    flops = flops_per_token(model, 1024)
    return flops, H100_PEAK * ASSUMED_MFU / flops


def write_shards(out: Path, n_shards: int, docs_per_shard: int, seed: int = 0) -> None:
    """Single-source shards (two sources, alternating) with word starts + manifest + mixture."""
    rng = np.random.default_rng(seed)
    schema = pa.schema(
        [
            ("source", pa.string()),
            ("input_ids", pa.list_(pa.uint16())),
            ("word_starts", pa.list_(pa.bool_())),
        ]
    )
    shards = []
    for i in range(n_shards):
        source = ("web", "books")[i % 2]
        lengths = np.maximum(8, rng.lognormal(np.log(450), 0.75, docs_per_shard).astype(np.int64))
        offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
        ids = pa.array(rng.integers(7, VOCAB - 100, int(lengths.sum()), dtype=np.uint16))
        starts = pa.array(rng.random(int(lengths.sum())) < 0.6)
        table = pa.Table.from_arrays(
            [
                pa.array([source] * docs_per_shard),
                pa.ListArray.from_arrays(offsets, ids),
                pa.ListArray.from_arrays(offsets, starts),
            ],
            schema=schema,
        )
        name = f"shard-{i:05d}.arrow"
        with pa.OSFile(str(out / name), "wb") as sink, pa.ipc.new_file(sink, schema) as w:
            w.write_table(table)
        tokens = int(lengths.sum())
        shards.append(
            {
                "path": name,
                "rows": docs_per_shard,
                "rows_per_source": {source: docs_per_shard},
                "tokens": tokens,
                "tokens_per_source": {source: tokens},
            }
        )
    manifest = {"shards": shards, "eos_id": 2, "pad_id": 0, "dtype": "uint16"}
    (out / "manifest.json").write_text(json.dumps(manifest))
    write_mixture(out / "mixture.json", mixture_of_weights({"web": 0.7, "books": 0.3}, seed=1))


def run_config(objective: str, seq_len: int, batch_size: int) -> RunConfig:
    arch = COMPATIBLE[objective][0]
    return RunConfig(
        name=objective,
        objective=objective,
        model=ModelConfig(arch=arch),
        seq_len=seq_len,
        batch_size=batch_size,
    )


def items_of(run: RunConfig) -> int:
    """Micro-batches per DataLoader item, as the trainer fetches them."""
    return micro_batches_per_item(run, chunk_length(run))


def loader_tokens_per_s(data: Path, run: RunConfig, ids: SpecialIds, seconds: float) -> tuple[float, float]:
    """Model input tokens/s out of one DataLoader worker, measured in this (the trainer's) process:
    per second of wall time, and per CPU second of the worker (the machine may be shared)."""
    per_item = items_of(run)
    stream = PretrainStream(
        data,
        data / "mixture.json",
        make_collate(run, ids, compact=True),
        chunk_len=chunk_length(run),
        batch_size=run.batch_size * per_item,
        seed=0,
        word_starts=uses_words(run),
    )
    loader = DataLoader(stream, batch_size=None, num_workers=1, prefetch_factor=4)
    batches = micro_batches(iter(loader), run.batch_size)
    for _ in range(3 * per_item):  # worker start-up, first shards opened, first shuffle window read
        next(batches)
    worker = psutil.Process(next(p for p in psutil.Process().children() if p.is_running()).pid)
    n, t0, c0 = 0, time.perf_counter(), sum(worker.cpu_times()[:2])
    while time.perf_counter() - t0 < seconds:
        batch = next(batches)
        n += batch["input_ids"].shape[0]
    elapsed, cpu = time.perf_counter() - t0, sum(worker.cpu_times()[:2]) - c0
    del batches, loader
    return n * run.seq_len / elapsed, n * run.seq_len / cpu


def collate_tokens_per_s(data: Path, run: RunConfig, ids: SpecialIds, seconds: float) -> float:
    """Model input tokens/s of the collator alone, one thread, on chunks already in memory."""
    stream = PretrainStream(
        data,
        data / "mixture.json",
        make_collate(run, ids, compact=True),
        chunk_len=chunk_length(run),
        batch_size=run.batch_size,
        seed=0,
        word_starts=uses_words(run),
    )
    from tokenization.stream import DocStream

    chunks, starts = stream.window(DocStream(stream.shards, stream.mixture), 0)  # [WINDOW, C]
    b = run.batch_size * items_of(run)  # one call per DataLoader item, as the worker makes it
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        lo = (n * b) % (len(chunks) - b)
        ws = None if starts is None else starts[lo : lo + b]
        stream.collate_rows(chunks[lo : lo + b], list(range(n * b, n * b + b)), ws)
        n += 1
    return n * b * run.seq_len / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    ap.add_argument("--shards", type=int, default=48)
    ap.add_argument("--docs-per-shard", type=int, default=256)
    ap.add_argument("--objectives", default="clm,mlm,span,plm")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    flops, h100 = h100_gpt124m_tokens_per_s()
    goal = 10 * h100
    print(
        f"H100 reference: GPT-2 124M, seq 1024: {flops / 1e9:.3f} GFLOP/token (6N + 12·L·H·Q·T); "
        f"{H100_PEAK / 1e12:.0f} TFLOPS × {ASSUMED_MFU:.0%} MFU -> {h100:,.0f} tokens/s; "
        f"goal per worker 10× = {goal:,.0f} tokens/s"
    )
    ids = SpecialIds(vocab_size=VOCAB)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        t0 = time.perf_counter()
        write_shards(data, args.shards, args.docs_per_shard)
        total = sum(s["tokens"] for s in json.loads((data / "manifest.json").read_text())["shards"])
        print(
            f"data: {args.shards} shards, {total / 1e6:.1f}M tokens, written in {time.perf_counter() - t0:.1f}s; "
            f"seq_len {args.seq_len}, batch {args.batch_size}, {args.seconds:g}s per measurement, "
            f"{os.cpu_count()} cores (shared)"
        )
        print(
            f"{'objective':<10} {'rows/item':>9} {'loader tok/s/worker':>20} {'× H100':>7} "
            f"{'per worker CPU-s':>17} {'× H100':>7} {'goal':>5} {'collate tok/s/core':>19}"
        )
        for objective in args.objectives.split(","):
            run = run_config(objective, args.seq_len, args.batch_size)
            wall, cpu = loader_tokens_per_s(data, run, ids, args.seconds)
            per_core = collate_tokens_per_s(data, run, ids, args.seconds)
            ok = "ok" if cpu >= goal else "MISS"
            print(
                f"{objective:<10} {run.batch_size * items_of(run):>9} {wall:>20,.0f} {wall / h100:>6.1f}× "
                f"{cpu:>17,.0f} {cpu / h100:>6.1f}× {ok:>5} {per_core:>19,.0f}"
            )


if __name__ == "__main__":
    main()
