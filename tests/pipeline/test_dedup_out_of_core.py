"""Standalone dedup out of core: partitions of bounded size decide exactly what one partition does,
and no process (or task) ever holds the whole input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import DedupConfig
from pipeline.core.atomic import read_arrow
from pipeline.dedup.standalone import dedup_files
from tests.pipeline.test_dedup_data import distinct_texts, near_copy, write_docs

REPO = Path(__file__).resolve().parents[2]
SAME = ("documents", "kept", "duplicates_exact", "duplicates_near", "clusters", "cluster_size_histogram")


def _docs(prefix: str, originals: list[int], copies: dict[str, tuple[int, str]]) -> list[dict]:
    texts = distinct_texts()
    docs = [{"id": f"{prefix}{i}", "text": texts[i]} for i in originals]
    for cid, (i, how) in copies.items():
        docs.append({"id": cid, "text": texts[i] + "\n" if how == "exact" else near_copy(texts[i], len(cid))})
    return docs


def _arrow(path: Path, docs: list[dict], stream: bool) -> Path:
    table = pa.Table.from_pylist(docs)
    with pa.OSFile(str(path), "wb") as sink:
        writer = pa.ipc.new_stream if stream else pa.ipc.new_file
        with writer(sink, table.schema) as w:
            for batch in table.to_batches(max_chunksize=2):
                w.write_batch(batch)
    return path


def _every_format(tmp: Path) -> tuple[list[Path], list[str]]:
    """Six inputs, one per way a file is partitioned, with copies planted within and across them;
    returns them and every id in input order."""
    tmp.mkdir(parents=True, exist_ok=True)
    a = _docs("a", list(range(0, 6)), {"a-near-a1": (1, "near"), "a-copy-e20": (20, "exact")})
    for d in a[:2]:
        d["url"] = f"https://a.example/{d['id']}"  # later byte ranges have no url key at all
    b = _docs("b", list(range(6, 10)), {"b-copy-a2": (2, "exact")})
    c = _docs("c", list(range(10, 15)), {"c-near-b7": (7, "near")})
    d = _docs("d", list(range(15, 20)), {})
    e = _docs("e", list(range(20, 24)), {"e-near-c12": (12, "near")})
    f = _docs("f", list(range(24, 28)), {"f-copy-f25": (25, "exact")})
    pq.write_table(pa.Table.from_pylist(c), tmp / "c.parquet", row_group_size=2)
    pq.write_table(pa.Table.from_pylist(d), tmp / "d.parquet")
    inputs = [
        write_docs(tmp / "a.jsonl", a),  # byte ranges
        write_docs(tmp / "b.jsonl.gz", b),  # compressed: cut into pieces
        tmp / "c.parquet",  # row-group ranges
        tmp / "d.parquet",  # one row group larger than a partition: cut
        _arrow(tmp / "e.arrow", e, stream=False),  # record-batch ranges
        _arrow(tmp / "f.arrow", f, stream=True),  # an IPC stream has no batch index: cut
    ]
    return inputs, [x["id"] for x in a + b + c + d + e + f]


def _outputs(out: Path) -> tuple[bytes, list[dict], list[dict]]:
    ledger = pa.concat_tables(pq.read_table(p) for p in sorted((out / "ledger").glob("*.parquet")))
    data = [row for p in sorted((out / "data").glob("*.arrow")) for row in read_arrow(p).to_pylist()]
    return (out / "kept_ids.txt").read_bytes(), ledger.to_pylist(), data


def test_many_partitions_decide_exactly_like_one(tmp_path):
    inputs, ids = _every_format(tmp_path / "in")
    many = dedup_files(inputs, tmp_path / "many", "id", "text", DedupConfig(), partition_bytes=20_000)
    one = dedup_files(inputs, tmp_path / "one", "id", "text", DedupConfig(), partition_bytes=1 << 30)
    assert one["partitions"] == len(inputs) and many["partitions"] >= 2 * len(inputs)
    assert {k: many[k] for k in SAME} == {k: one[k] for k in SAME}
    kept, ledger, data = _outputs(tmp_path / "many")
    assert (kept, ledger, data) == _outputs(tmp_path / "one")  # ids, ledger rows and shards, in order
    assert [r["id"] for r in ledger] == ids  # the ledger lists documents in input order
    assert {r["id"]: r["duplicate_of"] for r in ledger if r["decision"] == "duplicate"} == {
        "a-near-a1": "a1",
        "e20": "a-copy-e20",  # the first copy in input order is kept
        "b-copy-a2": "a2",
        "c-near-b7": "b7",
        "e-near-c12": "c12",
        "f-copy-f25": "f25",
    }
    assert kept.decode().split() == [r["id"] for r in ledger if r["decision"] == "kept"]
    urls = {r["id"]: r["url"] for r in data if r["id"].startswith("a")}
    assert urls["a0"] == "https://a.example/a0" and urls["a5"] is None
    assert set(data[-1]) == {"id", "text", "cluster_size"}  # inputs without urls get no url column


def test_no_task_reads_more_than_a_partition(tmp_path, monkeypatch):
    import pipeline.dedup.inputs as inputs
    import pipeline.dedup.keys as keys

    seen: list[int] = []  # rows of every table a reader built or a keys call got
    real_normalise, real_keys = inputs.normalise, keys.add_dedup_keys

    def normalise(table, cols, path):
        seen.append(table.num_rows)
        return real_normalise(table, cols, path)

    def add_dedup_keys(batch, cfg):
        seen.append(batch.num_rows)
        return real_keys(batch, cfg)

    monkeypatch.setattr(inputs, "normalise", normalise)
    monkeypatch.setattr(keys, "add_dedup_keys", add_dedup_keys)
    texts = distinct_texts()
    docs = [{"id": f"d{i}", "text": texts[i % len(texts)] + f"\n第 {i} 版"} for i in range(120)]
    paths = [write_docs(tmp_path / "a.jsonl", docs[:60]), write_docs(tmp_path / "b.jsonl.gz", docs[60:])]
    summary = dedup_files(paths, tmp_path / "out", "id", "text", DedupConfig(), partition_bytes=30_000)
    assert summary["documents"] == 120 and summary["partitions"] >= 24
    # a partition holds about 30 kB (and the line crossing its end): a few of these 1.5-44 kB
    # documents, never a file's 60
    assert max(seen) <= 12


PEAK = """
import sys
from pathlib import Path

import pyarrow as pa

from pipeline.config import DedupConfig
from pipeline.dedup.standalone import dedup_files

cfg = DedupConfig(shards=32)  # the shuffle's shards hold a 32nd of the band rows each
summary = dedup_files([Path(sys.argv[1])], Path(sys.argv[2]), "id", "text", cfg, partition_bytes=150_000)
print(summary["partitions"], summary["duplicates_near"], pa.default_memory_pool().max_memory())
"""


def test_the_process_never_holds_the_input(tmp_path):
    """Inline (every task in one process): Arrow's peak allocation follows the partition size,
    not the input's (a process reading the input whole holds at least its text)."""
    import random

    rng = random.Random(3)
    texts = ["".join(chr(0x4E00 + rng.randrange(3000)) for _ in range(600)) for _ in range(2000)]
    docs = [{"id": f"d{i}", "text": t} for i, t in enumerate(texts)]
    docs += [{"id": f"near{i}", "text": near_copy(texts[i * 97], i)} for i in range(20)]
    path = write_docs(tmp_path / "docs.jsonl", docs)
    env = {**os.environ, "ARROW_DEFAULT_MEMORY_POOL": "system"}  # one pool from the start
    run = subprocess.run(
        [sys.executable, "-c", PEAK, str(path), str(tmp_path / "out")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    partitions, near, peak = map(int, run.stdout.split()[-3:])
    size = path.stat().st_size
    assert near == 20 and partitions >= size // 150_000
    assert peak < size / 5, f"peak Arrow allocation {peak} bytes for a {size}-byte input"


def test_verify_shingles_one_batch_of_text_at_a_time(tmp_path, monkeypatch):
    """A loose LSH makes most pairs candidates and a low threshold most of them unsure: checked
    in batches of bounded text they decide exactly what one batch does."""
    import pipeline.dedup.verify as verify

    inputs, _ = _every_format(tmp_path / "in")
    cfg = DedupConfig(threshold=0.1, bands=64, rows=1)
    one = dedup_files(inputs, tmp_path / "one", "id", "text", cfg, partition_bytes=20_000)
    held: list[int] = []  # characters of text shingled per call
    real = verify.shingle_sets

    def shingle_sets(texts, cfg):
        held.append(sum(len(t) for t in texts.to_pylist()))
        return real(texts, cfg)

    monkeypatch.setattr(verify, "shingle_sets", shingle_sets)
    monkeypatch.setattr(verify, "EXACT_BATCH_CHARS", 20_000)
    batched = dedup_files(inputs, tmp_path / "batched", "id", "text", cfg, partition_bytes=20_000)
    longest = max(len(t) for t in distinct_texts()[:28]) + 200  # a near copy adds a header and footer
    assert len(held) > 2 * batched["partitions"] and max(held) <= 20_000 + 2 * longest
    assert batched["candidate_pairs"] > 100 and batched["verified_pairs"] == one["verified_pairs"]
    assert _outputs(tmp_path / "batched") == _outputs(tmp_path / "one")
