"""Decompression bombs: a tiny compressed JSONL that inflates to hundreds of MB reads in bounded
memory and linear time, and `read.max_inflated_bytes` stops one that inflates past it."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import tracemalloc
from pathlib import Path

import pytest
import zstandard

from pipeline.config import ReadConfig
from pipeline.io.collector import Collector
from pipeline.io.jsonl import read_jsonl
from pipeline.io.readers import read_partition

MiB = 1 << 20
SAMPLE = Path(__file__).resolve().parents[3] / "pipeline" / "sample_data"


def _compressor(codec: str, buf: io.BytesIO):
    if codec == "zst":
        return zstandard.ZstdCompressor(level=1).stream_writer(buf, closefd=False)  # no content size
    if codec == "gz":
        return gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=1)
    if codec == "bz2":
        return bz2.BZ2File(buf, "wb", compresslevel=1)
    return lzma.LZMAFile(buf, "wb", preset=0)


def _bomb(path: Path, codec: str, zeros: int) -> None:
    """One good line, then `zeros` bytes of NUL in a single endless 'line', then one more good line."""
    buf = io.BytesIO()
    with _compressor(codec, buf) as w:
        w.write(json.dumps({"text": "before"}).encode() + b"\n")
        block = bytes(8 * MiB)
        for _ in range(zeros // len(block)):
            w.write(block)
        w.write(b"\n" + json.dumps({"text": "after"}).encode() + b"\n")
    path.write_bytes(buf.getvalue())


# zstd: 320 MiB of zeros in ~10 KB, inflated in one call before; the stdlib codecs are checked too.
@pytest.mark.parametrize(
    "codec,zeros", [("zst", 320 * MiB), ("gz", 64 * MiB), ("bz2", 64 * MiB), ("xz", 64 * MiB)]
)
def test_bomb_streams_through_in_bounded_memory(tmp_path: Path, codec: str, zeros: int) -> None:
    path = tmp_path / f"bomb.jsonl.{codec}"
    _bomb(path, codec, zeros)
    assert path.stat().st_size < zeros // 100
    tracemalloc.start()
    try:
        read = read_partition(str(path), "b", "jsonl", max_record_bytes=MiB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * MiB  # max_record_bytes + a 1 MiB piece + buffers, never the inflated size
    assert read.batch.column("text").to_pylist() == ["before", "after"]
    (row,) = read.quarantined.to_pylist()
    assert (row["decision"], row["reason"], row["bytes"]) == ("filtered", "record_too_large", zeros + 1)


@pytest.mark.parametrize("codec", ["zst", "gz"])
def test_inflate_cap_quarantines_the_rest_as_one_row(tmp_path: Path, codec: str) -> None:
    with gzip.open(SAMPLE / "mirror.jsonl.gz", "rb") as fh:
        lines = fh.read().splitlines(keepends=True)
    path = tmp_path / f"docs.jsonl.{codec}"
    buf = io.BytesIO()
    with _compressor(codec, buf) as w:
        w.write(b"".join(lines))
    path.write_bytes(buf.getvalue())
    cap = sum(len(line) for line in lines[:5]) + len(lines[5]) // 2  # the cap falls inside line 6

    out = Collector("m", str(path))
    read_jsonl(str(path), "text", out, 10 * MiB, max_inflated_bytes=cap)
    read = out.result()
    assert read.batch.column("text").to_pylist() == [json.loads(line)["text"] for line in lines[:5]]
    (row,) = read.quarantined.to_pylist()
    assert (row["decision"], row["reason"]) == ("quarantined", "read_error:inflated_over_cap")
    assert (
        len(read.warnings) == 1 and str(path) in read.warnings[0] and "inflated_over_cap" in read.warnings[0]
    )

    whole = Collector("m", str(path))  # the default cap reads every line
    read_jsonl(str(path), "text", whole, 10 * MiB)
    assert whole.result().batch.num_rows == len(lines)


def test_inflate_cap_stops_a_bomb_early(tmp_path: Path) -> None:
    path = tmp_path / "bomb.jsonl.zst"
    _bomb(path, "zst", 320 * MiB)
    out = Collector("b", str(path))
    read_jsonl(str(path), "text", out, MiB, max_inflated_bytes=4 * MiB)
    read = out.result()
    assert read.batch.column("text").to_pylist() == ["before"]
    assert read.quarantined.column("reason").to_pylist() == ["read_error:inflated_over_cap"]


def test_uncompressed_jsonl_has_no_inflate_cap(tmp_path: Path) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"text": f"doc {i}"}) + "\n" for i in range(100)))
    out = Collector("p", str(path))
    read_jsonl(str(path), "text", out, MiB, max_inflated_bytes=100)
    assert out.result().batch.num_rows == 100


def test_max_inflated_bytes_is_a_read_setting() -> None:
    assert ReadConfig().max_inflated_bytes == 64 << 30
    with pytest.raises(ValueError, match="max_inflated_bytes"):
        ReadConfig(max_inflated_bytes=0)


def test_a_flood_of_blank_lines_keeps_offsets(tmp_path: Path) -> None:
    """Blank lines are skipped a buffer at a time; the record after them keeps its true offset."""
    flood = 3_000_000
    data = b'{"text": "a"}\n' + b"\n" * flood + b'{"text": "b"}\n'
    for name, blob in (("f.jsonl.gz", gzip.compress(data, 1)), ("f.jsonl", data)):
        path = tmp_path / name
        path.write_bytes(blob)
        read = read_partition(str(path), "s", "jsonl")
        assert read.batch.column("offset").to_pylist() == [0, 14 + flood], name
        assert read.batch.column("text").to_pylist() == ["a", "b"]


def test_the_job_passes_the_inflate_cap_to_the_reader(tmp_path: Path) -> None:
    import pyarrow.compute as pc

    from pipeline.config import PipelineConfig, SourceConfig
    from pipeline.records import ledger
    from pipeline.run import run_pipeline

    lines = [json.dumps({"text": f"record {i} " + "word " * 200}) for i in range(200)]
    path = tmp_path / "d.jsonl.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    cfg = PipelineConfig(read=ReadConfig(max_inflated_bytes=50_000))
    source = SourceConfig(name="s", paths=[str(path)], weight=1.0)
    result = run_pipeline([source], cfg, tmp_path / "out", client=None, base_dir=tmp_path)
    led = ledger.read(tmp_path / "out" / "ledger")
    assert led.num_rows == result.stats[0]["input_records"] < 200
    reasons = led.filter(pc.equal(led["decision"], "quarantined"))["reason"].to_pylist()
    assert reasons == ["read_error:inflated_over_cap"]
