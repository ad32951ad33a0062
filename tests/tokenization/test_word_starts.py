"""Word boundaries for whole-word masking: jieba for Chinese, letter runs elsewhere, stored per token."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
from tokenizers import Tokenizer
from typer.testing import CliRunner

from pipeline.cli.tokenizer import app
from pipeline.core.atomic import read_arrow, sha256_file, write_arrow, write_json
from tests.tokenization.test_encode import all_texts, make_dataset
from tokenization.config import TokenizerConfig
from tokenization.encode import encode_dataset
from tokenization.train import train_tokenizer
from tokenization.word_starts import word_start_chars, word_start_mask, word_starts


def words_of(text: str) -> list[str]:
    starts = list(word_start_chars(text)) + [len(text)]
    return [text[a:b].strip() for a, b in zip(starts, starts[1:], strict=False)]


def test_word_starts_on_text():
    assert words_of("我们用字节级的分词器") == ["我们", "用", "字节", "级", "的", "分词器"]
    assert words_of("Don't panic, it's 3.14!") == ["Don't", "panic", ",", "it's", "3", ".", "14", "!"]
    assert words_of("Debian系统 很好") == ["Debian", "系统", "很", "好"]
    assert words_of("") == [] and words_of("  \n ") == []


def test_mask_marks_the_first_token_covering_a_word():
    # "中" split into two byte-level pieces sharing one span; " world" carries its space.
    offsets = [(0, 1), (0, 1), (1, 2), (2, 5), (5, 11)]
    mask = word_start_mask(offsets, np.array([0, 2, 6]))
    assert mask.tolist() == [True, False, False, True, True]
    assert word_start_mask([], np.array([0])).tolist() == []


def test_word_starts_with_real_tokenizers(tmp_path: Path):
    train_tokenizer(iter(all_texts()), TokenizerConfig(vocab_size=700, holdout_every=None), tmp_path / "bpe")
    train_tokenizer(
        iter(all_texts()),
        TokenizerConfig(kind="wordpiece", vocab_size=700, holdout_every=None),
        tmp_path / "wp",
    )
    text = "用户评论：这个产品非常好用。Rating excellent"
    for d in ("bpe", "wp"):
        tok = Tokenizer.from_file(str(tmp_path / d / "tokenizer.json"))
        enc = tok.encode(text, add_special_tokens=False)
        mask = word_starts(text, enc.offsets)
        assert len(mask) == len(enc.ids) and mask[0]
        starts = {int(s) for s in word_start_chars(text)}
        for flag, (s, e) in zip(mask, enc.offsets, strict=True):
            if flag:  # a flagged token covers the first character of some word
                assert any(s <= p < e for p in starts), (d, s, e)
        for p in starts:  # ... and the first token covering each word's first character is flagged
            first = next(i for i, (s, e) in enumerate(enc.offsets) if s <= p < e)
            assert mask[first], (d, p)


def test_encode_stores_word_starts_and_reruns_byte_identical(tmp_path: Path):
    ds = make_dataset(tmp_path / "ds")
    train_tokenizer(iter(all_texts()), TokenizerConfig(vocab_size=700, holdout_every=None), tmp_path / "tok")
    m = encode_dataset(ds, tmp_path / "tok", tmp_path / "enc", word_boundaries=True)
    assert m["word_boundaries"] is True
    first = {p.name: p.read_bytes() for p in (tmp_path / "enc").iterdir() if p.is_file()}
    table = read_arrow(tmp_path / "enc" / "shard-00000.arrow")
    assert table.schema.field("word_starts").type == pa.list_(pa.bool_())
    for ids, starts in zip(
        table.column("input_ids").to_pylist(), table.column("word_starts").to_pylist(), strict=True
    ):
        assert len(ids) == len(starts) and starts[0]
    m2 = encode_dataset(ds, tmp_path / "tok", tmp_path / "enc", word_boundaries=True)
    assert {p.name: p.read_bytes() for p in (tmp_path / "enc").iterdir() if p.is_file()} == first and m2 == m
    # Without the flag the done shards are not reused (they would carry a column nobody asked for).
    encode_dataset(ds, tmp_path / "tok", tmp_path / "enc")
    assert "word_starts" not in read_arrow(tmp_path / "enc" / "shard-00000.arrow").schema.names
    r = CliRunner().invoke(
        app,
        [
            "encode",
            "--input",
            str(ds),
            "--tokenizer",
            str(tmp_path / "tok"),
            "--tokens",
            str(tmp_path / "e2"),
            "--word-boundaries",
        ],
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "e2" / "shard-00000.arrow").read_bytes() == first["shard-00000.arrow"]


def test_encode_carries_quality_columns_and_bert_eos(tmp_path: Path):
    root = tmp_path / "ds"
    texts = ["好的文本。", "Some English text.", "垃圾"]
    table = pa.table(
        {
            "id": ["a", "b", "c"],
            "text": texts,
            "source": ["web"] * 3,
            "quality_score": [0.9, 0.5, 0.1],
            "cluster_size": [1, 3, 200],
        }
    )
    write_arrow(root / "data/shard-00000.arrow", table)
    write_json(
        root / "manifest.json",
        {
            "shards": [
                {
                    "path": "data/shard-00000.arrow",
                    "rows": 3,
                    "sha256": sha256_file(root / "data/shard-00000.arrow"),
                }
            ]
        },
    )
    train_tokenizer(
        iter(all_texts()), TokenizerConfig(kind="char", vocab_size=700, holdout_every=None), tmp_path / "tok"
    )
    m = encode_dataset(root, tmp_path / "tok", tmp_path / "enc")
    assert m["eos_id"] == 2 and m["pad_id"] == 0  # "[EOS]" / "[PAD]" at the layout's ids
    out = read_arrow(tmp_path / "enc" / "shard-00000.arrow")
    assert out.column("quality_score").to_pylist() == [0.9, 0.5, 0.1]
    assert out.column("cluster_size").to_pylist() == [1, 3, 200]
    assert json.loads((tmp_path / "enc" / "manifest.json").read_text())["word_boundaries"] is False
