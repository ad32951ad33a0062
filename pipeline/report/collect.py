"""Gather every number the report shows from the files a run left behind (no recomputation).

Reads a run folder through its RunLayout: the dataset always, the tokenizer, tokens, mixture
and models when the run got that far.  The dataset's numbers are sums of the summaries each
partition's stage 3 wrote (`partition_summary`), so neither this nor the job's driver holds
anything per document: a summary grows with the distinct values it counts (document lengths,
languages, cluster sizes), never with the number of documents.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.types as pat

from pipeline.core.atomic import read_arrow
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
    stats = [json.loads(p.read_text()) for p in sorted((ds / "_work" / "stage1").glob("*.stats.json"))]
    input_records = sum(s["input_records"] for s in stats)
    # Sums of what each partition's stage 3 left (pipeline.partition.run_stage3), partition
    # order: the ledger and the documents themselves are never read here.
    names = [p["partition"] for p in manifest["inputs"]]
    try:
        summaries = [read_summary(summary_path(ds / "_work", name)) for name in names]
    except FileNotFoundError as e:
        raise FileNotFoundError(
            f"{e.filename}: missing; rerun the same `yuliao pipeline run` (it resumes and writes it)"
        ) from None
    led = ledger.merge(s["ledger"] for s in summaries)

    seconds: dict[str, float] = {}
    rows_in: dict[str, int] = {}
    for s in stats:
        for k, v in s["seconds"].items():
            seconds[k] = seconds.get(k, 0.0) + v
        for k, v in s["rows_in"].items():
            rows_in[k] = rows_in.get(k, 0) + v
    dup = [g for g in led["by_stage"] if g["decision"] == "duplicate"]

    report: dict = {
        "input_records": input_records,
        "ledger_rows": led["rows"],
        "decisions": led["decisions"],
        "by_stage": led["by_stage"],
        "by_source": led["by_source"],
        "duplicates": {
            "exact": sum(g["id_count"] for g in dup if g["reason"] == "exact"),
            "near": sum(g["id_count"] for g in dup if g["reason"] == "near"),
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
        "cluster": cluster_facts([s["worker"] for s in stats if "worker" in s]),
        "kept_docs": merge_kept(s["kept"] for s in summaries),
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


def cluster_facts(workers: list[dict]) -> dict[str, int]:
    """Distinct worker processes and hosts that ran stage 1, and the cores of those hosts."""
    hosts = {w["host"]: int(w["cores"]) for w in workers}
    return {
        "workers": len({(w["host"], w["pid"]) for w in workers}),
        "hosts": len(hosts),
        "cores": sum(hosts.values()),
    }


def _sum_dicts(dicts) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def summary_path(work: Path, partition: str) -> Path:
    """Where stage 3 leaves a partition's summary: under _work, not in ledger/ or data/, which
    users load whole."""
    return work / "summaries" / f"{partition}.json"


def read_summary(path: str | Path) -> dict:
    with fsspec.open(str(path), "rb") as fh:
        return json.load(fh)


def partition_summary(ledger_part: pa.Table, kept: dict) -> dict:
    """A partition's summary: its ledger part's (`ledger.summary`) and its kept documents' (`kept_summary`)."""
    return {"ledger": ledger.summary(ledger_part), "kept": kept}


def summarise_files(ledger_part: Path, shards: Iterable[Path], source: str) -> dict:
    """`partition_summary` of a partition's written ledger part and shards."""
    kept = merge_kept(kept_summary(read_arrow(p), source) for p in shards)
    return partition_summary(ledger.read_file(ledger_part), kept)


# Kept-document columns counted by value (the report's tables and bar charts).
COUNTED = ("lang", "script", "cluster_size", "extractor")
QUALITY_BINS = 40  # the quality-score histogram's bins over [0, 1]


def kept_summary(docs: pa.Table, source: str) -> dict:
    """What the report shows of some kept documents, in a form `merge_kept` sums exactly:
    characters per document counted by value (any histogram of them can be drawn), per-value
    counts in order of first appearance, the quality-score histogram on fixed bins, totals."""
    out: dict = {"docs": docs.num_rows, "chars": {}, "values": {}, "pii_totals": {}}
    if not docs.num_rows:  # a column of no documents shows nowhere
        return out
    out["chars"][source] = sorted(Counter(pc.utf8_length(docs["text"]).to_pylist()).items())
    for col in COUNTED:
        if col in docs.column_names:
            out["values"][col] = list(Counter(docs[col].to_pylist()).items())
    if "quality_score" in docs.column_names:
        scores = [s for s in docs["quality_score"].to_pylist() if s is not None]
        hist, _ = np.histogram(np.asarray(scores, dtype=float), bins=QUALITY_BINS, range=(0, 1))
        out["quality_score"] = {"scored": len(scores), "hist": hist.tolist()}
    if "lines_removed" in docs.column_names:
        removed = docs["lines_removed"]
        out["lines_removed"] = {
            "docs": docs.num_rows,
            "lines": int(pc.sum(removed).as_py() or 0),
            "changed": int(pc.sum(pc.not_equal(removed, 0)).as_py() or 0),
        }
    for col in docs.column_names:
        if col.startswith("pii_") and pat.is_integer(docs.schema.field(col).type):
            out["pii_totals"][col.removeprefix("pii_")] = int(pc.sum(docs[col]).as_py() or 0)
    return out


def merge_kept(summaries: Iterable[dict]) -> dict:
    """The `kept_summary` of all the documents, from theirs in document order."""
    docs = 0
    chars: dict[str, dict] = {}
    values: dict[str, dict] = {}
    pii: dict[str, int] = {}
    quality: dict | None = None
    removed: dict | None = None
    for s in summaries:
        docs += s["docs"]
        for src, pairs in s["chars"].items():
            _add_pairs(chars.setdefault(src, {}), pairs)
        for col, pairs in s["values"].items():
            _add_pairs(values.setdefault(col, {}), pairs)
        _add_pairs(pii, s["pii_totals"].items())
        if "quality_score" in s:
            q = s["quality_score"]
            quality = quality or {"scored": 0, "hist": [0] * QUALITY_BINS}
            quality = {
                "scored": quality["scored"] + q["scored"],
                "hist": [a + b for a, b in zip(quality["hist"], q["hist"], strict=True)],
            }
        if "lines_removed" in s:
            removed = {k: (removed or {}).get(k, 0) + v for k, v in s["lines_removed"].items()}
    out: dict = {
        "docs": docs,
        "chars": {src: sorted(c.items()) for src, c in chars.items()},
        "values": {col: list(c.items()) for col, c in values.items()},
        "pii_totals": pii,
    }
    if quality is not None:
        out["quality_score"] = quality
    if removed is not None:
        out["lines_removed"] = removed
    return out


def _add_pairs(counts: dict, pairs: Iterable) -> None:
    for value, n in pairs:
        counts[value] = counts.get(value, 0) + n
