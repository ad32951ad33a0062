"""Peak memory of `yuliao pipeline run`'s driver and workers against the number of documents.

    python bench/driver_memory_bench.py [--docs 10000 40000 160000] [--tree PATH] [--out FILE.md]

For each N the script writes a seeded JSONL crawl of N short documents (five to nine lines, each
a sentence of the bundled JSONL sample; 3 % exact copies, 2 % too short to keep), cut into 2 MB
byte-range partitions, and runs `pipeline run` on it in its own process with the default
LocalCluster of 2 workers (`--workers 2`), report included.  Language id is off: it is ~90 % of
a document's time here and puts nothing on the driver, so a run takes minutes, not an hour.
Every 100 ms it reads the peak RSS (VmHWM) of the driver (the CLI process, which also hosts the
LocalCluster's scheduler and nannies) and of each process below it.  `--tree` runs the code of
another checkout (e.g. a `git worktree` of the commit before a change) on the same inputs.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "pipeline" / "sample_data" / "mirror.jsonl.gz"
MiB = 1 << 20


def sentences() -> list[str]:
    with gzip.open(SAMPLE, "rt", encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for line in fh]
    found = {s.strip() for t in texts for s in re.split(r"(?<=[.!?。！？])\s*", t)}
    return sorted(s for s in found if 30 <= len(s) <= 300 and s[-1] in ".!?。！？")


def write_crawl(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    pool = sentences()
    docs: list[str] = []
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            roll = rng.random()
            if docs and roll < 0.03:
                text = rng.choice(docs[-1000:])  # an exact copy of a recent page
            elif roll < 0.05:
                text = rng.choice(pool)[:15]  # too short to keep
            else:
                text = "\n".join(rng.choices(pool, k=rng.randint(5, 9)))
            docs.append(text)
            fh.write(json.dumps({"text": text, "url": f"https://example.org/{i}"}, ensure_ascii=False) + "\n")


def peak_rss(proc: subprocess.Popen, peaks: dict[int, tuple[str, int]]) -> None:
    """VmHWM (the kernel's own peak RSS) of `proc` and each process below it, until it exits."""
    root = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            break
        for p in tree:
            try:
                with open(f"/proc/{p.pid}/status") as fh:
                    hwm = next(int(line.split()[1]) << 10 for line in fh if line.startswith("VmHWM:"))
                role = "driver" if p.pid == proc.pid else _role(p)
            except (OSError, StopIteration, psutil.Error):
                continue
            peaks[p.pid] = (role, max(hwm, peaks.get(p.pid, ("", 0))[1]))
        time.sleep(0.1)


def _role(p: psutil.Process) -> str:
    cmd = " ".join(p.cmdline())
    return "worker" if "spawn_main" in cmd or "multiprocessing.spawn" in cmd else p.name()


def run_job(tree: Path, data: Path, work: Path) -> dict:
    manifest = work / "m.yaml"
    manifest.write_text(
        yaml.safe_dump(
            {
                "sources": [{"name": "web", "paths": [str(data)], "weight": 1.0}],
                "pipeline": {"read": {"split_bytes": 2_000_000}, "langid": {"enabled": False}},
            }
        )
    )
    out = work / "out"
    cmd = [sys.executable, "-m", "pipeline.cli.main", "pipeline", "run", str(manifest)]
    cmd += ["--output", str(out), "--workers", "2"]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tree, env=env)
    peaks: dict[int, tuple[str, int]] = {}
    sampler = threading.Thread(target=peak_rss, args=(proc, peaks))
    sampler.start()
    _, err = proc.communicate()
    sampler.join()
    seconds = time.perf_counter() - t
    if proc.returncode:
        raise RuntimeError(f"pipeline failed: {err.decode()[-3000:]}")
    result = json.loads((out / "dataset" / "manifest.json").read_text())
    ledger_bytes = sum(p.stat().st_size for p in (out / "dataset" / "ledger").glob("*.parquet"))
    return {
        "seconds": round(seconds, 1),
        "partitions": len(result["inputs"]),
        "driver_mib": round(max(v for r, v in peaks.values() if r == "driver") / MiB),
        "worker_mib": round(max((v for r, v in peaks.values() if r == "worker"), default=0) / MiB),
        "workers_seen": sum(1 for r, _ in peaks.values() if r == "worker"),
        "ledger_rows": result["ledger"]["rows"],
        "kept": result["ledger"]["decisions"]["kept"],
        "ledger_mib": round(ledger_bytes / MiB, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, nargs="+", default=[10_000, 40_000, 160_000])
    ap.add_argument("--tree", type=Path, default=REPO, help="checkout whose code runs (default: this one)")
    ap.add_argument("--out", type=Path, help="write the table (Markdown) here too")
    args = ap.parse_args()
    tree = args.tree.resolve()
    commit = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    rows = []
    with tempfile.TemporaryDirectory(prefix="driver-mem-bench-") as tmp:
        for n in args.docs:
            work = Path(tmp) / str(n)
            work.mkdir()
            data = work / "crawl.jsonl"
            write_crawl(data, n)
            row = {"docs": n, "input_mib": round(data.stat().st_size / MiB, 1), **run_job(tree, data, work)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    lines = [
        f"code: {tree} at {commit}; machine: {platform.node()} ({os.cpu_count()} cores), "
        f"python {platform.python_version()}",
        "",
        "| documents | input MiB | partitions | ledger rows | kept | ledger MiB | wall s | driver peak RSS MiB "
        "| worker peak RSS MiB (max of 2) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r['docs']} | {r['input_mib']} | {r['partitions']} | {r['ledger_rows']} | {r['kept']} | "
        f"{r['ledger_mib']} | {r['seconds']} | {r['driver_mib']} | {r['worker_mib']} |"
        for r in rows
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
