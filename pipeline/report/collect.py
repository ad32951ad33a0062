"""Gather every number the report shows from the files a run left behind (no recomputation).

Reads a run folder through its RunLayout: the dataset always, the tokenizer, tokens, mixture
and models when the run got that far.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.compute as pc

from pipeline.core.layout import RunLayout
from pipeline.records import ledger


def _json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def collect(layout: RunLayout) -> dict:
    ds = layout.dataset
    manifest = _json(ds / "manifest.json")
    if manifest is None:
        raise FileNotFoundError(
            f"no dataset manifest at {ds / 'manifest.json'}: give the run folder, "
            "the OUT of `yuliao pipeline run --output OUT`"
        )
    led = ledger.read(ds / "ledger")
    stats = [json.loads(p.read_text()) for p in sorted((ds / "_work" / "stage1").glob("*.stats.json"))]
    input_records = sum(s["input_records"] for s in stats)

    by_stage = (
        led.group_by(["stage", "decision", "reason"])
        .aggregate([("id", "count"), ("bytes", "sum")])
        .sort_by([("stage", "ascending"), ("decision", "ascending"), ("reason", "ascending")])
        .to_pylist()
    )
    by_source = (
        led.group_by(["source", "decision"]).aggregate([("id", "count")]).sort_by("source").to_pylist()
    )
    seconds: dict[str, float] = {}
    rows_in: dict[str, int] = {}
    for s in stats:
        for k, v in s["seconds"].items():
            seconds[k] = seconds.get(k, 0.0) + v
        for k, v in s["rows_in"].items():
            rows_in[k] = rows_in.get(k, 0) + v
    dup = led.filter(pc.equal(led["decision"], "duplicate"))

    report: dict = {
        "input_records": input_records,
        "ledger_rows": led.num_rows,
        "decisions": ledger.decision_counts(led),
        "by_stage": by_stage,
        "by_source": by_source,
        "duplicates": {
            "exact": int(pc.sum(pc.equal(dup["reason"], "exact")).as_py() or 0),
            "near": int(pc.sum(pc.equal(dup["reason"], "near")).as_py() or 0),
        },
        "stage_seconds": seconds,
        "stage_rows_in": rows_in,
        "warnings": [w for s in stats for w in s["warnings"]],
        "dataset": {
            "rows": manifest["rows"],
            "shards": len(manifest["shards"]),
            "per_source": manifest["per_source"],
        },
        "stage_bytes_in": _sum_dicts(s.get("bytes_in", {}) for s in stats),
        "kept_docs": _kept_columns(ds, manifest),
    }
    tok = _json(layout.tokenizer / "yuliao_tokenizer.json")
    if tok:
        report["tokenizer"] = {"vocab_size": tok.get("vocab_size"), "kind": tok.get("kind")}
    tokens = _json(layout.tokens / "manifest.json")
    if tokens:
        report["tokens"] = {"total": tokens["total_tokens"], "per_source": tokens["tokens_per_source"]}
    mixture = _json(layout.mixture)
    if mixture:
        report["mixture"] = mixture
    runs = {}
    for p in sorted(layout.models.glob("*/result.json")):
        runs[p.parent.name] = json.loads(p.read_text())
    if runs:
        report["runs"] = runs
    return report


def _sum_dicts(dicts) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


# Columns of kept documents the report summarises when a step produced them.
_OPTIONAL = ("lang", "script", "quality_score", "text_original_script", "cluster_size", "lines_removed")


def _kept_columns(ds: Path, manifest: dict) -> dict[str, list]:
    """Per kept document: source, characters, and the optional columns that exist."""
    from pipeline.core.atomic import read_arrow

    out: dict[str, list] = {"source": [], "chars": []}
    pii: dict[str, int] = {}
    boiler: dict[str, int] = {}
    for shard in manifest["shards"]:
        t = read_arrow(ds / shard["path"])
        out["source"] += [shard["source"]] * t.num_rows
        out["chars"] += pc.utf8_length(t["text"]).to_pylist()
        for col in _OPTIONAL:
            if col in t.column_names:
                out.setdefault(col, []).extend(t[col].to_pylist())
        for col in t.column_names:
            if col.startswith("pii_") and pa_is_integer(t.schema.field(col).type):
                pii[col.removeprefix("pii_")] = pii.get(col.removeprefix("pii_"), 0) + int(
                    pc.sum(t[col]).as_py() or 0
                )
    out["pii_totals"] = pii  # type: ignore[assignment]
    out["boilerplate_totals"] = boiler  # type: ignore[assignment]
    return out


def pa_is_integer(t) -> bool:
    import pyarrow.types as pat

    return pat.is_integer(t)
