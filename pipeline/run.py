"""The pipeline job: partitions in parallel on Dask, one global dedup decision, atomic outputs.

    stage 1 (per input file, parallel): read → decode → extract → clean → langid → filter → dedup keys
    stage 2 (pipeline.dedup.job):       exact + MinHash-LSH duplicates over the survivors' keys only
    stage 3 (per input file, parallel): drop duplicates, write shards + the partition's ledger
    finish (driver):                    check the ledger balances (from stage 3's per-partition
                                        summaries: no per-record state), write manifest.json

Output layout: data/shard-*.arrow, ledger/part-*.parquet, manifest.json, README.md (a dataset card
whose `configs:` make `datasets.load_dataset(output)` give the documents), _work/ (resume state),
.yuliao/ (owner file and lock; see pipeline.core.ownership; each folder's completion markers sit in
its own .yuliao/done/, see pipeline.core.atomic.done_marker).  The output may be an fsspec URL
(s3://bucket/run/dataset): pipeline.core.atomic says how a write commits there.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import fsspec
from upath import UPath

from pipeline.config import PipelineConfig, SourceConfig
from pipeline.core.atomic import AnyPath, as_path, write_bytes, write_json
from pipeline.core.executor import map_tasks
from pipeline.core.ownership import OutputConflict, claim_output, input_stamps
from pipeline.core.version import __version__
from pipeline.dataset_card import dataset_card
from pipeline.io.collector import InputConfigError
from pipeline.partition import Partition, run_stage1, run_stage3, stage1_paths
from pipeline.records import ledger
from pipeline.report.collect import read_summary, summary_path

__all__ = ["OutputConflict", "RunResult", "StrictFailure", "plan_partitions", "run_pipeline"]


class StrictFailure(RuntimeError):
    """`strict` was asked for and the job had warnings (unreadable files, damaged records)."""


@dataclass(frozen=True)
class RunResult:
    output: AnyPath
    manifest: dict
    stats: list[dict]
    warnings: list[str]


# What `pipeline run` writes inside its output folder (the owner file lists the ones it created).
WRITES = ("data", "ledger", "manifest.json", "README.md", "report", "_work")


def expand_paths(source: SourceConfig, base_dir: Path) -> list[str]:
    """Resolve globs (any fsspec URL); relative local paths are relative to the manifest.

    A file matched twice (two overlapping patterns) is read once.
    """
    found: list[str] = []
    for pattern in source.paths:
        if "://" not in pattern and not Path(pattern).is_absolute():
            pattern = str((base_dir / pattern).resolve())
        fs, _, paths = fsspec.core.get_fs_token_paths(pattern)
        if not paths:
            raise FileNotFoundError(f"sources[{source.name}].paths: nothing matches {pattern!r}")
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        found.extend(p if protocol == "file" else f"{protocol}://{p}" for p in sorted(paths))
    return list(dict.fromkeys(found))


_EXTENSIONS = {
    ".warc": "warc",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".arrow": "arrow",
    ".arrows": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
}


def infer_format(path: str) -> str:
    stem = path.lower()
    for comp in (".gz", ".zst", ".bz2", ".xz"):
        stem = stem.removesuffix(comp)
    for ext, fmt in _EXTENSIONS.items():
        if stem.endswith(ext):
            return fmt
    raise ValueError(f"{path}: cannot tell the format from the extension; set the source's `format`")


def plan_partitions(
    sources: list[SourceConfig], base_dir: Path, cfg: PipelineConfig, warnings: list[str] | None = None
) -> list[Partition]:
    """One partition per file, or per split of a big splittable file (bounded memory per task).

    Planning also checks that columnar/JSONL inputs have the text field, so a wrong
    `text_field` fails here, before any work starts.  A file that cannot be planned at all
    (corrupt footer, a directory, a symlink loop, unreadable) is one partition that reads
    as a single quarantined ledger row naming the file, and a warning: the job goes on.
    """
    from pipeline.io.splits import plan_splits

    root = str(base_dir.resolve())
    parts: list[Partition] = []
    for src in sources:
        for path in expand_paths(src, base_dir):
            fmt = infer_format(path) if src.format == "auto" else src.format
            field = src.text_field if fmt in ("jsonl", "parquet", "arrow") else None
            try:
                splits = plan_splits(path, fmt, cfg.read.split_bytes, text_field=field)
            except InputConfigError:
                raise
            except Exception as exc:  # the file, not the job: quarantined by its partition
                reason = f"read_error:{type(exc).__name__}"
                if warnings is not None:
                    warnings.append(f"{path}: cannot be read ({type(exc).__name__}: {exc}); quarantined")
                parts.append(
                    Partition(len(parts), src.name, path, fmt, src.text_field, root=root, failure=reason)
                )
                continue
            for split in splits:
                parts.append(Partition(len(parts), src.name, path, fmt, src.text_field, split, root=root))
    return parts


def _fingerprint(parts: list[Partition], cfg: PipelineConfig, stamps: dict[str, dict]) -> str:
    blob = json.dumps(
        {
            "parts": [dataclasses.asdict(p) for p in parts],
            "inputs": stamps,
            "config": cfg.model_dump(mode="json"),
            "version": __version__,
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _changed_inputs(output: AnyPath, stamps: dict[str, dict]) -> list[str]:
    """Inputs of an earlier run into `output` that now look different (resume would be stale)."""
    try:
        before = json.loads((output / "_work" / "inputs.json").read_text())
    except (OSError, ValueError):
        return []
    return sorted(p for p, stamp in stamps.items() if p in before and before[p] != stamp)


def run_pipeline(
    sources: list[SourceConfig],
    cfg: PipelineConfig,
    output: str | os.PathLike[str] | UPath,
    client: object | None,
    base_dir: Path,
    overwrite: bool = False,
    resolved_config: dict | None = None,
    strict: bool = False,
) -> RunResult:
    """Run the job into `output`, a local path or an fsspec URL (resuming a finished part of the same run).

    Refuses, before any work, an output it does not own (see `pipeline.core.ownership`) and a
    resume whose inputs changed since (naming the files).  `strict`: warnings (unreadable
    files, damaged records) fail the job after stage 1 instead of only being reported.
    """
    output = as_path(output)
    warnings: list[str] = []
    parts = plan_partitions(sources, base_dir, cfg, warnings)
    paths = [p.path for p in parts]
    stamps = input_stamps(paths)
    changed = _changed_inputs(output, stamps)
    if changed and not overwrite:
        shown = ", ".join(changed[:5]) + (", ..." if len(changed) > 5 else "")
        raise OutputConflict(
            f"{output} holds a run over inputs that have changed since ({shown}); its results would be "
            "stale: pass --overwrite to redo it, or choose another --output"
        )
    with claim_output(output, "pipeline run", _fingerprint(parts, cfg, stamps), WRITES, paths, overwrite):
        work = output / "_work"
        write_json(work / "inputs.json", stamps)
        return _run(parts, cfg, output, work, client, warnings, strict, resolved_config)


def _run(
    parts: list[Partition],
    cfg: PipelineConfig,
    output: AnyPath,
    work: AnyPath,
    client: object | None,
    warnings: list[str],
    strict: bool,
    resolved_config: dict | None,
) -> RunResult:
    stats = map_tasks(
        client,
        run_stage1,
        parts,
        "extract+filter",
        measure=lambda s: (s["input_records"], s["input_bytes"]),
        work=work,
        cfg=cfg,
    )
    warnings += [w for s in stats for w in s["warnings"]]  # after planning's (unreadable files)
    for w in warnings:
        print(f"WARNING: {w}", flush=True)
    if strict and warnings:
        raise StrictFailure(
            f"{len(warnings)} warning(s) and --strict was given (first: {warnings[0]}); the finished "
            "partitions are kept, so a rerun without --strict resumes"
        )

    from pipeline.dedup.job import find_duplicates

    find_duplicates([(p.name, stage1_paths(work, p)[0]) for p in parts], work, cfg.dedup, client)
    written = map_tasks(client, run_stage3, parts, "dedup+write", work=work, out=output, cfg=cfg)

    _check_disjoint(parts)  # what makes ids unique across partitions (ledger.check_partitions)
    led = ledger.check_partitions(
        {p.name: read_summary(summary_path(work, p.name))["ledger"] for p in parts},
        {p.name: s["input_records"] for p, s in zip(parts, stats, strict=True)},
    )

    manifest = build_manifest(
        parts, stats, written, led, resolved_config or {"pipeline": cfg.model_dump(mode="json")}
    )
    write_json(output / "manifest.json", manifest)
    write_bytes(output / "README.md", dataset_card(manifest).encode())  # so `datasets` loads the folder
    return RunResult(output=output, manifest=manifest, stats=stats, warnings=warnings)


def _check_disjoint(parts: list[Partition]) -> None:
    """Partitions of one input of one source read disjoint splits of it (a whole input, 0 to end)."""
    spans = sorted(
        (p.source, p.path, p.split.start, math.inf if p.split.end is None else p.split.end, p.name)
        for p in parts
    )
    for a, b in zip(spans, spans[1:], strict=False):
        if a[:2] == b[:2] and b[2] < a[3]:
            raise ValueError(f"{a[1]}: partitions {a[4]} and {b[4]} overlap, so their ids could collide")


def build_manifest(
    parts: list[Partition], stats: list[dict], written: list[dict], led: dict, config: dict
) -> dict:
    """`led`: the run's ledger summary (ledger.check_partitions)."""
    shards = [s for w in written for s in w["shards"]]
    per_source: dict[str, dict] = {}
    for part, st in zip(parts, stats, strict=True):
        src = per_source.setdefault(
            part.source, {"inputs": 0, "input_records": 0, "documents": 0, "text_bytes": 0}
        )
        src["inputs"] += 1
        src["input_records"] += st["input_records"]
    for sh in shards:
        per_source[sh["source"]]["documents"] += sh["rows"]
        per_source[sh["source"]]["text_bytes"] += sh["text_bytes"]
    return {
        "format": "yuliao.documents/1",
        "code_version": __version__,
        "shards": shards,
        "rows": sum(s["rows"] for s in shards),
        "per_source": per_source,
        "ledger": {"path": "ledger", "rows": led["rows"], "decisions": led["decisions"]},
        "inputs": [{"partition": p.name, "source": p.source, "path": p.path} for p in parts],
        "config": config,
    }
