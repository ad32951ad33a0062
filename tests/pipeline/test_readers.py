"""Readers: WARC/WET against warcio itself, damaged files, filtered records, every format's edge cases."""

from __future__ import annotations

import gzip
import io
import json
import tracemalloc
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest
import zstandard
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

import pipeline
from pipeline.io.readers import RAW_SCHEMA, PartitionRead, Split, plan_splits, read_partition
from pipeline.records.ids import content_digest, make_id
from pipeline.records.ledger import LEDGER_SCHEMA

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
    assert ids[0] == make_id("web", f"{path}:{expected[0][0]}", content_digest(expected[0][2]))


def test_ids_are_stable(full_reads: dict[str, PartitionRead]) -> None:
    again = read_partition(str(SAMPLE / "poems.warc.gz"), "web", "warc")
    assert again.batch.column("id").equals(full_reads["poems.warc.gz"].batch.column("id"))


@pytest.mark.parametrize("fraction", [0.05, 0.33, 0.6, 0.97])
def test_truncated_warc_gz(tmp_path: Path, fraction: float, full_reads: dict[str, PartitionRead]) -> None:
    data = (SAMPLE / "handbook.warc.gz").read_bytes()
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[: int(len(data) * fraction)])
    read = read_partition(str(cut), "web", "warc")  # must not raise

    full = full_reads["handbook.warc.gz"].batch
    got = read.batch
    assert 0 < got.num_rows < full.num_rows
    for col in ("offset", "url", "payload"):  # every returned record is complete and identical
        assert got.column(col).to_pylist() == full.column(col).to_pylist()[: got.num_rows]

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
    [
        ("e.warc.gz", "warc"),
        ("e.warc", "warc"),
        ("e.jsonl", "jsonl"),
        ("e.jsonl.gz", "jsonl"),
        ("e.jsonl.zst", "jsonl"),
        ("e.parquet", "parquet"),
        ("e.arrow", "arrow"),
        ("e.txt", "text"),
    ],
)
def test_zero_byte_file(tmp_path: Path, name: str, fmt: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    read = read_partition(str(path), "s", fmt)
    if fmt == "text":  # a 0-byte .txt file is an (empty) document; decode/filters drop it
        assert read.batch.column("payload").to_pylist() == [b""]
    else:
        assert read.batch.num_rows == 0
    assert read.batch.schema == RAW_SCHEMA
    assert read.quarantined.num_rows == 0 and read.warnings == []
    assert plan_splits(str(path), fmt, 1000) == [Split()]


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
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line.encode()) + 1)
    assert [r["text"] for r in rows] == ["第一篇文章", "second document"]
    assert [r["offset"] for r in rows] == [0, starts[3]]  # byte offset of the line
    assert rows[0]["url"] == "https://a.example/1" and rows[1]["url"] is None
    assert rows[0]["id"] == make_id("books", f"{path}:0", content_digest("第一篇文章"))
    assert rows[1]["id"] == make_id("books", f"{path}:{starts[3]}", content_digest("second document"))
    assert rows[0]["bytes"] == len("第一篇文章".encode())
    assert all(r["payload"] is None for r in rows)

    q = read.quarantined.to_pylist()
    assert [r["reason"] for r in q] == ["malformed_json", "missing_text_field"]
    assert q[0]["id"] == make_id("books", f"{path}:{starts[1]}", content_digest((lines[1] + "\n").encode()))
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


# --- hand-built WARC/WET files ------------------------------------------------------------


def http_block(body: bytes, status: str = "200 OK", headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return head.encode() + body


def warc_record(
    rtype: str, uri: str, block: bytes, content_type: str = "application/http; msgtype=response", **extra: str
) -> bytes:
    """One WARC/1.0 record, byte for byte (headers, block, CRLF CRLF)."""
    headers = {
        "WARC-Type": rtype,
        "WARC-Target-URI": uri,
        "WARC-Record-ID": f"<urn:uuid:{content_digest(uri + rtype + str(len(block)))}>",
        "WARC-Date": "2024-01-01T00:00:00Z",
        "Content-Type": content_type,
        **{k.replace("_", "-"): v for k, v in extra.items()},
        "Content-Length": str(len(block)),
    }
    head = "WARC/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode() + block + b"\r\n\r\n"


def write_warc(path: Path, records: list[bytes], gz: bool = True) -> list[int]:
    """Write records (one gzip member each, as crawlers do); returns their file offsets."""
    offsets, pos = [], 0
    with open(path, "wb") as fh:
        for rec in records:
            data = gzip.compress(rec, compresslevel=1) if gz else rec
            offsets.append(pos)
            fh.write(data)
            pos += len(data)
    return offsets


def response(uri: str, body: bytes, ctype: str = "text/html; charset=utf-8", status: str = "200 OK", **extra):
    return warc_record("response", uri, http_block(body, status, (("Content-Type", ctype),)), **extra)


def ledger_rows(read: PartitionRead) -> list[tuple[str, str, str]]:
    return [(r["decision"], r["reason"], r["stage"]) for r in read.quarantined.to_pylist()]


def test_wet_conversion_records_are_plain_text(tmp_path: Path) -> None:
    texts = ["第一篇 纯文本\n第二行", "Plain English text, already extracted."]
    path = tmp_path / "crawl.warc.wet.gz"
    info = warc_record("warcinfo", "", b"software: test\r\n", "application/warc-fields")
    convs = [
        warc_record("conversion", f"https://w.example/{i}", t.encode(), "text/plain")
        for i, t in enumerate(texts)
    ]
    offsets = write_warc(path, [info, *convs])
    read = read_partition(str(path), "wet", "warc")
    rows = read.batch.to_pylist()
    assert [r["payload"].decode() for r in rows] == texts
    assert [r["content_type"] for r in rows] == ["text/plain", "text/plain"]
    assert [r["offset"] for r in rows] == offsets[1:]
    assert read.quarantined.num_rows == 0

    from pipeline.steps.decode import decode

    decoded = decode(read.batch).kept
    assert decoded.column("is_html").to_pylist() == [False, False]  # no HTML extraction
    assert decoded.column("text").to_pylist() == texts


def test_non_200_responses_are_filtered(tmp_path: Path) -> None:
    path = tmp_path / "status.warc.gz"
    write_warc(
        path,
        [
            response("https://s.example/ok", b"<p>ok</p>"),
            response("https://s.example/moved", b"", status="301 Moved Permanently"),
            response("https://s.example/missing", b"<p>not found</p>", status="404 Not Found"),
            response("https://s.example/err", b"oops", status="500 Internal Server Error"),
        ],
    )
    read = read_partition(str(path), "s", "warc")
    assert read.batch.column("url").to_pylist() == ["https://s.example/ok"]
    assert ledger_rows(read) == [
        ("filtered", "http_status:301", "read"),
        ("filtered", "http_status:404", "read"),
        ("filtered", "http_status:500", "read"),
    ]
    assert read.quarantined.column("bytes").to_pylist() == [0, 16, 4]
    assert read.records == 4 and read.warnings == []


def test_non_text_payloads_are_filtered_unread(tmp_path: Path) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    path = tmp_path / "media.warc.gz"
    write_warc(
        path,
        [
            response("https://m.example/img", png, "image/png"),
            warc_record("resource", "file:///doc.pdf", b"%PDF-1.7\n...", "application/pdf"),
            response(  # the server says HTML, Common Crawl's content sniffing says PDF
                "https://m.example/lying",
                b"%PDF-1.4",
                "text/html",
                WARC_Identified_Payload_Type="application/pdf",
            ),
            response("https://m.example/magic", png, "text/html"),  # no sniffed type: magic bytes
            response("https://m.example/style.css", b"body { color: red }", "text/css"),
            response(  # octet-stream from the server, but the bytes are HTML: kept, as HTML
                "https://m.example/page",
                b"<html><p>real page</p></html>",
                "application/octet-stream",
                WARC_Identified_Payload_Type="text/html",
            ),
        ],
    )
    read = read_partition(str(path), "m", "warc")
    assert read.batch.select(["url", "content_type"]).to_pylist() == [
        {"url": "https://m.example/page", "content_type": "text/html"}
    ]
    assert ledger_rows(read) == [("filtered", "non_text_payload", "read")] * 5
    assert len(set(read.quarantined.column("id").to_pylist())) == 5


def test_mime_types_select_html_only(tmp_path: Path) -> None:
    path = tmp_path / "mixed.warc.gz"
    write_warc(
        path,
        [
            response("https://x.example/page", b"<html><p>page</p></html>"),
            response("https://x.example/poem.txt", "床前明月光".encode(), "text/plain; charset=utf-8"),
            response("https://x.example/x", b"<html><p>xhtml</p></html>", "application/xhtml+xml"),
            response("https://x.example/img", b"\x89PNG\r\n\x1a\n", "image/png"),
        ],
    )
    html = frozenset({"text/html", "application/xhtml+xml"})
    read = read_partition(str(path), "x", "warc", mime_types=html)
    assert read.batch.column("url").to_pylist() == ["https://x.example/page", "https://x.example/x"]
    assert ledger_rows(read) == [
        ("filtered", "mime_type_not_selected", "read"),
        ("filtered", "non_text_payload", "read"),
    ]
    assert read.quarantined.column("bytes").to_pylist()[0] == len("床前明月光".encode())
    assert read.records == 4
    assert read_partition(str(path), "x", "warc").batch.num_rows == 3  # default: every text type


def test_mime_types_config_names_the_field() -> None:
    from pydantic import ValidationError

    from pipeline.config import ReadConfig

    assert ReadConfig(mime_types=["Text/HTML"]).mime_types == ["text/html"]
    with pytest.raises(ValidationError, match=r"mime_types: \['image/png'\] are not document types"):
        ReadConfig(mime_types=["text/html", "image/png"])


def test_http_transfer_and_content_encodings_are_undone(tmp_path: Path) -> None:
    import zlib

    import brotli

    body = "<html><body><p>压缩的页面 compressed page</p></body></html>".encode() * 20
    gz = gzip.compress(body)
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (gz[:100], gz[100:])) + b"0\r\n\r\n"
    raw_deflate = zlib.compressobj(wbits=-15)
    deflated = raw_deflate.compress(body) + raw_deflate.flush()

    def rec(uri: str, payload: bytes, *headers: tuple[str, str]) -> bytes:
        block = http_block(payload, headers=(("Content-Type", "text/html"), *headers))
        return warc_record("response", uri, block)

    path = tmp_path / "enc.warc.gz"
    write_warc(
        path,
        [
            rec(
                "https://e.example/chunked-gzip",
                chunked,
                ("Content-Encoding", "gzip"),
                ("Transfer-Encoding", "chunked"),
            ),
            rec("https://e.example/deflate", deflated, ("Content-Encoding", "deflate")),
            rec("https://e.example/br", brotli.compress(body), ("Content-Encoding", "br")),
            rec("https://e.example/stale-header", body, ("Content-Encoding", "gzip")),  # stored decoded
            rec("https://e.example/corrupt", b"\x1f\x8b\x08\x00garbage", ("Content-Encoding", "gzip")),
        ],
    )
    read = read_partition(str(path), "e", "warc")
    assert read.batch.column("payload").to_pylist() == [body] * 4
    assert read.batch.column("bytes").to_pylist() == [len(body)] * 4
    assert ledger_rows(read) == [("quarantined", "content_encoding_error", "read")]


def test_unparseable_http_header_is_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "bad.warc.gz"
    write_warc(
        path,
        [
            warc_record(
                "response",
                "https://b.example/1",
                b"NOT-HTTP garbage\r\nContent-Type: text/html\r\n\r\n<p>x</p>",
            ),
            response("https://b.example/2", b"<p>fine</p>"),
        ],
    )
    read = read_partition(str(path), "b", "warc")
    assert read.batch.column("url").to_pylist() == ["https://b.example/2"]
    assert ledger_rows(read) == [("quarantined", "bad_http_header", "read")]


def test_same_page_twice_gets_unique_stable_ids(tmp_path: Path) -> None:
    """An id names the record's place (file:offset) and content, never the URL alone."""
    page = response("https://d.example/", b"<p>same</p>")
    other = response("https://d.example/", b"<p>changed</p>")
    path = tmp_path / "dupes.warc.gz"
    offsets = write_warc(path, [page, other, page, page])
    read = read_partition(str(path), "d", "warc")
    ids = read.batch.column("id").to_pylist()
    digests = [content_digest(b"<p>same</p>"), content_digest(b"<p>changed</p>")]
    assert ids == [make_id("d", f"{path}:{o}", digests[k == 1]) for k, o in enumerate(offsets)]
    # content identity is kept beside the id: the three copies share a digest, not an id
    assert read.batch.column("digest").to_pylist() == [digests[k == 1] for k in range(4)]
    assert read_partition(str(path), "d", "warc").batch.column("id").to_pylist() == ids
    # Relative to a root folder, ids do not depend on where the inputs sit.
    moved = read_partition(str(path), "d", "warc", root=str(tmp_path)).batch.column("id").to_pylist()
    assert moved[0] == make_id("d", f"dupes.warc.gz:{offsets[0]}", digests[0])


def _write_big_warc(path: Path, body_bytes: int) -> None:
    """A response with a `body_bytes` HTML body, then a small one; written in chunks."""
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"
    head = warc_record("response", "https://big.example/", b"").split(b"Content-Length: 0")[0]
    head += f"Content-Length: {len(http) + body_bytes}\r\n\r\n".encode()
    chunk = b"<p>" + b"x" * 1017 + b"</p>\n"
    with open(path, "wb") as fh:
        with gzip.GzipFile(fileobj=fh, mode="wb", compresslevel=1) as gz:
            gz.write(head + http)
            for start in range(0, body_bytes, len(chunk)):
                gz.write(chunk[: body_bytes - start])
            gz.write(b"\r\n\r\n")
        fh.write(gzip.compress(response("https://small.example/", b"<p>small</p>")))


def test_50mb_warc_record_is_filtered_without_holding_it(tmp_path: Path) -> None:
    path = tmp_path / "big.warc.gz"
    size = 50 * 1024 * 1024
    _write_big_warc(path, size)
    tracemalloc.start()
    try:
        read = read_partition(str(path), "big", "warc")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024  # streamed through a hash in 1 MiB chunks
    assert read.batch.column("url").to_pylist() == ["https://small.example/"]
    (row,) = read.quarantined.to_pylist()
    assert (row["decision"], row["reason"], row["bytes"]) == ("filtered", "record_too_large", size)
    assert read.warnings == []


def test_50mb_jsonl_line_is_filtered_without_holding_it(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    size = 50 * 1024 * 1024
    with open(path, "wb") as fh:
        fh.write(json.dumps({"text": "before"}).encode() + b"\n")
        fh.write(b'{"text": "')
        block = b"y" * (1 << 20)
        for _ in range(size // len(block)):
            fh.write(block)
        fh.write(b'"}\n')
        fh.write(json.dumps({"text": "after"}).encode() + b"\n")
    tracemalloc.start()
    try:
        read = read_partition(str(path), "big", "jsonl")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 1024 * 1024  # at most max_record_bytes (10 MiB) + 1 MiB of the line at once
    assert read.batch.column("text").to_pylist() == ["before", "after"]
    (row,) = read.quarantined.to_pylist()
    assert (row["decision"], row["reason"]) == ("filtered", "record_too_large")
    assert row["bytes"] == size + len(b'{"text": ""}\n')


def test_max_record_bytes_is_configurable(tmp_path: Path) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"text": "z" * n}) + "\n" for n in (10, 100, 1000)))
    read = read_partition(str(path), "s", "jsonl", max_record_bytes=200)
    assert [len(t) for t in read.batch.column("text").to_pylist()] == [10, 100]
    assert ledger_rows(read) == [("filtered", "record_too_large", "read")]


def test_gz_cut_inside_the_next_member_header(tmp_path: Path, full_reads: dict[str, PartitionRead]) -> None:
    """The file ends a few bytes into a gzip member: FastWARC stops silently, we do not."""
    data = (SAMPLE / "handbook.warc.gz").read_bytes()
    offsets = full_reads["handbook.warc.gz"].batch.column("offset").to_pylist()
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[: offsets[3] + 5])
    read = read_partition(str(cut), "web", "warc")
    assert read.batch.num_rows == 3
    (row,) = read.quarantined.to_pylist()
    assert row["reason"] == "read_error:truncated_gzip" and row["bytes"] == 5
    assert row["id"] == make_id("web", f"{cut}:{offsets[3]}", "truncated")


def test_plain_warc_with_trailing_garbage(tmp_path: Path) -> None:
    path = tmp_path / "junk.warc"
    write_warc(path, [response("https://j.example/1", b"<p>one</p>")], gz=False)
    with open(path, "ab") as fh:
        fh.write(b"this is not a record\r\n")
    read = read_partition(str(path), "j", "warc")
    assert read.batch.num_rows == 1
    assert read.quarantined.column("reason").to_pylist() == ["read_error:bad_warc_header"]
    assert str(path) in read.warnings[0]


# --- JSONL ----------------------------------------------------------------------------------


def test_jsonl_invalid_utf8_is_quarantined(tmp_path: Path) -> None:
    good = json.dumps({"text": "有效的"}, ensure_ascii=False).encode()
    bad_bytes = b'{"text": "caf\xe9 latin-1"}'  # invalid UTF-8
    surrogate = b'{"text": "lone \\ud800 surrogate"}'  # valid JSON, not representable as UTF-8
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join([good, bad_bytes, surrogate, good]) + b"\n")
    read = read_partition(str(path), "s", "jsonl")
    assert read.batch.column("text").to_pylist() == ["有效的", "有效的"]
    assert len(set(read.batch.column("id").to_pylist())) == 2  # same text twice: unique ids
    assert [r["reason"] for r in read.quarantined.to_pylist()] == ["invalid_utf8", "invalid_utf8"]
    assert {r["decision"] for r in read.quarantined.to_pylist()} == {"quarantined"}


def test_jsonl_zst_multi_frame_and_file_url(tmp_path: Path) -> None:
    cctx = zstandard.ZstdCompressor()
    frames = [
        cctx.compress("".join(json.dumps({"text": f"doc {i}"}) + "\n" for i in range(a, b)).encode())
        for a, b in ((0, 30), (30, 31), (31, 80))
    ]
    path = tmp_path / "docs.jsonl.zst"
    path.write_bytes(b"".join(frames))
    read = read_partition(f"file://{path}", "s", "jsonl")
    assert read.batch.column("text").to_pylist() == [f"doc {i}" for i in range(80)]
    assert read.batch.column("input")[0].as_py() == f"file://{path}"
    assert read.quarantined.num_rows == 0


def test_jsonl_zst_long_window(tmp_path: Path) -> None:
    """`zstd --long=31` frames declare a 2 GiB window, past libzstd's default decoding limit."""
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=31, enable_ldm=True)
    buf = io.BytesIO()
    with zstandard.ZstdCompressor(compression_params=params).stream_writer(buf, closefd=False) as w:
        w.write("".join(json.dumps({"text": f"long {i}"}) + "\n" for i in range(50)).encode())
    assert zstandard.get_frame_parameters(buf.getvalue()).window_size == 1 << 31
    path = tmp_path / "long.jsonl.zst"
    path.write_bytes(buf.getvalue())
    read = read_partition(str(path), "s", "jsonl")
    assert read.batch.column("text").to_pylist() == [f"long {i}" for i in range(50)]
    assert read.quarantined.num_rows == 0


def test_truncated_jsonl_zst(tmp_path: Path) -> None:
    n = 20_000  # ~0.7 MB: several zstd blocks, so the first half of the file decodes
    data = zstandard.ZstdCompressor().compress(
        "".join(json.dumps({"text": f"document number {i}"}) + "\n" for i in range(n)).encode()
    )
    path = tmp_path / "cut.jsonl.zst"
    path.write_bytes(data[: len(data) // 2])
    read = read_partition(str(path), "s", "jsonl")
    assert 0 < read.batch.num_rows < n
    assert read.batch.column("text").to_pylist() == [
        f"document number {i}" for i in range(read.batch.num_rows)
    ]
    reasons = read.quarantined.column("reason").to_pylist()
    # the cut-off last line is kept only if it still parses; the rest is one read_error row
    assert reasons[-1] == "read_error:truncated_zstd" and reasons.count("read_error:truncated_zstd") == 1
    assert str(path) in read.warnings[0]


# --- Parquet, Arrow, text folders -----------------------------------------------------------


def test_parquet_over_memory_url() -> None:
    url = "memory://readers-test/docs.parquet"
    buf = io.BytesIO()
    pq.write_table(pa.table({"text": ["一", "二"], "url": ["https://p/1", None]}), buf)
    with fsspec.open(url, "wb") as fh:
        fh.write(buf.getvalue())
    read = read_partition(url, "p", "parquet")
    assert read.batch.select(["text", "url", "offset", "input"]).to_pylist() == [
        {"text": "一", "url": "https://p/1", "offset": 0, "input": url},
        {"text": "二", "url": None, "offset": 1, "input": url},
    ]


@pytest.mark.parametrize("kind", ["file", "stream"])
def test_arrow_ipc(tmp_path: Path, kind: str) -> None:
    table = pa.table({"body": ["甲", None, "丙", "丁"], "url": ["https://a/1", None, None, "https://a/4"]})
    path = tmp_path / f"docs-{kind}.arrow"
    with pa.OSFile(str(path), "wb") as sink:
        new = ipc.new_file if kind == "file" else ipc.new_stream
        with new(sink, table.schema) as w:
            for batch in table.to_batches(max_chunksize=2):
                w.write_batch(batch)
    read = read_partition(str(path), "a", "arrow", text_field="body")
    assert read.batch.select(["text", "url", "offset"]).to_pylist() == [
        {"text": "甲", "url": "https://a/1", "offset": 0},
        {"text": "丙", "url": None, "offset": 2},
        {"text": "丁", "url": "https://a/4", "offset": 3},
    ]
    assert ledger_rows(read) == [("quarantined", "missing_text_field", "read")]
    with pytest.raises(ValueError, match="'text'") as err:
        read_partition(str(path), "a", "arrow")
    assert str(path) in str(err.value)


def test_columnar_missing_text_column_fails_at_planning(tmp_path: Path) -> None:
    path = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"body": ["a", "b"]}), path)
    with pytest.raises(ValueError, match="text column 'text' not found") as err:
        plan_splits(str(path), "parquet", 1 << 20, text_field="text")
    assert str(path) in str(err.value)
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text(json.dumps({"body": "x"}) + "\n")
    with pytest.raises(ValueError, match="'text'"):
        plan_splits(str(jsonl), "jsonl", 1 << 20, text_field="text")
    assert plan_splits(str(jsonl), "jsonl", 1 << 20, text_field="body") == [Split()]


def _text_folder(fs_root: str) -> list[str]:
    files = {
        "a.txt": "床前明月光,疑是地上霜。".encode("gb18030"),
        "b/c.txt": b"Plain English file.\n",
        "b/notes.md": b"# not a .txt file: not a record",
        "d.txt": b"z" * 500,
    }
    for name, data in files.items():
        with fsspec.open(f"{fs_root}/{name}", "wb") as fh:
            fh.write(data)
    return sorted(n for n in files if n.endswith(".txt"))


@pytest.mark.parametrize("memory", [False, True], ids=["local", "memory"])
def test_text_folder(tmp_path: Path, memory: bool) -> None:
    root = "memory://text-folder" if memory else str(tmp_path / "folder")
    names = _text_folder(root)
    read = read_partition(root, "t", "text", max_record_bytes=400)
    rows = read.batch.to_pylist()
    assert [r["input"].rsplit("folder/", 1)[-1] for r in rows] == names[:2]
    assert {r["content_type"] for r in rows} == {"text/plain"} and {r["offset"] for r in rows} == {0}
    assert rows[0]["id"] == make_id("t", f"{rows[0]['input']}:0", content_digest(rows[0]["payload"]))
    assert read.quarantined.column("reason").to_pylist() == ["record_too_large"]  # d.txt, 500 B

    from pipeline.steps.decode import decode

    decoded = decode(read.batch).kept
    assert decoded.column("text").to_pylist() == ["床前明月光,疑是地上霜。", "Plain English file.\n"]
    assert decoded.column("charset").to_pylist() == ["gb18030", "utf-8"]


def test_split_must_match_the_format(tmp_path: Path) -> None:
    path = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"text": ["a"]}), path)
    with pytest.raises(ValueError, match="bytes split"):
        read_partition(str(path), "s", "parquet", split=Split("bytes", 0, 10))
    gz = tmp_path / "docs.jsonl.gz"
    gz.write_bytes(gzip.compress(b'{"text": "a"}\n'))
    with pytest.raises(ValueError, match="compressed"):
        read_partition(str(gz), "s", "jsonl", split=Split("bytes", 0, 5))
