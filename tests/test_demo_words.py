"""`yuliao demo`'s BERT does Chinese whole-word masking: the demo's encode stores jieba word starts.

The demo's data path in small: Chinese documents → byte-level BPE → `encode_for_runs` (the demo's
encode step, with the demo manifest's runs) → the trainer's stream and collator for the demo's
BERT run.  A jieba word of several tokens is then masked whole or not at all; encoded without
word boundaries, the same run masks single characters of such words.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from pipeline.cli.demo import encode_for_runs
from pipeline.cli.manifest import Manifest, load_manifest
from pipeline.core.atomic import sha256_file, write_arrow, write_json
from pretrain.collate import chunk_length, make_collate, uses_words
from pretrain.config import RunConfig
from pretrain.data.stream import PretrainStream
from pretrain.objectives import WordTable, special_ids
from pretrain.train import load_tokenizer
from tokenization.encode import encode_dataset
from tokenization.mixture import mixture_of_weights
from tokenization.shards import TokenShards
from tokenization.train import train_tokenizer

DEMO = Path(__file__).resolve().parents[1] / "manifests" / "demo.yaml"
# Words jieba keeps whole.  The BPE learns their characters from a shuffled soup of them, so each
# character is one token and every word of two or more characters is two or more tokens.
WORDS = [
    "我们", "今天", "学习", "中文", "天气", "城市", "老师", "市场", "花园", "故事", "图书馆", "计算机",
    "北京", "大学", "工程师", "自然", "语言", "处理", "模型", "数据", "训练", "飞机", "火车", "朋友",
]  # fmt: skip
BATCHES = 6


def _texts(n: int = 120, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [
        "".join(rng.choice(WORDS) + rng.choice(["", "", "，", "的"]) for _ in range(30)) + "。"
        for _ in range(n)
    ]


def _dataset(root: Path, texts: list[str]) -> Path:
    shard = root / "data" / "shard-00000.arrow"
    ids = [f"web-{i:04d}" for i in range(len(texts))]
    write_arrow(shard, pa.table({"id": ids, "text": texts, "source": ["web"] * len(texts)}))
    entry = {"path": "data/shard-00000.arrow", "rows": len(texts), "sha256": sha256_file(shard)}
    write_json(root / "manifest.json", {"shards": [entry]})
    return root


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Manifest, Path]:
    root = tmp_path_factory.mktemp("demo_words")
    m = load_manifest(DEMO)
    texts = _texts()
    dataset = _dataset(root / "dataset", texts)
    chars = sorted(set("".join(texts)))
    rng = random.Random(1)
    soup = ["".join(rng.choice(chars) for _ in range(100)) for _ in range(50)]
    cfg = m.tokenizer.model_copy(update={"vocab_size": 500, "holdout_every": None})
    train_tokenizer(iter(soup), cfg, root / "tokenizer")
    tokenizer = load_tokenizer(root / "tokenizer")
    assert all(len(tokenizer(c, add_special_tokens=False)["input_ids"]) == 1 for c in chars)
    encode_for_runs(m, dataset, root / "tokenizer", root / "demo")  # what the demo stores
    # The same ids with and without jieba word starts: the truth to check against, and the contrast.
    encode_dataset(dataset, root / "tokenizer", root / "jieba", word_boundaries=True)
    encode_dataset(dataset, root / "tokenizer", root / "plain")
    return m, root


def _stream(
    root: Path, tokens: str, run: RunConfig, collate=None, words: bool | None = None
) -> PretrainStream:
    """The trainer's stream for `run` (pretrain/train.py), or `collate` over the same examples."""
    tokenizer = load_tokenizer(root / "tokenizer")
    ids = special_ids(tokenizer)
    table = WordTable.from_tokenizer(tokenizer, ids.special) if uses_words(run) else None
    return PretrainStream(
        TokenShards(root / tokens),
        mixture_of_weights({"web": 1.0}, seed=3),
        collate or make_collate(run, ids, table, compact=True),
        chunk_len=chunk_length(run),
        batch_size=run.batch_size,
        seed=run.seed,
        word_starts=uses_words(run) if words is None else words,
    )


def _jieba_words(chunks: np.ndarray, rngs=None, word_starts: np.ndarray | None = None) -> dict:
    """A 'collator' that hands back each example's tokens and stored jieba word starts."""
    assert word_starts is not None
    return {"tokens": torch.from_numpy(chunks), "starts": torch.from_numpy(word_starts)}


def _run(m: Manifest, objective: str) -> RunConfig:
    return next(r for r in m.pretrain.runs if r.objective == objective)


def masked_words(root: Path, tokens: str, run: RunConfig) -> tuple[int, int]:
    """(jieba words of 2+ characters masked whole, such words masked in part) over the first batches."""
    truth = _stream(root, "jieba", run, collate=_jieba_words, words=True).iter_batches()
    whole = part = 0
    batches = zip(_stream(root, tokens, run).iter_batches(), truth, range(BATCHES), strict=False)
    for (_, batch), (_, words), _ in batches:
        n = words["tokens"].shape[1]
        original = torch.where(batch["labels"] != -100, batch["labels"], batch["input_ids"])[:, 1 : n + 1]
        assert torch.equal(original, words["tokens"])  # the same examples, framed as <cls> chunk <sep>
        selected = (batch["labels"][:, 1 : n + 1] != -100).numpy()
        for sel, starts in zip(selected, words["starts"].numpy(), strict=True):
            word = np.cumsum(starts)  # word number of each token (a chunk may open mid-word)
            for w in np.unique(word[sel]):
                hit = sel[word == w]
                if len(hit) > 1:
                    whole += int(hit.all())
                    part += int(not hit.all())
    return whole, part


def test_demo_bert_masks_jieba_words_whole(demo: tuple[Manifest, Path]) -> None:
    m, root = demo
    bert = _run(m, "mlm")
    assert bert.whole_word_mask
    whole, part = masked_words(root, "demo", bert)
    assert part == 0 and whole >= 50, (whole, part)
    # Without the stored starts every Chinese character is a "word": pieces of words get masked.
    whole_plain, part_plain = masked_words(root, "plain", bert)
    assert part_plain >= 50, (whole_plain, part_plain)
    # Runs that use no words read no word starts: their batches are the same with the extra column.
    for objective in ("clm", "span"):
        run = _run(m, objective)
        pairs = zip(_stream(root, "demo", run), _stream(root, "plain", run), range(BATCHES), strict=False)
        for a, b, _ in pairs:
            assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a), objective
