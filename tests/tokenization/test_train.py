"""Tokenizer training: id layout, transformers interop (offline), exact round trip, determinism, inputs."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError
from tokenizers import Tokenizer

from pipeline.core.atomic import sha256_file, write_arrow, write_json
from tokenization import special_tokens as st
from tokenization.config import TokenizerConfig
from tokenization.evaluate import tokenizer_report
from tokenization.train import (
    DatasetError,
    iter_dataset_texts,
    iter_input_texts,
    train_tokenizer,
)

REPO = Path(__file__).resolve().parents[2]

ZH = [
    "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
    "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。",
    "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。",
    "千山鸟飞绝，万径人踪灭。孤舟蓑笠翁，独钓寒江雪。",
    "红豆生南国，春来发几枝。愿君多采撷，此物最相思。",
    "慈母手中线，游子身上衣。临行密密缝，意恐迟迟归。",
    "离离原上草，一岁一枯荣。野火烧不尽，春风吹又生。",
    "国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。",
    "锄禾日当午，汗滴禾下土。谁知盘中餐，粒粒皆辛苦。",
    "朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。",
    "学而时习之，不亦说乎？有朋自远方来，不亦乐乎？",
    "今天北京天气晴朗，最高气温二十六度，适合外出散步。",
    "数据清洗是训练语言模型之前最重要的一步。",
    "我们用字节级的BPE分词器来处理中文和英文混合的文本。",
]
EN = [
    "It is a truth universally acknowledged, that a single man in possession of a good fortune must be in want of a wife.",
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness.",
    "Call me Ishmael. Some years ago, never mind how long precisely, I thought I would sail about a little.",
    "All happy families are alike; each unhappy family is unhappy in its own way.",
    "The quick brown fox jumps over the lazy dog while the farmer's children watch from the fence.",
    "In the beginning the river was narrow, and the village on its banks had only a dozen houses.",
    "Training a tokenizer on clean text keeps rare words from wasting the vocabulary.",
    "She opened the letter, read it twice, and then folded it carefully into her pocket.",
    "The committee will meet again on Tuesday, 14 March 2024, at 10:30 in room 301.",
    "Don't forget: we've measured 3.14159 twice, and they'll check it again tomorrow.",
]
TRICKY = [
    "床前明月光，疑是地上霜。",
    "Hello, 世界! 🌍🚀 emoji 👩‍👩‍👧 family",
    "e\u0301 vs é, n\u0303, a\u030a",
    "tabs\tand\nnewlines\r\n  two spaces  \n\n",
    "ＦＵＬＬ－ＷＩＤＴＨ　ＡＢＣ１２３，全角标点：「你好」！",
    " leading space and trailing space ",
    "</s> <s> <pad> <extra_id_0> literal specials",
    "",
    "\u200b zero width \ufeff bom",
]


def make_docs(n: int = 300) -> list[str]:
    """Deterministic mix of Chinese poems and English prose, some docs bilingual."""
    docs = []
    for i in range(n):
        parts = [ZH[i % len(ZH)], EN[(i * 7) % len(EN)]] if i % 3 == 0 else []
        parts += [ZH[(i * 5) % len(ZH)]] if i % 3 == 1 else [EN[i % len(EN)], EN[(i * 3 + 1) % len(EN)]]
        docs.append("\n".join(parts) + f" (第{i}篇, doc {i})")
    return docs


def make_dataset(root: Path, docs: list[str], shards: int = 3, text_col: str = "text") -> Path:
    """A pipeline-contract dataset: manifest.json + Arrow IPC shards with id/text/source."""
    entries = []
    per = -(-len(docs) // shards)
    for s in range(shards):
        chunk = docs[s * per : (s + 1) * per]
        start = s * per
        table = pa.table(
            {
                "id": [f"doc-{start + j:05d}" for j in range(len(chunk))],
                text_col: chunk,
                "source": ["poems" if (start + j) % 3 == 1 else "prose" for j in range(len(chunk))],
            }
        )
        rel = f"data/shard-{s:05d}.arrow"
        write_arrow(root / rel, table)
        entries.append(
            {
                "path": rel,
                "rows": len(chunk),
                "bytes": (root / rel).stat().st_size,
                "sha256": sha256_file(root / rel),
            }
        )
    write_json(root / "manifest.json", {"shards": entries, "name": "test"})
    return root


VOCAB = 1000


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tok")
    train_tokenizer(iter(make_docs()), TokenizerConfig(vocab_size=VOCAB), out)
    return out


def test_sentinel_helpers():
    assert st.LEADING_SPECIAL_TOKENS == ("<pad>", "<s>", "</s>", "<unk>", "<mask>", "<cls>", "<sep>")
    ids = (st.PAD_ID, st.BOS_ID, st.EOS_ID, st.UNK_ID, st.MASK_ID, st.CLS_ID, st.SEP_ID)
    assert ids == (0, 1, 2, 3, 4, 5, 6)
    assert st.sentinel_id(0, 8000) == 7999
    assert st.sentinel_id(99, 8000) == 7900
    assert st.sentinel_tokens_in_id_order()[0] == "<extra_id_99>"
    assert st.sentinel_tokens_in_id_order()[-1] == "<extra_id_0>"
    with pytest.raises(ValueError):
        st.sentinel_id(100, 8000)
    with pytest.raises(ValueError):
        st.sentinel_id(0, 200)


def test_config_validation():
    assert TokenizerConfig().vocab_size == 8000
    with pytest.raises(ValidationError):
        TokenizerConfig(vocab_size=301)  # cannot hold 7 specials + 256 bytes + 100 sentinels
    with pytest.raises(ValidationError):
        TokenizerConfig(kind="unigram")
    assert TokenizerConfig(kind="wordpiece").kind == "wordpiece"
    with pytest.raises(ValidationError, match="bpe"):
        TokenizerConfig(kind="char", split_cjk_chars=True)
    with pytest.raises(ValidationError, match="wordpiece"):
        TokenizerConfig(limit_alphabet=100)
    with pytest.raises(ValidationError):
        TokenizerConfig(vocab_sise=1000)
    cfg = TokenizerConfig(vocab_size=st.MIN_VOCAB_SIZE)
    with pytest.raises(ValidationError):
        cfg.vocab_size = 5000  # frozen


def test_special_token_layout(trained: Path):
    tok = Tokenizer.from_file(str(trained / "tokenizer.json"))
    assert tok.get_vocab_size() == VOCAB
    for i, t in enumerate(st.LEADING_SPECIAL_TOKENS):
        assert tok.token_to_id(t) == i
    for i in range(st.NUM_SENTINELS):
        assert tok.token_to_id(f"<extra_id_{i}>") == VOCAB - 1 - i
    assert tok.id_to_token(VOCAB - 1) == "<extra_id_0>"
    assert tok.id_to_token(VOCAB - 100) == "<extra_id_99>"
    # Everything between the specials and the sentinels is learned BPE, no fillers on this corpus.
    middle = [tok.id_to_token(i) for i in range(7, VOCAB - 100)]
    assert not any(t.startswith("<reserved_") for t in middle)

    m = json.loads((trained / "yuliao_tokenizer.json").read_text())
    assert m["kind"] == "bpe" and m["vocab_size"] == VOCAB
    assert m["tokenizer_json_sha256"] == sha256_file(trained / "tokenizer.json")
    assert m["special_token_ids"]["eos"] == 2 and m["special_token_ids"]["pad"] == 0
    assert m["special_token_ids"]["sentinels"]["extra_id_0"] == VOCAB - 1
    # Every 50th document (0, 50, ...) is held out for the report, as the peer bench holds out.
    trained_on = [d for i, d in enumerate(make_docs()) if i % 50]
    assert m["training"]["docs"] == len(trained_on) == 294 and m["training"]["heldout_docs"] == 6
    assert m["training"]["chars"] == sum(len(d) for d in trained_on)
    report = m["report"]["yuliao"]
    assert report["round_trip_failures"] == 0 and report["heldout_docs"] == 6
    assert report["zh"]["docs"] + report["en"]["docs"] <= 6 and report["tgh_level1_coverage"]["chars"] == 3500
    assert report["checked_docs"] == 6  # all within the report's budgets
    assert m["config"]["vocab_size"] == VOCAB and m["reserved_tokens"] == 0
    # The report was encoded by a copy made while saving: it describes the saved file exactly.
    held = [d for i, d in enumerate(make_docs()) if i % 50 == 0]
    assert tokenizer_report(Tokenizer.from_file(str(trained / "tokenizer.json")), held, "bpe") == report


def test_round_trip_exact(trained: Path):
    tok = Tokenizer.from_file(str(trained / "tokenizer.json"))
    for text in TRICKY + make_docs(20):
        ids = tok.encode(text, add_special_tokens=False).ids
        assert tok.decode(ids, skip_special_tokens=False) == text
        assert st.UNK_ID not in ids
    # Learned merges actually compress the training languages.
    poem = ZH[0]
    assert len(tok.encode(poem).ids) < len(poem.encode()) / 2


def test_autotokenizer_loads_offline_and_matches(trained: Path, tmp_path: Path):
    texts = TRICKY + make_docs(10)
    script = (
        "import json, sys\n"
        "from transformers import AutoTokenizer\n"
        "t = AutoTokenizer.from_pretrained(sys.argv[1])\n"
        "texts = json.loads(sys.stdin.read())\n"
        "ids = [t(x)['input_ids'] for x in texts]\n"
        "print(json.dumps({'ids': ids, 'dec': [t.decode(i) for i in ids], 'len': len(t),\n"
        "  'named': [t.pad_token_id, t.bos_token_id, t.eos_token_id, t.unk_token_id, t.mask_token_id,\n"
        "            t.cls_token_id, t.sep_token_id],\n"
        "  'extra': t.extra_special_tokens, 's0': t.convert_tokens_to_ids('<extra_id_0>')}))\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, "-c", script, str(trained)],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])

    raw = Tokenizer.from_file(str(trained / "tokenizer.json"))
    assert got["ids"] == [raw.encode(x).ids for x in texts]
    assert got["dec"] == texts
    assert got["len"] == VOCAB
    assert got["named"] == [0, 1, 2, 3, 4, 5, 6]
    assert got["s0"] == VOCAB - 1
    assert set(got["extra"]) == {f"<extra_id_{i}>" for i in range(100)}


def test_training_is_byte_identical(tmp_path: Path):
    cfg = TokenizerConfig(vocab_size=800)
    a, b = tmp_path / "a", tmp_path / "b"
    train_tokenizer(iter(make_docs()), cfg, a)
    train_tokenizer(iter(make_docs()), cfg, b)
    for name in ("tokenizer.json", "tokenizer_config.json", "yuliao_tokenizer.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert not [p.name for p in a.iterdir() if p.name.startswith(".")]  # no staging / temp leftovers


def test_small_corpus_pads_with_reserved_tokens(tmp_path: Path):
    m = train_tokenizer(["床前明月光", "hello world"] * 3, TokenizerConfig(vocab_size=600), tmp_path)
    tok = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    assert tok.get_vocab_size() == 600
    assert m["reserved_tokens"] == 600 - 100 - m["learned_vocab_size"] > 0
    assert tok.id_to_token(m["learned_vocab_size"]) == "<reserved_0>"
    assert tok.token_to_id("<extra_id_0>") == 599 and tok.token_to_id("<extra_id_99>") == 500


def test_max_docs_and_empty_input(tmp_path: Path):
    m = train_tokenizer(iter(make_docs()), TokenizerConfig(vocab_size=500, max_docs=7), tmp_path / "a")
    assert m["training"]["docs"] == 6 and m["training"]["heldout_docs"] == 1  # doc 0 held out
    m = train_tokenizer(
        iter(make_docs()), TokenizerConfig(vocab_size=500, max_docs=7, holdout_every=None), tmp_path / "c"
    )
    assert m["training"]["docs"] == 7 and m["training"]["heldout_docs"] == 0
    with pytest.raises(DatasetError, match="no training texts"):
        train_tokenizer(iter([]), TokenizerConfig(vocab_size=500), tmp_path / "b")


def test_iter_dataset_texts_streams_in_manifest_order(tmp_path: Path):
    docs = make_docs(50)
    ds = make_dataset(tmp_path / "ds", docs, shards=4)
    assert list(iter_dataset_texts(ds)) == docs
    assert list(iter_dataset_texts(ds, max_docs=13)) == docs[:13]
    assert list(iter_input_texts(ds)) == docs


def test_iter_input_texts_files(tmp_path: Path):
    docs = make_docs(30)
    lines = "".join(json.dumps({"text": d, "n": i}, ensure_ascii=False) + "\n" for i, d in enumerate(docs))
    (tmp_path / "a.jsonl").write_text(lines, encoding="utf-8")
    with gzip.open(tmp_path / "a.jsonl.gz", "wt", encoding="utf-8") as fh:
        fh.write(lines)
    pq.write_table(pa.table({"body": docs}), tmp_path / "a.parquet")
    assert list(iter_input_texts(tmp_path / "a.jsonl")) == docs
    assert list(iter_input_texts(tmp_path / "a.jsonl.gz", max_docs=5)) == docs[:5]
    assert list(iter_input_texts(tmp_path / "a.parquet", text_field="body")) == docs
    with pytest.raises(DatasetError, match=r"a\.parquet.*'text'"):
        list(iter_input_texts(tmp_path / "a.parquet"))
    with pytest.raises(DatasetError, match=r"a\.jsonl:1: record has no 'body'"):
        list(iter_input_texts(tmp_path / "a.jsonl", text_field="body"))
    (tmp_path / "a.csv").write_text("text\nx\n")
    with pytest.raises(DatasetError, match="unsupported input"):
        iter_input_texts(tmp_path / "a.csv")


def test_bad_dataset_errors_are_clear(tmp_path: Path):
    with pytest.raises(DatasetError, match=r"manifest not found: .*nowhere[/\\]manifest\.json"):
        iter_dataset_texts(tmp_path / "nowhere")
    ds = make_dataset(tmp_path / "ds", make_docs(10), shards=1, text_col="content")
    with pytest.raises(DatasetError, match=r"shard-00000\.arrow: missing column\(s\) \['text'\]"):
        list(iter_dataset_texts(ds))
    assert len(list(iter_dataset_texts(ds, text_field="content"))) == 10
