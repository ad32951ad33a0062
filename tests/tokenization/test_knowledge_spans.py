"""Phrases and entities from jieba (ERNIE knowledge masking), stored by encode as unit-start columns."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from tokenizers import Tokenizer
from warcio.archiveiterator import ArchiveIterator

from pipeline.core.atomic import read_arrow, sha256_file, write_arrow, write_json
from tokenization.config import TokenizerConfig
from tokenization.encode import encode_dataset
from tokenization.knowledge_spans import UNIT_COLUMNS, join_spans, merge, spans
from tokenization.shards import TokenShards
from tokenization.train import train_tokenizer

SAMPLE = Path(__file__).resolve().parents[2] / "pipeline" / "sample_data"
# Modern sentences with people, places and organisations; several places are two jieba words
# (浙江/杭州), which only the entity spans keep together.
SENTENCES = [
    "李白和杜甫是唐代最著名的诗人。",
    "我们今天去中国北京的天安门广场参观。",
    "浙江杭州的阿里巴巴集团发布了新版本的大型语言模型。",
    "广东深圳是一座年轻的城市，很多科技公司的总部就在那里。",
    "江苏南京有很多历史文化遗产。",
    "北京大学和清华大学都在北京市海淀区。",
    "美国纽约和日本东京都是国际金融中心。",
    "王维的山水诗描写了终南山的自然风光。",
    "四川成都的大熊猫繁育研究基地吸引了大量游客。",
    "孟浩然曾经在湖北襄阳隐居。",
    "湖南长沙的岳麓书院是古代著名的书院。",
    "苏轼在杭州西湖修建了苏堤。",
    "中国科学院的研究人员发表了新的研究成果。",
    "山东济南被称为泉城。",
    "欧阳修和王安石都是宋代文学家。",
    "福建厦门的鼓浪屿风景优美。",
]


def poems() -> list[str]:
    """The bundled crawl's Tang and Song poems (300 plain-text records, about 130k characters)."""
    with (SAMPLE / "poems.warc.gz").open("rb") as fh:
        return [r.content_stream().read().decode() for r in ArchiveIterator(fh) if r.rec_type == "response"]


def sentence_docs(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(SENTENCES) for _ in range(6)) for _ in range(n)]


def write_dataset(root: Path, texts: list[str]) -> Path:
    shard = root / "data" / "shard-00000.arrow"
    ids = [f"zh-{i:04d}" for i in range(len(texts))]
    write_arrow(shard, pa.table({"id": ids, "text": texts, "source": ["zh"] * len(texts)}))
    write_json(
        root / "manifest.json",
        {"shards": [{"path": "data/shard-00000.arrow", "rows": len(texts), "sha256": sha256_file(shard)}]},
    )
    return root


def texts_of(text: str, pairs: np.ndarray) -> list[str]:
    return [text[a:b] for a, b in pairs.tolist()]


def test_phrases_and_entities_from_jieba_tags() -> None:
    text = "浙江杭州的阿里巴巴集团发布了新版本的大型语言模型。"
    _, phrases, entities = spans(text)
    assert texts_of(text, entities) == ["浙江杭州", "阿里巴巴"]  # ns+ns joined; 阿里巴巴 nrt
    assert texts_of(text, phrases) == ["浙江杭州", "阿里巴巴集团", "新版本", "大型语言模型"]
    # the entity level keeps both whole: overlapping spans join
    assert texts_of(text, merge(phrases, entities)) == ["浙江杭州", "阿里巴巴集团", "新版本", "大型语言模型"]
    text = "北京大学和清华大学都在北京市海淀区。"
    assert texts_of(text, spans(text)[2]) == ["北京大学", "清华大学", "北京市海淀区"]  # nt, nt, ns+ns
    text = "Debian系统的文件权限，李白 杜甫"  # phrases and entities stay inside one run of Han text
    _, phrases, entities = spans(text)
    assert texts_of(text, phrases) == ["文件权限"] and texts_of(text, entities) == ["李白", "杜甫"]
    assert [len(x) for x in spans("")] == [0, 0, 0]


def test_a_token_straddling_a_span_joins_its_unit() -> None:
    # words start at characters 0, 2, 4, 6, 7; the span [2, 6) is two words; token 3 covers the
    # span's last character and the next word's first: it joins the span, and so does that word.
    offsets = [(0, 2), (2, 3), (3, 5), (5, 7), (7, 8)]
    words = np.array([True, True, True, True, True])
    assert join_spans(words, offsets, np.array([[2, 6]])).tolist() == [True, True, False, False, True]
    assert join_spans(words, offsets, np.zeros((0, 2), np.int64)).tolist() == words.tolist()
    assert merge(np.array([[0, 4], [6, 8]]), np.array([[3, 5], [8, 9]])).tolist() == [[0, 5], [6, 8], [8, 9]]


def test_encode_stores_unit_columns_that_keep_spans_whole(tmp_path: Path) -> None:
    texts = [*sentence_docs(40), *poems()[:20]]
    train_tokenizer(iter(texts), TokenizerConfig(vocab_size=800, holdout_every=None), tmp_path / "tok")
    tok = Tokenizer.from_file(str(tmp_path / "tok" / "tokenizer.json"))
    dataset = write_dataset(tmp_path / "ds", texts)
    m = encode_dataset(dataset, tmp_path / "tok", tmp_path / "enc", word_boundaries=True)
    assert m["knowledge_spans"] is True
    shard_path = tmp_path / "enc" / "shard-00000.arrow"
    table = read_arrow(shard_path)
    assert all(table.schema.field(c).type == pa.list_(pa.bool_()) for c in UNIT_COLUMNS)
    word, phrase, entity = (table.column(c).to_pylist() for c in UNIT_COLUMNS)
    whole = {"phrase": 0, "entity": 0}
    for text, ids, w, p, e in zip(
        texts, table.column("input_ids").to_pylist(), word, phrase, entity, strict=True
    ):
        w, p, e = np.array(w), np.array(p), np.array(e)
        assert len(w) == len(p) == len(e) == len(ids)
        assert not (e & ~p).any()  # entity-level units join phrase-level ones
        offsets = np.array(tok.encode(text, add_special_tokens=False).offsets)
        _, phrases, entities = spans(text)
        for level, flags, pairs in (("phrase", p, phrases), ("entity", e, merge(phrases, entities))):
            for s, end in pairs.tolist():
                inside = np.flatnonzero((offsets[:, 1] > s) & (offsets[:, 0] < end))  # tokens overlapping it
                assert flags[inside[0]] and not flags[inside[1:]].any(), (level, text[s:end])
                whole[level] += int(w[inside[1:]].any())  # a span of several words
    assert whole["phrase"] >= 100 and whole["entity"] >= 100, whole

    # A shard written before knowledge spans (no columns, no marker) under a manifest that claims
    # them is refused by name; rerunning encode rewrites it.
    old = table.drop_columns(["phrase_starts", "entity_starts"])
    meta = {k: v for k, v in (table.schema.metadata or {}).items() if k != b"yuliao.knowledge_spans"}
    write_arrow(shard_path, old.replace_schema_metadata(meta))
    with pytest.raises(ValueError, match="re-encode with `yuliao tokenizer encode --word-boundaries`"):
        TokenShards(tmp_path / "enc", unit_codes=True).docs("zh", np.arange(3), word_starts=True)
    encode_dataset(dataset, tmp_path / "tok", tmp_path / "enc", word_boundaries=True)
    assert read_arrow(shard_path).column("entity_starts").to_pylist() == entity
    # without word boundaries: no unit columns, and the manifest says so
    m = encode_dataset(dataset, tmp_path / "tok", tmp_path / "plain")
    assert m["knowledge_spans"] is False
    assert json.loads((tmp_path / "plain" / "manifest.json").read_text())["word_boundaries"] is False
    assert not set(UNIT_COLUMNS) & set(read_arrow(tmp_path / "plain" / "shard-00000.arrow").column_names)
