"""Tiny end-to-end inputs for pretrain tests: tokenizer dir, token shards + manifest, mixture JSON.

Imported by the test modules (not a conftest) so each module builds what it needs in tmp dirs.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from pipeline.core.atomic import sha256_file, write_arrow, write_json
from pretrain.config import RunConfig
from tokenization.mixture import mixture_of_weights, write_mixture
from tokenization.special_tokens import special_token_strings

SPECIALS = ["<pad>", "<s>", "</s>", "<unk>", "<mask>", "<cls>", "<sep>"]
WEIGHTS = {"web": 0.5, "books": 0.3, "code": 0.2}

_NOUNS = [
    "cat",
    "dog",
    "river",
    "city",
    "teacher",
    "market",
    "garden",
    "window",
    "story",
    "engine",
    "number",
    "letter",
]
_VERBS = ["sees", "builds", "opens", "finds", "reads", "carries", "paints", "follows", "writes", "counts"]
_ADJS = ["small", "old", "quiet", "bright", "green", "heavy", "happy", "strange"]
_ZH = ["我们", "今天", "学习", "中文", "天气", "很好", "城市", "河流", "老师", "市场", "花园", "故事"]


def _sentence(rng: random.Random, source: str) -> str:
    if source == "code":
        v, n = rng.choice(_NOUNS), rng.randint(0, 99)
        return rng.choice(
            [f"def {v}(x): return x + {n}", f"for {v} in range({n}): print({v})", f"{v} = [{n}, {n + 1}]"]
        )
    if source == "books":
        return "".join(rng.choice(_ZH) for _ in range(rng.randint(3, 7))) + "。"
    a, n, v, n2 = rng.choice(_ADJS), rng.choice(_NOUNS), rng.choice(_VERBS), rng.choice(_NOUNS)
    return f"The {a} {n} {v} the {n2}."


def make_docs(per_source: int = 120, seed: int = 0) -> dict[str, list[str]]:
    rng = random.Random(seed)
    return {
        src: [" ".join(_sentence(rng, src) for _ in range(rng.randint(1, 5))) for _ in range(per_source)]
        for src in WEIGHTS
    }


def build_tokenizer(out: Path, texts: list[str], vocab_size: int = 600) -> PreTrainedTokenizerFast:
    """Byte-level BPE with the project's fixed special ids and 100 T5 sentinels at the top."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size - 100,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    sentinels = [f"<extra_id_{i}>" for i in reversed(range(100))]  # <extra_id_0> gets the last id
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        **{f"{role}_token": t for role, t in special_token_strings().items()},
        extra_special_tokens=sentinels,
    )
    fast.save_pretrained(out)
    return fast


_WORD = re.compile(r"\s+|[\u4e00-\u9fff]{1,2}|[^\s\u4e00-\u9fff]+")


def word_start_flags(tokenizer: PreTrainedTokenizerFast, text: str) -> list[bool]:
    """Word-start flag per token, as tokenization writes `word_starts` from jieba.

    The fixture's Chinese is made of two-character words, which jieba returns whole; a regex
    finds the same words here without loading jieba's dictionary (seconds) in every test run.
    """
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    bounds = {m.start() for m in _WORD.finditer(text)}
    return [start in bounds for start, _ in enc["offset_mapping"]]


def build_tokens(
    out: Path,
    tokenizer: PreTrainedTokenizerFast,
    docs: dict[str, list[str]],
    n_shards: int = 2,
    *,
    word_starts: bool = False,
    rows_per_source: bool = True,
) -> None:
    """Arrow shards (sources interleaved across shards) + manifest.json, as the tokenizer stage writes.

    `rows_per_source` is the manifest field the lazy reader needs for multi-source shards (without
    it, it counts each shard's `source` column at start-up); `word_starts` adds word-start flags.
    """
    rows = [(src, i, text) for src, texts in docs.items() for i, text in enumerate(texts)]
    shards, totals = [], dict.fromkeys(docs, 0)
    for s in range(n_shards):
        part = rows[s::n_shards]
        ids = [tokenizer(text, add_special_tokens=False)["input_ids"] for _, _, text in part]
        columns = {
            "id": [f"{src}-{i}" for src, i, _ in part],
            "source": [src for src, _, _ in part],
            "input_ids": pa.array(ids, type=pa.list_(pa.uint16())),
        }
        if word_starts:
            flags = [word_start_flags(tokenizer, text) for _, _, text in part]
            columns["word_starts"] = pa.array(flags, type=pa.list_(pa.bool_()))
        path = out / f"shard-{s:05d}.arrow"
        write_arrow(path, pa.table(columns))
        per_source, rows_of = dict.fromkeys(docs, 0), dict.fromkeys(docs, 0)
        for (src, _, _), x in zip(part, ids, strict=True):
            per_source[src] += len(x)
            rows_of[src] += 1
            totals[src] += len(x)
        entry = {
            "path": path.name,
            "rows": len(part),
            "bytes": path.stat().st_size,
            "sha256": sha256_file(path),
            "tokens": sum(per_source.values()),
            "tokens_per_source": per_source,
        }
        if rows_per_source:
            entry["rows_per_source"] = rows_of
        shards.append(entry)
    write_json(
        out / "manifest.json",
        {
            "shards": shards,
            "tokens_per_source": totals,
            "total_tokens": sum(totals.values()),
            "dtype": "uint16",
            "tokenizer": {"path": "tokenizer", "sha256": "0" * 64, "vocab_size": len(tokenizer)},
            "eos_id": tokenizer.eos_token_id,
            "pad_id": tokenizer.pad_token_id,
        },
    )


def build_mixture(
    path: Path, weights: dict[str, float], seed: int = 1234, budget_tokens: int = 100_000
) -> None:
    """A mixture.json as `yuliao mix` writes it: stream probabilities = the normalised weights."""
    write_mixture(path, {**mixture_of_weights(weights, seed), "budget_tokens": budget_tokens})


@dataclass(frozen=True)
class Workspace:
    tokenizer_dir: Path
    tokens_dir: Path
    mixture_path: Path


def build_workspace(root: Path, per_source: int = 120, **token_kw) -> Workspace:
    docs = make_docs(per_source)
    tokenizer = build_tokenizer(root / "tokenizer", [t for texts in docs.values() for t in texts])
    build_tokens(root / "tokens", tokenizer, docs, **token_kw)
    build_mixture(root / "mixture.json", WEIGHTS)
    return Workspace(root / "tokenizer", root / "tokens", root / "mixture.json")


def doc_tokens(tokens_dir: Path) -> int:
    return int(json.loads((tokens_dir / "manifest.json").read_text())["total_tokens"])


def build_many_shards(
    out: Path, n_shards: int, docs_per_shard: int = 4, doc_len: int = 50, vocab: int = 600, seed: int = 0
) -> dict[str, float]:
    """n single-source shards of random tokens (two sources, alternating) + manifest, written fast.

    Sixteen distinct shard files are serialised once and their bytes written round-robin (the
    reader never looks at a single-source shard's `source` column), so 10,000 shards take about
    a second to write.  Returns a mixture's source weights.
    """
    import numpy as np

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    offsets = pa.array(np.arange(0, (docs_per_shard + 1) * doc_len, doc_len, dtype=np.int32))
    schema = pa.schema([("source", pa.string()), ("input_ids", pa.list_(pa.uint16()))])
    templates = []
    for t in range(16):
        values = pa.array(rng.integers(7, vocab - 100, docs_per_shard * doc_len, dtype=np.uint16))
        table = pa.Table.from_arrays(
            [pa.array([("web", "books")[t % 2]] * docs_per_shard), pa.ListArray.from_arrays(offsets, values)],
            schema=schema,
        )
        sink = pa.BufferOutputStream()
        with pa.ipc.new_file(sink, schema) as w:
            w.write_table(table)
        templates.append(sink.getvalue().to_pybytes())
    shards = []
    tokens = docs_per_shard * doc_len
    for i in range(n_shards):
        source = ("web", "books")[i % 2]
        name = f"shard-{i:05d}.arrow"
        (out / name).write_bytes(templates[i % 16])
        shards.append(
            {"path": name, "rows": docs_per_shard, "tokens": tokens, "tokens_per_source": {source: tokens}}
        )
    write_json(out / "manifest.json", {"shards": shards, "eos_id": 2, "pad_id": 0, "dtype": "uint16"})
    return {"web": 0.5, "books": 0.5}


__all__ = ["Workspace", "build_many_shards", "build_workspace", "doc_tokens"]


def run_and_die_at(step_to_die: int, ws: Workspace, run: RunConfig, out: Path) -> None:
    """In a forked child: train, and SIGKILL ourselves when step `step_to_die` starts (a preemption)."""
    import pretrain.train as T

    real_lr_at = T.lr_at

    def lr_at(step: int, r: RunConfig) -> float:  # called at the start of every step
        if step == step_to_die:
            os.kill(os.getpid(), signal.SIGKILL)
        return real_lr_at(step, r)

    T.lr_at = lr_at
    T.train(run, ws.tokens_dir, ws.mixture_path, ws.tokenizer_dir, out)
