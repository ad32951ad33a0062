"""Test data for the dedup tests (no tests here): distinct real documents and realistic near copies."""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import DedupConfig
from pipeline.dedup.minhash import shingle_sets

SAMPLE = Path(__file__).resolve().parents[2] / "pipeline" / "sample_data"


def jaccard(a: str, b: str) -> float:
    hashes, off = shingle_sets([a, b], DedupConfig())
    x, y = set(hashes[off[0] : off[1]].tolist()), set(hashes[off[1] : off[2]].tolist())
    return len(x & y) / len(x | y)


@functools.cache
def distinct_texts() -> tuple[str, ...]:
    """Sample documents (> 1,500 chars) no two of which share more than 30% of their shingles."""
    with gzip.open(SAMPLE / "mirror.jsonl.gz", "rt", encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for line in fh]
    hashes, off = shingle_sets(texts, DedupConfig())
    sets = [set(hashes[off[i] : off[i + 1]].tolist()) for i in range(len(texts))]
    chosen: list[int] = []
    for i, s in enumerate(sets):
        if len(texts[i]) > 1500 and all(len(s & sets[j]) / len(s | sets[j]) < 0.3 for j in chosen):
            chosen.append(i)
    return tuple(texts[i] for i in chosen)


def near_copy(text: str, tag: int = 0) -> str:
    """What mirrors do: new header and footer, a line dropped and one added, full-width commas."""
    lines = text.split("\n")
    short = [i for i in range(len(lines)) if 0 < len(lines[i]) < 120]
    if short:
        del lines[short[len(short) // 2]]
    lines.insert(len(lines) // 2, f"本文由网友投稿（编号 {tag}），转载请注明出处。")
    body = "\n".join(lines).replace(",", "，")
    return f"首页 | 新闻 | 下载 | 帮助\n\n{body}\n\n版权所有 © 2024 镜像站 {tag}"


def write_docs(path: Path, docs: list[dict]) -> Path:
    """.jsonl / .jsonl.gz / .parquet / .arrow, by suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.endswith(".parquet"):
        pq.write_table(pa.Table.from_pylist(docs), path)
    elif path.name.endswith(".arrow"):
        table = pa.Table.from_pylist(docs)
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
            w.write_table(table)
    else:
        blob = "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs).encode()
        path.write_bytes(gzip.compress(blob, mtime=0) if path.name.endswith(".gz") else blob)
    return path
