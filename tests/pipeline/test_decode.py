"""Decode: charsets of the sample's GBK/GB18030 pages, lying headers, non-text payloads."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

import pipeline
from pipeline.io.readers import RAW_SCHEMA, read_partition
from pipeline.records.ledger import LEDGER_SCHEMA
from pipeline.steps import decode as decode_mod
from pipeline.steps.decode import decode, decode_payload, normalize_charset

SAMPLE = Path(pipeline.__file__).parent / "sample_data"
POEM = "《静夜思》\n作者:李白\n床前明月光,疑是地上霜。\n举头望明月,低头思故乡。\n"


@pytest.fixture(scope="module")
def raw() -> pa.Table:
    return pa.concat_tables(
        [read_partition(str(SAMPLE / n), "web", "warc").batch for n in ("web-zh.warc.gz", "handbook.warc.gz")]
    )


@pytest.fixture(scope="module")
def decoded(raw: pa.Table) -> dict[str, dict]:
    result = decode(raw)
    assert result.dropped.num_rows == 0
    return {row["url"]: row for row in result.kept.to_pylist()}


def raw_rows(**cols: list) -> pa.Table:
    n = len(next(iter(cols.values())))
    base = {
        "id": [f"t-{i}" for i in range(n)],
        "source": ["t"] * n,
        "url": [f"https://t.example/{i}" for i in range(n)],
        "content_type": [None] * n,
        "payload": [None] * n,
        "text": [None] * n,
        "input": ["mem"] * n,
        "offset": list(range(n)),
        "digest": [f"{i:016x}" for i in range(n)],
        "bytes": [len(p or b"") for p in cols.get("payload", [None] * n)],
    }
    base.update(cols)
    return pa.table(base, schema=RAW_SCHEMA)


def gb_pages(raw: pa.Table, header_has_charset: bool) -> list[str]:
    """URLs of GBK/GB18030 pages, by header (True) or meta-only with a bare header (False)."""
    urls = []
    for row in raw.select(["url", "content_type", "payload"]).to_pylist():
        head = row["payload"][:2048].lower()
        meta_gb = b"charset=gb18030" in head or b"charset=gbk" in head
        by_header = "charset=gb" in row["content_type"]
        meta_only = row["content_type"] == "text/html" and meta_gb
        if by_header if header_has_charset else meta_only:
            urls.append(row["url"])
    return urls


def test_output_columns(decoded: dict[str, dict]) -> None:
    row = next(iter(decoded.values()))
    assert list(row) == [
        "id",
        "source",
        "url",
        "content_type",
        "text",
        "input",
        "offset",
        "digest",
        "bytes",
        "charset",
        "is_html",
    ]


@pytest.mark.parametrize("by_header", [True, False], ids=["header", "meta-only"])
def test_gb_pages_decode_cleanly(raw: pa.Table, decoded: dict[str, dict], by_header: bool) -> None:
    urls = gb_pages(raw, by_header)
    assert len(urls) >= 10
    for url in urls:
        row = decoded[url]
        assert row["charset"] == "gb18030", url
        assert "\ufffd" not in row["text"], url
        assert row["is_html"] is True


def test_gb_pages_contain_expected_chinese(decoded: dict[str, dict]) -> None:
    # GIMP filters page: header says gb18030
    assert "滤镜" in decoded["https://docs.gimp.org/2.10/zh_CN/filters.html"]["text"]
    # Debian handbook zh-TW case study: bare `text/html` header, charset only in <meta>
    meta_only = decoded["https://debian-handbook.info/browse/zh-TW/case-study.html"]
    assert "個案呈現" in meta_only["text"] and meta_only["content_type"] == "text/html"
    # gbk header is decoded as gb18030 (superset)
    gbk = decoded["https://debian-handbook.info/browse/zh-TW/security.html"]
    assert gbk["charset"] == "gb18030" and "安全" in gbk["text"]


def test_utf8_pages_unchanged(raw: pa.Table, decoded: dict[str, dict]) -> None:
    for row in raw.to_pylist():
        if row["content_type"] == "text/html; charset=utf-8":
            assert decoded[row["url"]]["text"] == row["payload"].decode("utf-8")
            assert decoded[row["url"]]["charset"] == "utf-8"


def test_lying_latin1_header_on_utf8_page(raw: pa.Table) -> None:
    """A UTF-8 page served as iso-8859-1: valid non-ASCII UTF-8 wins over a Latin-1 label."""
    row = next(r for r in raw.to_pylist() if r["url"].endswith("zh-CN/case-study.html"))
    text, charset = decode_payload(row["payload"], "text/html; charset=iso-8859-1")
    assert charset == "utf-8"
    assert text == row["payload"].decode("utf-8") and "案例呈现" in text


def test_lying_utf8_header_on_gb18030_page(raw: pa.Table) -> None:
    """A GB18030 page served as utf-8: strict UTF-8 fails, so the <meta> charset is used."""
    row = next(r for r in raw.to_pylist() if r["url"].endswith("zh-TW/case-study.html"))
    text, charset = decode_payload(row["payload"], "text/html; charset=utf-8")
    assert charset == "gb18030" and "個案呈現" in text and "\ufffd" not in text


def test_undeclared_gb18030_is_detected() -> None:
    body = (POEM * 20).encode("gb18030")
    text, charset = decode_payload(body, "text/plain", is_html=False)
    assert "\ufffd" not in text and "床前明月光" in text
    assert charset == "gb18030"


def test_bom_wins() -> None:
    text, charset = decode_payload("\ufeff<p>你好</p>".encode("utf-16-le"), "text/html; charset=iso-8859-1")
    assert (text, charset) == ("<p>你好</p>", "utf-16")


def test_meta_utf16_means_utf8() -> None:
    body = '<html><head><meta charset="utf-16"></head><body>中文</body></html>'.encode()
    text, charset = decode_payload(body, "text/html")
    assert charset == "utf-8" and "中文" in text


def test_undecodable_falls_back_without_raising() -> None:
    text, charset = decode_payload(
        b"abc " + b"\xc3\x28\xa0\xa1" * 3 + b" xyz", "text/plain; charset=utf-8", False
    )
    assert text.startswith("abc ") and text.endswith(" xyz") and charset


def test_normalize_charset() -> None:
    assert normalize_charset("GBK") == "gb18030"
    assert normalize_charset("gb2312") == "gb18030"
    assert normalize_charset("x-gbk") == "gb18030"
    assert normalize_charset("Big5") == "big5hkscs"
    assert normalize_charset("UTF8") == "utf-8"
    assert normalize_charset("iso-8859-1") == "cp1252"
    assert normalize_charset("no-such-charset") is None


def test_non_text_payloads_filtered() -> None:
    batch = raw_rows(
        content_type=[
            "image/png",
            "application/pdf",
            "application/octet-stream",
            "text/plain; charset=utf-8",
            None,
            None,
        ],
        payload=[
            b"\x89PNG\r\n\x1a\n\x00",
            b"%PDF-1.7",
            b"\x00\x01",
            POEM.encode(),
            b"\x00\x00bin",
            b"<!DOCTYPE html><p>x</p>",
        ],
    )
    result = decode(batch)
    assert result.kept.column("url").to_pylist() == ["https://t.example/3", "https://t.example/5"]
    assert result.kept.column("is_html").to_pylist() == [False, True]  # sniffed when no header
    dropped = result.dropped.to_pylist()
    assert result.dropped.schema == LEDGER_SCHEMA
    assert [r["id"] for r in dropped] == ["t-0", "t-1", "t-2", "t-4"]
    assert {(r["stage"], r["decision"], r["reason"]) for r in dropped} == {
        ("decode", "filtered", "non_text_payload")
    }
    assert [r["bytes"] for r in dropped] == [9, 8, 2, 5]


def test_text_rows_pass_through() -> None:
    batch = raw_rows(text=[POEM, "<html><p>x</p></html>"], content_type=[None, "text/html"])
    result = decode(batch)
    assert result.kept.column("text").to_pylist() == [POEM, "<html><p>x</p></html>"]
    assert result.kept.column("charset").to_pylist() == [None, None]
    assert result.kept.column("is_html").to_pylist() == [False, True]
    assert "payload" not in result.kept.column_names


def test_decode_error_is_quarantined(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> tuple[str, str]:
        raise RuntimeError("codec exploded")

    monkeypatch.setattr(decode_mod, "decode_payload", boom)
    result = decode(raw_rows(content_type=["text/plain"], payload=[b"abc"]))
    assert result.kept.num_rows == 0
    assert result.dropped.to_pylist()[0]["reason"] == "decode_error:RuntimeError"
    assert result.dropped.to_pylist()[0]["decision"] == "quarantined"


def test_empty_batch() -> None:
    result = decode(RAW_SCHEMA.empty_table())
    assert result.kept.num_rows == 0 and "charset" in result.kept.column_names


def test_rows_balance(raw: pa.Table) -> None:
    result = decode(raw)
    assert result.kept.num_rows + result.dropped.num_rows == raw.num_rows


def _warc_with(path: Path, pages: list[tuple[str, bytes, str]]) -> None:
    """(url, body, HTTP Content-Type) responses in a .warc.gz, via warcio's writer."""
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for url, body, ctype in pages:
            http = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(url, "response", payload=io.BytesIO(body), http_headers=http)
            )


def test_lying_charsets_in_a_warc(tmp_path: Path) -> None:
    """Read → decode on records whose HTTP charset is wrong: the bytes' real encoding wins."""
    html = (
        f"<html><head><meta charset=gb18030><title>静夜思</title></head><body><pre>{POEM}</pre></body></html>"
    )
    gb = html.encode("gb18030")
    utf8 = html.replace("gb18030", "utf-8").encode()
    big5 = "<html><body><p>個案呈現:臺灣的繁體中文頁面,內容相當長。</p></body></html>".encode("big5") * 5
    path = tmp_path / "lying.warc.gz"
    _warc_with(
        path,
        [
            ("https://l.example/gb-as-utf8", gb, "text/html; charset=utf-8"),  # meta is right
            ("https://l.example/gb-as-latin1", gb, "text/html; charset=iso-8859-1"),  # meta is right
            ("https://l.example/utf8-as-gbk", utf8, "text/html; charset=gbk"),  # decodes strictly as neither
            ("https://l.example/big5-undeclared", big5, "text/html"),  # no label anywhere
            (
                "https://l.example/latin1",
                "<p>café à la crème</p>".encode("latin-1"),
                "text/html; charset=iso-8859-1",
            ),
        ],
    )
    read = read_partition(str(path), "l", "warc")
    result = decode(read.batch)
    assert result.dropped.num_rows == 0
    rows = {r["url"].rsplit("/", 1)[1]: r for r in result.kept.to_pylist()}
    assert rows["gb-as-utf8"]["charset"] == "gb18030" and rows["gb-as-utf8"]["text"] == html
    assert rows["gb-as-latin1"]["charset"] == "gb18030" and rows["gb-as-latin1"]["text"] == html
    assert rows["utf8-as-gbk"]["text"] == utf8.decode() and rows["utf8-as-gbk"]["charset"] == "utf-8"
    assert "個案呈現" in rows["big5-undeclared"]["text"]
    assert (rows["latin1"]["text"], rows["latin1"]["charset"]) == ("<p>café à la crème</p>", "cp1252")
    for row in rows.values():
        assert "\ufffd" not in row["text"] and "锟斤拷" not in row["text"] and "Ã" not in row["text"]


def test_binary_bytes_under_a_text_label_are_filtered() -> None:
    batch = raw_rows(
        content_type=["text/html", "text/plain; charset=utf-8", "text/html"],
        payload=[b"\x89PNG\r\n\x1a\n\x00\x00", b"%PDF-1.5\n%\xe2\xe3", b"<p>fine</p>"],
    )
    result = decode(batch)
    assert result.kept.column("url").to_pylist() == ["https://t.example/2"]
    assert result.dropped.column("reason").to_pylist() == ["non_text_payload"] * 2
