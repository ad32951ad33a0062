"""Damage costs only what it hits: the records and rows next to a bad one are still read.

A WARC record whose Content-Length lies must not swallow the records after it (in a `.warc.gz`
written one gzip member per record, nor in a plain `.warc`); a Parquet file with one damaged
data page loses only that row group's rows, each as its own ledger row; an Arrow IPC batch
that fails validation loses only its rows.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from pipeline.io.readers import WHOLE, plan_splits, read_partition
from tests.pipeline.test_readers import write_warc

SAMPLE = Path(__file__).resolve().parents[3] / "pipeline" / "sample_data"


def _real_docs(n: int) -> list[str]:
    with gzip.open(SAMPLE / "mirror.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [json.loads(line)["text"] for _, line in zip(range(n), fh, strict=False)]


DOCS = _real_docs(12)


HTTP_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"


def _response(uri: str, body: bytes, claim: int | None = None) -> bytes:
    """One WARC/1.0 response record, byte for byte; `claim` overrides its Content-Length."""
    block = HTTP_HEAD + body
    head = (
        "WARC/1.0\r\nWARC-Type: response\r\n"
        f"WARC-Target-URI: {uri}\r\nWARC-Date: 2024-01-01T00:00:00Z\r\n"
        f"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-{len(uri) * 7919 + len(body):012d}>\r\n"
        "Content-Type: application/http; msgtype=response\r\n"
        f"Content-Length: {len(block) if claim is None else claim}\r\n\r\n"
    ).encode()
    return head + block + b"\r\n\r\n"


def _lying_warc(path: Path, gz: bool, lie: int) -> tuple[list[str], list[int]]:
    """Six records of real text; the third's Content-Length is off by `lie` (or is `lie`, if huge)."""
    urls = [f"https://n.example/{i}" for i in range(6)]
    bodies = [DOCS[i].encode() for i in range(6)]
    records = []
    for i, (url, body) in enumerate(zip(urls, bodies, strict=True)):
        claim = None if i != 2 else (lie if lie > 1 << 20 else len(HTTP_HEAD) + len(body) + lie)
        records.append(_response(url, body, claim))
    return urls, write_warc(path, records, gz)


@pytest.mark.parametrize("gz", [True, False], ids=["warc.gz", "warc"])
@pytest.mark.parametrize("lie", [1_000_000_000_000, 50 << 20, 300, 7, -7], ids=lambda v: f"lie{v}")
def test_lying_content_length_does_not_swallow_the_next_records(tmp_path: Path, gz: bool, lie: int) -> None:
    path = tmp_path / ("crawl.warc.gz" if gz else "crawl.warc")
    urls, offsets = _lying_warc(path, gz, lie)
    read = read_partition(str(path), "n", "warc")
    assert read.batch.column("url").to_pylist() == urls[:2] + urls[3:]  # the valid records after it too
    assert read.batch.column("offset").to_pylist() == offsets[:2] + offsets[3:]
    assert read.batch.column("payload").to_pylist() == [DOCS[i].encode() for i in (0, 1, 3, 4, 5)]
    (row,) = read.quarantined.to_pylist()
    assert (row["decision"], row["reason"]) == ("quarantined", "read_error:bad_content_length")
    assert row["bytes"] == offsets[3] - offsets[2]  # exactly the bad record's bytes
    assert read.records == 6
    assert (
        len(read.warnings) == 1
        and str(path) in read.warnings[0]
        and f"offset {offsets[2]}" in read.warnings[0]
    )


def test_lying_record_reads_the_same_whole_or_in_byte_ranges(tmp_path: Path) -> None:
    path = tmp_path / "crawl.warc.gz"
    _lying_warc(path, True, 1_000_000_000_000)
    whole = read_partition(str(path), "n", "warc")
    splits = plan_splits(str(path), "warc", 2000)
    assert len(splits) > 2
    parts = [read_partition(str(path), "n", "warc", split=s) for s in splits]
    for table, col in (("batch", "url"), ("batch", "id"), ("quarantined", "id")):
        joined = [v for p in parts for v in getattr(p, table).column(col).to_pylist()]
        assert joined == getattr(whole, table).column(col).to_pylist()


def test_corrupt_gzip_member_costs_only_itself(tmp_path: Path) -> None:
    path = tmp_path / "crawl.warc.gz"
    urls, offsets = _lying_warc(path, True, 0)  # all honest
    data = bytearray(path.read_bytes())
    mid = (offsets[2] + offsets[3]) // 2
    data[mid : mid + 16] = b"\x00" * 16  # deflate data of the third member
    path.write_bytes(bytes(data))
    read = read_partition(str(path), "n", "warc")
    assert read.batch.column("url").to_pylist() == urls[:2] + urls[3:]
    (row,) = read.quarantined.to_pylist()
    assert row["reason"].startswith("read_error:") and row["bytes"] == offsets[3] - offsets[2]


# --- Parquet and Arrow IPC ---------------------------------------------------------------------


def _parquet_with_bad_page(path: Path, bad_group: int) -> pa.Table:
    """40 rows in 4 uncompressed row groups of 10; the data page header of `bad_group` overwritten."""
    table = pa.table({"text": [DOCS[i % len(DOCS)][:200] + f" #{i}" for i in range(40)]})
    pq.write_table(table, path, row_group_size=10, compression="NONE")
    page = pq.ParquetFile(path).metadata.row_group(bad_group).column(0).data_page_offset
    data = bytearray(path.read_bytes())
    data[page : page + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))
    damaged = pq.ParquetFile(path)
    with pytest.raises(OSError):  # the fixture really is unreadable there, and only there
        damaged.read_row_group(bad_group)
    for i in range(4):
        if i != bad_group:
            assert damaged.read_row_group(i).num_rows == 10
    return table


def test_parquet_damaged_page_loses_only_its_row_group(tmp_path: Path) -> None:
    path = tmp_path / "docs.parquet"
    table = _parquet_with_bad_page(path, bad_group=1)
    read = read_partition(str(path), "p", "parquet")
    kept = list(range(10)) + list(range(20, 40))
    assert read.batch.column("offset").to_pylist() == kept
    assert read.batch.column("text").to_pylist() == [table["text"][i].as_py() for i in kept]
    q = read.quarantined.to_pylist()
    assert len(q) == 10  # one ledger row per unreadable row: ledger rows == rows in the file
    assert {(r["decision"], r["reason"]) for r in q} == {("quarantined", "read_error:OSError")}
    assert len({r["id"] for r in q} | set(read.batch.column("id").to_pylist())) == 40
    assert read.records == 40
    assert len(read.warnings) == 1 and str(path) in read.warnings[0] and "row group 1" in read.warnings[0]
    # Row-group splits give the same rows and ledger ids.
    splits = plan_splits(str(path), "parquet", 1000)
    assert len(splits) > 1
    parts = [read_partition(str(path), "p", "parquet", split=s) for s in splits]
    assert [i for p in parts for i in p.batch.column("id").to_pylist()] == read.batch.column("id").to_pylist()
    assert sorted(i for p in parts for i in p.quarantined.column("id").to_pylist()) == sorted(
        r["id"] for r in q
    )


def test_parquet_unreadable_footer_is_one_row_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"text": ["a", "b", "c"]}), path)
    data = path.read_bytes()
    path.write_bytes(data[:-12] + b"\x00" * 12)  # footer length and magic gone
    assert plan_splits(str(path), "parquet", 1 << 20, text_field="text") == [WHOLE]  # planning does not fail
    read = read_partition(str(path), "p", "parquet")
    assert read.batch.num_rows == 0
    (row,) = read.quarantined.to_pylist()
    assert row["reason"].startswith("read_error:") and row["bytes"] == len(data)
    assert len(read.warnings) == 1 and str(path) in read.warnings[0]


def test_arrow_batch_failing_validation_loses_only_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "docs.arrow"
    texts = [f"document {i:03d}: " + DOCS[i % len(DOCS)][:100] for i in range(30)]
    table = pa.table({"text": texts})
    with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=10):
            writer.write_batch(batch)
    data = bytearray(path.read_bytes())
    at = data.rfind(b"document 010: ")  # batch 1's first value (rfind: batch 0's buffer may hold it too)
    data[at : at + 2] = b"\xff\xfe"  # not UTF-8: the batch fails full validation
    path.write_bytes(bytes(data))
    read = read_partition(str(path), "a", "arrow")
    assert read.batch.column("offset").to_pylist() == list(range(10)) + list(range(20, 30))
    assert read.batch.column("text").to_pylist() == texts[:10] + texts[20:]
    assert read.quarantined.num_rows == 10 and read.records == 30
    assert set(read.quarantined.column("reason").to_pylist()) == {"read_error:ArrowInvalid"}
