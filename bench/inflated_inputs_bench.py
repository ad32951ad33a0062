"""Compressed JSONL that inflates to gigabytes: time and peak memory of `yuliao pipeline run`.

    python bench/inflated_inputs_bench.py [--sizes-gib 0.5 1 2 4] [--out FILE.md]

For each size and codec (gzip, zstd) the script writes a `.jsonl.gz` / `.jsonl.zst` that is
tiny on disk and inflates to SIZE GiB: 64 MiB blocks, each holding 40 real documents (the
bundled JSONL sample), two 11 MiB records (over `max_record_bytes`: hashed, never held), 400
whitespace-only documents of 100 KiB (read, then dropped as `no_text_extracted`) and blank-line
padding.  It runs the pipeline on each in its own process (`--scheduler inline`, so
the one process is driver and worker, an upper bound for a worker) and samples the RSS of the
process tree every 50 ms.  Prints the time per inflated GiB between consecutive sizes (linear:
the same at every step) and peak RSS (bounded: flat across sizes, about a batch above a
baseline run over the small sample).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml
import zstandard

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "pipeline" / "sample_data" / "mirror.jsonl.gz"
MiB = 1 << 20
BLOCK = 64 * MiB
BIG_RECORD = 11 * MiB  # over the default max_record_bytes (10 MiB)
BLANK_RECORD = 100 << 10
BLANK_RECORDS = 400  # ~40 MiB of each block: documents that are read and then dropped


def block_lines() -> list[bytes]:
    """One 64 MiB block of JSONL lines: real documents, oversized records, whitespace-only
    documents (read, then dropped by extraction: what a reader that holds its whole input
    would hold) and blank-line padding."""
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as fh:
        docs = [json.dumps({"text": json.loads(line)["text"]}, ensure_ascii=False) for line in fh][:40]
    lines = [d.encode() + b"\n" for d in docs]
    lines += [b'{"text": "' + b"0" * BIG_RECORD + b'"}\n'] * 2
    lines += [b'{"text": "' + b" " * BLANK_RECORD + b'"}\n'] * BLANK_RECORDS
    used = sum(map(len, lines))
    lines.append(b"\n" * (BLOCK - used))
    return lines


def write_inflating(path: Path, inflated: int) -> None:
    lines = block_lines()
    blocks = max(1, inflated // BLOCK)
    if path.suffix == ".gz":
        with gzip.open(path, "wb", compresslevel=6) as fh:
            for _ in range(blocks):
                fh.writelines(lines)
    else:
        with open(path, "wb") as raw, zstandard.ZstdCompressor(level=3).stream_writer(raw) as fh:
            for _ in range(blocks):
                for line in lines:
                    fh.write(line)


def peak_rss_while(proc: subprocess.Popen) -> int:
    """Highest summed RSS of `proc` and its children, sampled every 50 ms until it exits."""
    peak = 0
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    return peak


def run_job(data: Path, work: Path) -> tuple[float, int, dict]:
    work.mkdir(exist_ok=True)
    manifest = work / "m.yaml"
    manifest.write_text(yaml.safe_dump({"sources": [{"name": "bomb", "paths": [str(data)], "weight": 1.0}]}))
    out = work / "out"
    cmd = [sys.executable, "-m", "pipeline.cli.main", "pipeline", "run", str(manifest)]
    cmd += ["--output", str(out), "--scheduler", "inline"]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    peak = {"rss": 0}
    sampler = threading.Thread(target=lambda: peak.update(rss=peak_rss_while(proc)))
    sampler.start()
    _, err = proc.communicate()
    sampler.join()
    seconds = time.perf_counter() - t
    if proc.returncode:
        raise RuntimeError(f"pipeline failed on {data}: {err.decode()[-2000:]}")
    manifest_out = json.loads((out / "manifest.json").read_text())
    return seconds, peak["rss"], manifest_out["ledger"]["decisions"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes-gib", type=float, nargs="+", default=[0.5, 1, 2, 4])
    ap.add_argument("--codecs", nargs="+", default=["gzip", "zstd"], choices=["gzip", "zstd"])
    ap.add_argument("--out", type=Path, help="write the table (Markdown) here too")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="inflate-bench-") as tmp:
        base = Path(tmp) / "baseline"
        base.mkdir()
        (base / "sample.jsonl.gz").write_bytes(SAMPLE.read_bytes())
        run_job(base / "sample.jsonl.gz", base / "warm")  # first run fills caches (jieba, pages)
        base_s, base_rss, _ = run_job(base / "sample.jsonl.gz", base / "again")
        print(json.dumps({"baseline_seconds": round(base_s, 1), "baseline_rss_mib": round(base_rss / MiB)}))
        for codec in args.codecs:
            suffix = {"gzip": ".jsonl.gz", "zstd": ".jsonl.zst"}[codec]
            for gib in args.sizes_gib:
                work = Path(tmp) / f"{codec}-{gib}"
                work.mkdir()
                data = work / f"bomb{suffix}"
                write_inflating(data, int(gib * 1024 * MiB))
                seconds, rss, decisions = run_job(data, work)
                row = {
                    "codec": codec,
                    "inflated_gib": gib,
                    "on_disk_mib": round(data.stat().st_size / MiB, 2),
                    "seconds": round(seconds, 1),
                    "peak_rss_mib": round(rss / MiB),
                    "ledger": decisions,
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
                data.unlink()
    lines = [
        f"machine: {platform.node()} ({os.cpu_count()} cores), python {platform.python_version()}",
        f"baseline (the 130 KB JSONL sample, same command): {base_s:.1f} s, peak RSS {base_rss / MiB:.0f} MiB "
        "(interpreter, language-id models, one batch; the second of two runs)",
        "",
        "| codec | inflated GiB | on disk MiB | wall s | s per GiB since the previous size | peak RSS MiB "
        "| kept / filtered / duplicate / quarantined |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for codec in args.codecs:
        mine = [r for r in rows if r["codec"] == codec]
        slopes = [None] + [
            (b["seconds"] - a["seconds"]) / (b["inflated_gib"] - a["inflated_gib"])
            for a, b in zip(mine, mine[1:], strict=False)
        ]
        for r, slope in zip(mine, slopes, strict=True):
            d = r["ledger"]
            counts = f"{d['kept']} / {d['filtered']} / {d['duplicate']} / {d['quarantined']}"
            shown = "–" if slope is None else f"{slope:.1f}"
            lines.append(
                f"| {codec} | {r['inflated_gib']} | {r['on_disk_mib']} | {r['seconds']} | {shown} | "
                f"{r['peak_rss_mib']} | {counts} |"
            )
        if len(mine) > 2:
            lines.append(
                f"\n{codec}: time per GiB, last step vs first step = {slopes[-1] / slopes[1]:.2f} (1.00: linear); "
                f"peak RSS largest vs smallest = {mine[-1]['peak_rss_mib'] / mine[0]['peak_rss_mib']:.2f}; "
                f"largest {mine[-1]['peak_rss_mib']} MiB = baseline + {mine[-1]['peak_rss_mib'] - round(base_rss / MiB)} MiB\n"
            )
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
