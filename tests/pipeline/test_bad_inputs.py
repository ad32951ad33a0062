"""The whole job over a source full of damaged inputs: it finishes, and every record is accounted for.

Reader-level cases live in test_readers.py; this file checks what the issue asks of the *job*:
record-level problems become quarantined/filtered ledger rows with reasons, configuration
problems fail before any work starts, and the ledger still balances.
"""

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from pipeline.config import PipelineConfig, ReadConfig, SourceConfig
from pipeline.records import ledger
from pipeline.run import run_pipeline

SAMPLE = Path(__file__).resolve().parents[2] / "pipeline" / "sample_data"


def _real_docs() -> list[str]:
    """Real documents (the bundled mirror sample), so the good records pass the quality filters."""
    with gzip.open(SAMPLE / "mirror.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in fh]


DOCS = _real_docs()
ZH = next(d for d in DOCS if sum("\u4e00" <= c <= "\u9fff" for c in d) > 500 and len(d) < 5000)
ZH_PARAGRAPHS = [p.strip() for p in ZH.split("\n") if len(p.strip()) > 40]
MARK = ZH_PARAGRAPHS[0][5:25]  # a phrase of the lying-charset page that must survive decoding


def _warc_record(uri: str, content_type: str, body: bytes) -> bytes:
    """One uncompressed WARC/1.0 response record (written by hand: it is the bytes we test)."""
    http = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    payload = http + body
    head = (
        "WARC/1.0\r\nWARC-Type: response\r\n"
        f"WARC-Target-URI: {uri}\r\nWARC-Date: 2024-01-01T00:00:00Z\r\n"
        f"WARC-Record-ID: <urn:uuid:{abs(hash(uri)) % 10**12:012d}-0000-0000-0000-000000000000>\r\n"
        "Content-Type: application/http; msgtype=response\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode()
    return head + payload + b"\r\n\r\n"


@pytest.fixture(scope="module")
def bad_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bad")
    # 0-byte files of two formats.
    (d / "empty.jsonl").write_bytes(b"")
    (d / "empty.warc.gz").write_bytes(b"")
    # Truncated gzip (JSONL): the readable prefix is processed, the cut is quarantined.
    lines = [json.dumps({"text": t}, ensure_ascii=False) for t in DOCS[:30]]
    whole = gzip.compress(("\n".join(lines) + "\n").encode())
    (d / "truncated.jsonl.gz").write_bytes(whole[: len(whole) * 2 // 3])
    # Malformed JSONL lines and a line that is not valid UTF-8, among good ones.
    raw = [
        json.dumps({"text": DOCS[30]}, ensure_ascii=False).encode(),
        b'{"text": "unterminated',
        b"[1, 2, 3]",
        b'{"text": "\xff\xfe bad bytes"}',
        json.dumps({"other": "no text field here"}).encode(),
        json.dumps({"text": DOCS[31]}, ensure_ascii=False).encode(),
    ]
    (d / "malformed.jsonl").write_bytes(b"\n".join(raw) + b"\n")
    # A 12 MB single JSONL record (over the 8 MB limit set below) between two good ones.
    big = json.dumps({"text": "大" * (4 * 1024 * 1024)}, ensure_ascii=False)
    (d / "huge.jsonl").write_text(
        json.dumps({"text": DOCS[32]}, ensure_ascii=False)
        + "\n"
        + big
        + "\n"
        + json.dumps({"text": DOCS[33]}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    # WARC: a page whose header says latin-1 but whose bytes are GB18030, and a PNG.
    body = "".join(f"<p>{p}</p>" for p in ZH_PARAGRAPHS)
    html = f"<html><head><title>地區設定</title></head><body>{body}</body></html>"
    (d / "lying.warc").write_bytes(
        _warc_record("http://example.cn/a", "text/html; charset=iso-8859-1", html.encode("gb18030"))
        + _warc_record("http://example.cn/b.png", "image/png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    )
    return d


@pytest.fixture(scope="module")
def bad_run(bad_dir: Path, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "out"
    cfg = PipelineConfig(shard_rows=50, read=ReadConfig(max_record_bytes=8 * 1024 * 1024))
    sources = [
        SourceConfig(
            name="bad",
            paths=[
                str(bad_dir / n)
                for n in (
                    "empty.jsonl",
                    "empty.warc.gz",
                    "truncated.jsonl.gz",
                    "malformed.jsonl",
                    "huge.jsonl",
                    "lying.warc",
                )
            ],
            weight=1.0,
        )
    ]
    result = run_pipeline(sources, cfg, out, client=None, base_dir=bad_dir)
    return result, ledger.read(out / "ledger"), out


def test_job_completes_and_ledger_balances(bad_run) -> None:
    result, led, _ = bad_run
    assert result.manifest["ledger"]["rows"] == led.num_rows
    ids = led["id"].to_pylist()
    assert len(ids) == len(set(ids)), "every record exactly once in the ledger"
    counts = ledger.decision_counts(led)
    assert sum(counts.values()) == led.num_rows
    assert counts.get("kept", 0) >= 10  # the good records of truncated/malformed/huge/lying


def _reasons(led: pa.Table, decision: str) -> list[str]:
    return led.filter(pc.equal(led["decision"], decision))["reason"].to_pylist()


def test_record_level_problems_are_quarantined_with_reasons(bad_run) -> None:
    _, led, _ = bad_run
    quarantined = _reasons(led, "quarantined")
    assert all(r for r in quarantined), "every quarantine has a reason"
    # Two unparseable JSON lines, one non-UTF-8 line, one truncated gzip tail, one missing field.
    assert sorted(quarantined) == [
        "invalid_utf8",
        "malformed_json",
        "malformed_json",
        "missing_text_field",
        "read_error:truncated_gzip",
    ]


def test_oversized_record_and_binary_payload_are_filtered_not_decoded(bad_run) -> None:
    _, led, _ = bad_run
    filtered = _reasons(led, "filtered")
    assert filtered.count("record_too_large") == 1, filtered  # the 12 MB JSONL line
    assert filtered.count("non_text_payload") == 1, filtered  # the PNG


def test_lying_charset_page_is_decoded_correctly(bad_run) -> None:
    _, _, out = bad_run
    texts = [
        t
        for shard in sorted((out / "data").glob("*.arrow"))
        for t in pa.ipc.open_file(pa.memory_map(str(shard))).read_all()["text"].to_pylist()
    ]
    page = [t for t in texts if MARK in t and t not in DOCS]
    assert len(page) == 1, "the GB18030 page behind a latin-1 header decoded to Chinese"
    for bad in ("\ufffd", "Ã", "â€", "锟斤拷"):  # (the original itself quotes a few U+FFFD)
        assert page[0].count(bad) == ZH.count(bad), bad


def test_parquet_without_text_column_fails_before_work_starts(tmp_path: Path) -> None:
    path = tmp_path / "no_text.parquet"
    pq.write_table(pa.table({"body": ["a", "b"]}), path)
    out = tmp_path / "out"
    with pytest.raises(ValueError, match="text"):
        run_pipeline(
            [SourceConfig(name="p", paths=[str(path)], weight=1.0)],
            PipelineConfig(),
            out,
            client=None,
            base_dir=tmp_path,
        )
    assert not (out / "data").exists(), "nothing was written before the error"


def test_missing_path_fails_before_work_starts(tmp_path: Path) -> None:
    with pytest.raises((FileNotFoundError, ValueError), match="nope"):
        run_pipeline(
            [SourceConfig(name="p", paths=[str(tmp_path / "nope-*.jsonl")], weight=1.0)],
            PipelineConfig(),
            tmp_path / "out",
            client=None,
            base_dir=tmp_path,
        )
