"""A JSONL line nested 1,000 deep is one quarantined record (`json_too_deep`), never a crashed job."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow.compute as pc

from pipeline.config import PipelineConfig, SourceConfig
from pipeline.io.jsonl import MAX_JSON_DEPTH
from pipeline.io.readers import read_partition
from pipeline.records import ledger
from pipeline.run import run_pipeline

SAMPLE = Path(__file__).resolve().parents[3] / "pipeline" / "sample_data"


def _real_docs(n: int) -> list[str]:
    with gzip.open(SAMPLE / "mirror.jsonl.gz", "rt", encoding="utf-8") as fh:
        return [json.loads(line)["text"] for _, line in zip(range(n), fh, strict=False)]


def _nested(depth: int, inner: str = '"x"') -> str:
    """`{"a": {"a": ... inner ... }}` opened `depth` times: about 5 bytes a level."""
    return '{"a": ' * depth + inner + "}" * depth


def test_job_survives_a_1000_deep_line(tmp_path: Path, unchanged) -> None:
    docs = _real_docs(8)
    deep = _nested(1000, json.dumps({"text": "hidden"}))  # ~6 KB; json.loads raises RecursionError
    lines = [json.dumps({"text": d}, ensure_ascii=False) for d in docs]
    lines.insert(0, deep)  # first: planning's preflight parses it too
    lines.insert(5, "[" * 1000 + "]" * 1000)
    path = tmp_path / "deep.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    unchanged(tmp_path, out)
    result = run_pipeline(
        [SourceConfig(name="deep", paths=[str(path)], weight=1.0)],
        PipelineConfig(),
        out,
        client=None,
        base_dir=tmp_path,
    )
    led = ledger.read(out / "ledger")
    assert led.num_rows == len(lines) == result.manifest["ledger"]["rows"]  # every line, once
    assert len(set(led["id"].to_pylist())) == led.num_rows
    quarantined = led.filter(pc.equal(led["decision"], "quarantined"))
    assert quarantined["reason"].to_pylist() == ["json_too_deep", "json_too_deep"]
    assert ledger.decision_counts(led).get("kept", 0) >= 1  # the real documents went on


def test_depth_limit_is_counted_not_left_to_the_stack(tmp_path: Path) -> None:
    """The limit is MAX_JSON_DEPTH levels wherever the parser runs; brackets inside strings do not count."""
    at_limit = json.dumps({"text": "at the limit", "n": json.loads(_nested(MAX_JSON_DEPTH - 1))})
    over = json.dumps({"text": "one too deep", "n": json.loads(_nested(MAX_JSON_DEPTH))})
    quoted = json.dumps({"text": '[{"' * 5000 + ' \\" ' + "{" * 5000})  # deep-looking, but all string
    path = tmp_path / "limit.jsonl"
    path.write_text("\n".join([at_limit, over, quoted]) + "\n", encoding="utf-8")
    read = read_partition(str(path), "s", "jsonl")
    texts = read.batch.column("text").to_pylist()
    assert texts[0] == "at the limit" and texts[1].startswith('[{"[{"') and len(texts) == 2
    assert read.quarantined.column("reason").to_pylist() == ["json_too_deep"]
    assert read.records == 3
