"""Readers: record counts against warcio itself, damaged files, JSONL/Parquet edge cases."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

import pipeline
from pipeline.ids import content_digest, make_id
from pipeline.io.readers import RAW_SCHEMA, PartitionRead, read_partition
from pipeline.ledger import LEDGER_SCHEMA

SAMPLE = Path(pipeline.__file__).parent / "sample_data"
WARCS = sorted(SAMPLE.glob("*.warc.gz"))


def warcio_documents(path: Path) -> list[tuple[int, str, bytes]]:
    """(offset, url, payload) of response/resource records, straight from warcio."""
    out = []
    with open(path, "rb") as fh:
        records = ArchiveIterator(fh)
        for rec in records:
            if rec.rec_type in ("response", "resource"):
                url = rec.rec_headers.get_header("WARC-Target-URI")
                payload = rec.content_stream().read()
                out.append((records.get_record_offset(), url, payload))
    return out


@pytest.fixture(scope="module")
def full_reads() -> dict[str, PartitionRead]:
    return {p.name: read_partition(str(p), "web", "warc") for p in WARCS}


def test_sample_present() -> None:
    assert {p.name for p in WARCS} >= {"handbook.warc.gz", "poems.warc.gz", "web-zh.warc.gz"}


@pytest.mark.parametrize("path", WARCS, ids=lambda p: p.name)
def test_warc_matches_warcio(path: Path, full_reads: dict[str, PartitionRead]) -> None:
    read = full_reads[path.name]
    expected = warcio_documents(path)
    batch = read.batch
    assert batch.schema == RAW_SCHEMA
    assert batch.num_rows == len(expected) > 0
    assert read.quarantined.num_rows == 0 and read.warnings == []
    assert batch.column("offset").to_pylist() == [o for o, _, _ in expected]
    assert batch.column("url").to_pylist() == [u for _, u, _ in expected]
    assert batch.column("payload").to_pylist() == [p for _, _, p in expected]
    assert batch.column("bytes").to_pylist() == [len(p) for _, _, p in expected]
    assert set(batch.column("input").to_pylist()) == {str(path)}
    assert batch.column("text").null_count == batch.num_rows
    assert all(ct and ct.startswith("text/") for ct in batch.column("content_type").to_pylist())
    ids = batch.column("id").to_pylist()
    assert len(set(ids)) == len(ids)
    assert ids[0] == make_id("web", expected[0][1], content_digest(expected[0][2]))


def test_ids_are_stable(full_reads: dict[str, PartitionRead]) -> None:
    again = read_partition(str(SAMPLE / "poems.warc.gz"), "web", "warc")
    assert again.batch.column("id").equals(full_reads["poems.warc.gz"].batch.column("id"))


@pytest.mark.parametrize("fraction", [0.05, 0.33, 0.6, 0.97])
def test_truncated_warc_gz(tmp_path: Path, fraction: float, full_reads: dict[str, PartitionRead]) -> None:
    data = (SAMPLE / "handbook.warc.gz").read_bytes()
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[: int(len(data) * fraction)])
    read = read_partition(str(cut), "web", "warc")  # must not raise

    full_ids = full_reads["handbook.warc.gz"].batch.column("id").to_pylist()
    ids = read.batch.column("id").to_pylist()
    assert 0 < len(ids) < len(full_ids)
    assert ids == full_ids[: len(ids)]  # every returned record is complete and identical

    q = read.quarantined
    assert q.schema == LEDGER_SCHEMA and q.num_rows == 1
    row = q.to_pylist()[0]
    assert row["stage"] == "read" and row["decision"] == "quarantined" and row["source"] == "web"
    assert row["reason"].startswith("read_error:")
    last_offset = read.batch.column("offset").to_pylist()[-1]
    offsets = [
        o for o in full_reads["handbook.warc.gz"].batch.column("offset").to_pylist() if o > last_offset
    ]
    assert row["id"] == make_id("web", f"{cut}:{offsets[0]}", "truncated")
    assert len(read.warnings) == 1 and str(cut) in read.warnings[0]


def test_truncated_warc_gz_reason(tmp_path: Path) -> None:
    data = (SAMPLE / "handbook.warc.gz").read_bytes()
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    (reason,) = read_partition(str(cut), "web", "warc").quarantined.column("reason").to_pylist()
    assert reason == "read_error:truncated_gzip"


def test_truncated_plain_warc(tmp_path: Path) -> None:
    plain = gzip.decompress((SAMPLE / "poems.warc.gz").read_bytes())  # multi-member gzip
    whole = tmp_path / "poems.warc"
    whole.write_bytes(plain)
    n = read_partition(str(whole), "p", "warc").batch.num_rows
    assert n == 300
    cut = tmp_path / "cut.warc"
    cut.write_bytes(plain[: len(plain) // 2])
    read = read_partition(str(cut), "p", "warc")
    assert 0 < read.batch.num_rows < n
    assert read.quarantined.num_rows == 1
    assert read.quarantined.column("reason")[0].as_py().startswith("read_error:")


def test_garbage_file_is_quarantined_not_raised(tmp_path: Path) -> None:
    bad = tmp_path / "not-a-warc.warc.gz"
    bad.write_bytes(b"this is not a WARC file at all\n" * 10)
    read = read_partition(str(bad), "web", "warc")
    assert read.batch.num_rows == 0
    assert read.quarantined.num_rows == 1
    assert str(bad) in read.warnings[0]


def _write_mixed_warc(path: Path) -> None:
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        writer.write_record(writer.create_warcinfo_record("mixed.warc.gz", {"software": "test"}))
        req = StatusAndHeaders("GET / HTTP/1.1", [("Host", "example.org")], is_http_request=True)
        writer.write_record(writer.create_warc_record("http://example.org/", "request", http_headers=req))
        body = "<html><body><p>héllo 世界</p></body></html>".encode()
        resp = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        writer.write_record(
            writer.create_warc_record(
                "http://example.org/", "response", payload=io.BytesIO(body), http_headers=resp
            )
        )
        writer.write_record(
            writer.create_warc_record(
                "http://example.org/",
                "metadata",
                payload=io.BytesIO(b"outlinks: none"),
                warc_content_type="application/warc-fields",
            )
        )
        writer.write_record(
            writer.create_warc_record(
                "file:///notes.txt",
                "resource",
                payload=io.BytesIO("床前明月光".encode()),
                warc_content_type="text/plain; charset=utf-8",
            )
        )


def test_only_response_and_resource_records(tmp_path: Path) -> None:
    path = tmp_path / "mixed.warc.gz"
    _write_mixed_warc(path)
    read = read_partition(str(path), "web", "warc")
    rows = read.batch.to_pylist()
    assert [r["url"] for r in rows] == ["http://example.org/", "file:///notes.txt"]
    assert rows[0]["content_type"] == "text/html; charset=utf-8"
    assert rows[0]["payload"] == "<html><body><p>héllo 世界</p></body></html>".encode()
    assert rows[1]["content_type"] == "text/plain; charset=utf-8"  # WARC header for resources
    assert rows[1]["payload"] == "床前明月光".encode()
    assert read.quarantined.num_rows == 0


@pytest.mark.parametrize(
    "name,fmt",
    [("e.warc.gz", "warc"), ("e.jsonl", "jsonl"), ("e.jsonl.gz", "jsonl"), ("e.parquet", "parquet")],
)
def test_zero_byte_file(tmp_path: Path, name: str, fmt: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    read = read_partition(str(path), "s", fmt)
    assert read.batch.num_rows == 0 and read.batch.schema == RAW_SCHEMA
    assert read.quarantined.num_rows == 0 and read.warnings == []


def test_jsonl_with_malformed_line(tmp_path: Path) -> None:
    lines = [
        json.dumps({"text": "第一篇文章", "url": "https://a.example/1"}),
        '{"text": "unterminated',
        "",
        json.dumps({"text": "second document"}),
        json.dumps({"title": "no text here"}),
    ]
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    read = read_partition(str(path), "books", "jsonl")
    rows = read.batch.to_pylist()
    assert [r["text"] for r in rows] == ["第一篇文章", "second document"]
    assert [r["offset"] for r in rows] == [1, 4]  # 1-based line numbers
    assert rows[0]["url"] == "https://a.example/1" and rows[1]["url"] is None
    assert rows[0]["id"] == make_id("books", "https://a.example/1", content_digest("第一篇文章"))
    assert rows[1]["id"] == make_id("books", f"{path}:4", content_digest("second document"))
    assert rows[0]["bytes"] == len("第一篇文章".encode())
    assert all(r["payload"] is None for r in rows)

    q = read.quarantined.to_pylist()
    assert [r["reason"] for r in q] == ["malformed_json", "missing_text_field"]
    assert q[0]["id"] == make_id("books", f"{path}:2", content_digest((lines[1] + "\n").encode()))
    assert {r["stage"] for r in q} == {"read"} and {r["decision"] for r in q} == {"quarantined"}
    assert len(read.warnings) == 1 and str(path) in read.warnings[0]


def test_jsonl_gz_and_custom_field(tmp_path: Path) -> None:
    path = tmp_path / "docs.jsonl.gz"
    path.write_bytes(
        gzip.compress("".join(json.dumps({"content": f"doc {i}"}) + "\n" for i in range(50)).encode())
    )
    read = read_partition(str(path), "s", "jsonl", text_field="content")
    assert read.batch.num_rows == 50 and read.quarantined.num_rows == 0
    assert read.batch.column("text")[49].as_py() == "doc 49"


def test_jsonl_without_the_text_field_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text(json.dumps({"body": "x"}) + "\n")
    with pytest.raises(ValueError, match="'text'"):
        read_partition(str(path), "s", "jsonl")


def test_truncated_jsonl_gz(tmp_path: Path) -> None:
    data = gzip.compress(
        "".join(json.dumps({"text": f"document number {i}"}) + "\n" for i in range(5000)).encode()
    )
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    read = read_partition(str(path), "s", "jsonl")
    assert 0 < read.batch.num_rows < 5000
    assert read.batch.column("text").to_pylist() == [
        f"document number {i}" for i in range(read.batch.num_rows)
    ]
    assert read.quarantined.num_rows == 1
    assert read.quarantined.column("reason")[0].as_py() == "read_error:truncated_gzip"
    assert str(path) in read.warnings[0]


def test_parquet(tmp_path: Path) -> None:
    path = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"body": ["甲", None, "丙"], "url": ["https://x/1", None, None]}), path)
    read = read_partition(str(path), "s", "parquet", text_field="body")
    rows = read.batch.to_pylist()
    assert [(r["text"], r["url"], r["offset"]) for r in rows] == [("甲", "https://x/1", 0), ("丙", None, 2)]
    assert read.quarantined.column("reason").to_pylist() == ["missing_text_field"]


def test_parquet_missing_text_column_raises(tmp_path: Path) -> None:
    path = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"body": ["a", "b"]}), path)
    with pytest.raises(ValueError, match="'text'") as err:
        read_partition(str(path), "s", "parquet")
    assert str(path) in str(err.value)


def test_fsspec_urls() -> None:
    url = "memory://readers-test/poems.warc.gz"
    with fsspec.open(url, "wb") as fh:
        fh.write((SAMPLE / "poems.warc.gz").read_bytes())
    read = read_partition(url, "p", "warc")
    assert read.batch.num_rows == 300
    assert read.batch.column("input")[0].as_py() == url


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="format"):
        read_partition(str(SAMPLE / "poems.warc.gz"), "p", "csv")  # type: ignore[arg-type]
