"""Splits: reading a file split by split gives exactly the records, ids and order of reading it whole."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

import pipeline
from pipeline.io.readers import WHOLE, PartitionRead, Split, plan_splits, read_partition

SAMPLE = Path(pipeline.__file__).parent / "sample_data"


def union(path: str, fmt: str, splits: list[Split], **kw) -> PartitionRead:
    reads = [read_partition(path, "s", fmt, split=s, **kw) for s in splits]
    return PartitionRead(
        pa.concat_tables([r.batch for r in reads]),
        pa.concat_tables([r.quarantined for r in reads]),
        [w for r in reads for w in r.warnings],
    )


def assert_same(whole: PartitionRead, parts: PartitionRead) -> None:
    assert parts.batch.equals(whole.batch)  # same rows, ids, offsets, order
    assert parts.quarantined.equals(whole.quarantined)
    ids = parts.batch.column("id").to_pylist() + parts.quarantined.column("id").to_pylist()
    assert len(ids) == len(set(ids))


def jsonl_lines() -> list[bytes]:
    """Lines of different lengths and kinds: multi-byte text, blank, malformed, no text field."""
    lines = []
    for i in range(40):
        if i % 11 == 5:
            lines.append(b"")
        elif i % 13 == 7:
            lines.append(b'{"text": "broken')
        elif i % 17 == 3:
            lines.append(json.dumps({"title": "no text"}).encode())
        else:
            text = ("文" * (i % 7)) + f" doc {i} " + "x" * (i * 3 % 50)
            lines.append(json.dumps({"text": text, "url": f"https://j.example/{i % 9}"}).encode())
    return lines


@pytest.fixture
def jsonl(tmp_path: Path) -> Path:
    path = tmp_path / "docs.jsonl"
    path.write_bytes(b"\n".join(jsonl_lines()))  # no newline at the end: last line still read
    return path


@pytest.mark.parametrize("target", [37, 100, 256, 1000])
def test_jsonl_byte_ranges(jsonl: Path, target: int) -> None:
    whole = read_partition(str(jsonl), "s", "jsonl")
    assert whole.batch.num_rows > 20 and whole.quarantined.num_rows > 2
    splits = plan_splits(str(jsonl), "jsonl", target)
    size = jsonl.stat().st_size
    assert len(splits) == -(-size // target) > 1
    assert splits[0].start == 0 and splits[-1].end == size
    assert all(a.end == b.start for a, b in zip(splits, splits[1:], strict=False))  # contiguous
    assert_same(whole, union(str(jsonl), "jsonl", splits))


def test_jsonl_every_cut_point(jsonl: Path) -> None:
    """Hadoop's rule at every possible boundary, incl. ones at a line start or inside a character."""
    whole = read_partition(str(jsonl), "s", "jsonl")
    data = jsonl.read_bytes()
    size = len(data)
    starts = [i + 1 for i, b in enumerate(data) if b == ord("\n")]
    inside_char = [i for i, b in enumerate(data) if 0x80 <= b < 0xC0][::25]  # UTF-8 continuation bytes
    cuts = {c for s in starts for c in (s - 1, s, s + 1)} | set(inside_char) | set(range(1, size, 97))
    for cut in sorted(c for c in cuts if 0 < c < size):
        assert_same(whole, union(str(jsonl), "jsonl", [Split("bytes", 0, cut), Split("bytes", cut, size)]))


def test_jsonl_offsets_are_absolute(jsonl: Path) -> None:
    data = jsonl.read_bytes()
    for split in plan_splits(str(jsonl), "jsonl", 200):
        for row in read_partition(str(jsonl), "s", "jsonl", split=split).batch.to_pylist():
            assert split.start <= row["offset"] < split.end
            assert data[row["offset"] - 1 : row["offset"]] in (b"", b"\n")  # a line start
            assert json.loads(data[row["offset"] :].split(b"\n", 1)[0])["text"] == row["text"]


def test_jsonl_duplicates_inside_one_split_get_unique_ids(tmp_path: Path) -> None:
    path = tmp_path / "dupes.jsonl"
    line = json.dumps({"text": "same", "url": "https://same.example/"})
    path.write_text(f"{line}\n{line}\n{line}\n")
    ids = read_partition(str(path), "s", "jsonl").batch.column("id").to_pylist()
    assert len(set(ids)) == 3


def test_jsonl_over_memory_url() -> None:
    url = "memory://splits-test/docs.jsonl"
    with fsspec.open(url, "wb") as fh:
        fh.write(b"\n".join(jsonl_lines()) + b"\n")
    splits = plan_splits(url, "jsonl", 300)
    assert len(splits) > 3
    assert_same(read_partition(url, "s", "jsonl"), union(url, "jsonl", splits))


def test_compressed_jsonl_and_unsplittable_warc_are_one_split(tmp_path: Path) -> None:
    path = tmp_path / "docs.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(jsonl_lines()) * 50))
    assert plan_splits(str(path), "jsonl", 100) == [WHOLE]
    plain = tmp_path / "poems.warc"
    plain.write_bytes(gzip.decompress((SAMPLE / "poems.warc.gz").read_bytes()))
    assert plan_splits(str(plain), "warc", 1000) == [WHOLE]
    single = tmp_path / "poems-one-member.warc.gz"
    single.write_bytes(gzip.compress(plain.read_bytes()))
    assert plan_splits(str(single), "warc", 1000) == [WHOLE]


@pytest.mark.parametrize("name", ["poems.warc.gz", "handbook.warc.gz", "web-zh.warc.gz"])
@pytest.mark.parametrize("target", [5_000, 60_000, 400_000])
def test_warc_gz_byte_ranges(name: str, target: int) -> None:
    path = str(SAMPLE / name)
    splits = plan_splits(path, "warc", target)
    size = (SAMPLE / name).stat().st_size
    if size <= target:
        assert splits == [WHOLE]
    else:
        assert len(splits) == -(-size // target) and all(s.kind == "bytes" for s in splits)
    assert_same(read_partition(path, "s", "warc"), union(path, "warc", splits))


def test_truncated_warc_gz_split_by_split_matches_whole(tmp_path: Path) -> None:
    raw = (SAMPLE / "handbook.warc.gz").read_bytes()
    path = tmp_path / "cut.warc.gz"
    path.write_bytes(raw[: int(len(raw) * 0.7)])
    whole = read_partition(str(path), "s", "warc")
    assert whole.quarantined.num_rows == 1  # the cut member
    assert_same(whole, union(str(path), "warc", plan_splits(str(path), "warc", 50_000)))


def test_small_file_is_one_split(jsonl: Path) -> None:
    assert plan_splits(str(jsonl), "jsonl", 1 << 20) == [WHOLE]
    with pytest.raises(ValueError, match="positive"):
        plan_splits(str(jsonl), "jsonl", 0)
    with pytest.raises(ValueError, match="format"):
        plan_splits(str(jsonl), "csv", 100)


def columnar_table(n: int = 50) -> pa.Table:
    texts = [None if i % 9 == 4 else f"row {i} " + "字" * (i % 5) for i in range(n)]
    urls = [f"https://c.example/{i % 7}" if i % 3 else None for i in range(n)]
    return pa.table({"text": texts, "url": urls})


def test_parquet_row_groups(tmp_path: Path) -> None:
    path = tmp_path / "docs.parquet"
    pq.write_table(columnar_table(), path, row_group_size=7)  # 8 row groups, the last short
    whole = read_partition(str(path), "s", "parquet")
    splits = plan_splits(str(path), "parquet", 300)
    assert len(splits) > 2 and {s.kind for s in splits} == {"row_groups"}
    assert [(s.start, s.end) for s in splits][-1][1] == 8
    assert [s.first_row for s in splits] == [s.start * 7 for s in splits]
    assert_same(whole, union(str(path), "parquet", splits))
    # first_row is only a shortcut: without it the reader counts rows from the footer
    bare = [Split("row_groups", s.start, s.end) for s in splits]
    assert_same(whole, union(str(path), "parquet", bare))
    assert whole.batch.column("offset").to_pylist() == [i for i in range(50) if i % 9 != 4]


@pytest.mark.parametrize("memory", [False, True], ids=["local", "memory"])
def test_arrow_file_batches(tmp_path: Path, memory: bool) -> None:
    table = columnar_table()
    path = "memory://splits-test/docs.arrow" if memory else str(tmp_path / "docs.arrow")
    with fsspec.open(path, "wb") as fh, ipc.new_file(fh, table.schema) as w:
        for batch in table.to_batches(max_chunksize=6):
            w.write_batch(batch)
    whole = read_partition(path, "s", "arrow")
    splits = plan_splits(path, "arrow", 200)
    assert len(splits) > 2 and {s.kind for s in splits} == {"batches"}
    assert [s.first_row for s in splits] == [s.start * 6 for s in splits]
    assert_same(whole, union(path, "arrow", splits))
    assert whole.batch.num_rows + whole.quarantined.num_rows == 50


def test_arrow_stream_is_one_split(tmp_path: Path) -> None:
    table = columnar_table()
    path = tmp_path / "docs.arrows"
    with pa.OSFile(str(path), "wb") as sink, ipc.new_stream(sink, table.schema) as w:
        for batch in table.to_batches(max_chunksize=6):
            w.write_batch(batch)
    assert plan_splits(str(path), "arrow", 10) == [WHOLE]
    assert read_partition(str(path), "s", "arrow").records == 50


def test_text_folder_file_ranges(tmp_path: Path) -> None:
    root = tmp_path / "folder"
    for i in range(12):
        sub = root / f"d{i % 3}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"f{i:02d}.txt").write_text(f"document {i} " + "内容" * i)
    whole = read_partition(str(root), "s", "text")
    assert whole.batch.num_rows == 12
    assert whole.batch.column("input").to_pylist() == sorted(whole.batch.column("input").to_pylist())
    splits = plan_splits(str(root), "text", 60)
    assert len(splits) > 3 and {s.kind for s in splits} == {"files"}
    assert_same(whole, union(str(root), "text", splits))
