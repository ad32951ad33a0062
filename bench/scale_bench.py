"""Cost growth of `yuliao pipeline run` and `yuliao pipeline dedup` at 1×, 8× and 64× input (issue 22).

    python bench/scale_bench.py [--scales 1 8 64] [--only run|dedup] [--workdir /tmp/yuliao-scale]
        [--report bench/results/2026-12-07-scale.md]

Inputs (uncompressed JSONL, written under --workdir, never into the repo): the k× set is the dev
dedup set (`../shared/bench/dev_dedup.jsonl.gz`, 10,834 documents, ids kept) followed by k-1 seeded
mosaic blocks of the same size.  A mosaic document takes a random real document's length in
characters and fills it with random distinct lines (the extractor's paragraphs) of the dev set, at
least two (one line alone would collide by chance at 64×), cut to that length; each block then gets as many near copies as the dev set has
(600, made the way `dedup_truth.py perturb` makes them: new header/footer, a line swapped, punctuation
and blank lines changed) and is shuffled.  So the k× set has k× the documents with the dev set's
duplicate structure, and the 1× set is the dev set itself, scored against its truth.  The same
files are the crawl that `pipeline run` reads (JSONL: no extraction; default config but for 8 MiB
partitions: the default 64 MiB would leave the 1× crawl one partition and one worker idle).

Each command runs in its own process tree with a 2-worker LocalCluster; every 0.2 s the script reads
the kernel's peak RSS (VmHWM) of the CLI process (the driver, which also hosts the scheduler) and of
each process below it (workers).  Per-core documents/s = documents / wall / 2.  For dedup, rensa
(`../shared/bench/peer_rensa.py`, one process, in-memory) runs on the same file, and the kept ids of
each scale are scored with `dedup_truth.py score` (only the dev set's own ids count).  Results of
every invocation accumulate in WORKDIR/results.json; the report (Markdown + PNG) is drawn from all
of them, with each target marked met or missed.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import importlib.util
import io
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "bench"
DEV = SHARED / "dev_dedup.jsonl.gz"
TRUTH = SHARED / "dev_dedup_truth.npz"
WORKERS = 2
SEED = 22
NEAR_COPIES = 600  # as many as the dev set has (dedup_truth.py perturb)
SPLIT_BYTES = 8 << 20  # the 1× crawl (42 MB) in 6 partitions, so both workers have work
DEFAULT_REPORT = REPO / "bench" / "results" / "2026-12-07-scale.md"


def load_truth_module():
    spec = importlib.util.spec_from_file_location("dedup_truth", SHARED / "dedup_truth.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def near_copy(rng: random.Random, text: str, other: str, headers: list[str]) -> str:
    """The edits of dedup_truth.py perturb, drawn from this block's generator."""
    lines = text.split("\n")
    kind = rng.choice(["boiler", "edit", "punct", "mix"])
    if kind in ("boiler", "mix"):
        lines = [rng.choice(headers), *lines, rng.choice(headers)]
    if kind in ("edit", "mix") and len(lines) > 4:
        del lines[rng.randrange(len(lines))]
        lines.insert(rng.randrange(len(lines)), rng.choice(other.split("\n")))
    t = "\n".join(lines)
    if kind in ("punct", "mix"):
        t = t.replace("，", ", ").replace("。", ". ") if rng.random() < 0.5 else t.replace("  ", " ")
        t = re.sub(r"\n", "\n\n", t) if rng.random() < 0.5 else t
    return t


def mosaic_block(block: int, real: list[dict], pool: list[str], headers: list[str]) -> list[dict]:
    rng = random.Random(SEED * 1_000_003 + block)
    n = len(real) - NEAR_COPIES
    docs = []
    for i in range(n):
        size = len(real[rng.randrange(len(real))]["text"])
        lines = [pool[rng.randrange(len(pool))], pool[rng.randrange(len(pool))]]
        while sum(map(len, lines)) + len(lines) <= size:
            lines.append(pool[rng.randrange(len(pool))])
        text = "\n".join(lines)
        text = text[: max(size, len(lines[0]) + 30)]  # a real document's length; two lines never collide
        docs.append({"id": f"m{block}-{i}", "url": f"https://mosaic.example/{block}/{i}", "text": text})
    long = [d for d in docs if len(d["text"]) > 400]
    for j, d in enumerate(rng.sample(long, min(NEAR_COPIES, len(long)))):
        text = near_copy(rng, d["text"], rng.choice(long)["text"], headers)
        docs.append({"id": f"m{block}-c{j}", "url": f"{d['url']}?copy={j}", "text": text})
    rng.shuffle(docs)
    return docs


def build_set(workdir: Path, scale: int) -> tuple[Path, int]:
    """The k× JSONL file (built once; a .done file beside it holds its document count)."""
    path = workdir / f"dedup-{scale}x.jsonl"
    done = path.with_suffix(".done")
    if done.exists():
        return path, int(done.read_text())
    with gzip.open(DEV, "rt", encoding="utf-8") as fh:
        real = [json.loads(line) for line in fh]
    pool = sorted({ln.strip() for d in real for ln in d["text"].split("\n") if ln.strip()})
    headers = load_truth_module().HEADERS
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for block in range(scale):
            docs = real if block == 0 else mosaic_block(block, real, pool, headers)
            out.writelines(json.dumps(d, ensure_ascii=False) + "\n" for d in docs)
            count += len(docs)
    done.write_text(str(count))
    return path, count


def _hwm(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) << 10 for line in fh if line.startswith("VmHWM:"))


def run_tree(cmd: list[str]) -> dict:
    """Wall seconds, stdout, and peak RSS (bytes) of the root process and of each process below it."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    root = psutil.Process(proc.pid)
    peaks: dict[int, int] = {}
    out_chunks: list[str] = []
    # stdout/stderr drained by threads so a chatty child never blocks on a full pipe
    errs: list[str] = []
    readers = [
        threading.Thread(target=lambda: out_chunks.append(proc.stdout.read())),
        threading.Thread(target=lambda: errs.append(proc.stderr.read())),
    ]
    for t in readers:
        t.start()
    while proc.poll() is None:
        with contextlib.suppress(psutil.Error):
            for p in [root, *root.children(recursive=True)]:
                with contextlib.suppress(OSError, StopIteration):
                    peaks[p.pid] = max(peaks.get(p.pid, 0), _hwm(p.pid))
        time.sleep(0.2)
    wall = time.perf_counter() - t0
    for t in readers:
        t.join()
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{''.join(errs)[-3000:]}")
    children = [v for pid, v in peaks.items() if pid != proc.pid]
    return {
        "wall_s": wall,
        "driver_MB": peaks.get(proc.pid, 0) / 1e6,
        "worker_MB": max(children, default=0) / 1e6,
        "children": len(children),
        "stdout": "".join(out_chunks),
    }


def score(kept: Path) -> dict:
    """dedup_truth.py score on the dev set's own ids (others in KEPT are ignored by it)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        load_truth_module().score(str(DEV), str(TRUTH), str(kept))
    return json.loads(buf.getvalue().strip().splitlines()[-1])


def cli() -> list[str]:
    return [sys.executable, "-m", "pipeline.cli.main", "pipeline"]


def bench_dedup(workdir: Path, scale: int, data: Path, docs: int, peer: bool = True) -> dict:
    out = workdir / f"dedup-out-{scale}x"
    shutil.rmtree(out, ignore_errors=True)
    res = run_tree([*cli(), "dedup", "--input", str(data), "--output", str(out), "--workers", str(WORKERS)])
    ours = score(out / "kept_ids.txt")
    mine = {**{k: v for k, v in res.items() if k != "stdout"}, "docs": docs}
    mine |= {"precision": ours["precision"], "pair_recall": ours["pair_recall"]}
    if not peer:
        return mine
    peer_kept = workdir / f"rensa-kept-{scale}x.txt"
    peer = run_tree([sys.executable, str(SHARED / "peer_rensa.py"), str(data), str(peer_kept)])
    peer_stats = json.loads(peer["stdout"].strip().splitlines()[-1])
    theirs = score(peer_kept)
    return {
        **mine,
        "rensa_docs_per_s": peer_stats["docs_per_s"],  # its own timer: MinHash + LSH, not JSON loading
        "rensa_wall_s": peer["wall_s"],
        "rensa_MB": peer["driver_MB"],
        "rensa_precision": theirs["precision"],
        "rensa_pair_recall": theirs["pair_recall"],
    }


def bench_run(workdir: Path, scale: int, data: Path, docs: int) -> dict:
    manifest = workdir / f"crawl-{scale}x.yaml"
    config = {
        "sources": [{"name": "crawl", "paths": [str(data)], "weight": 1.0}],
        "pipeline": {"read": {"split_bytes": SPLIT_BYTES}},
    }
    manifest.write_text(yaml.safe_dump(config))
    out = workdir / f"run-out-{scale}x"
    shutil.rmtree(out, ignore_errors=True)
    res = run_tree([*cli(), "run", str(manifest), "--output", str(out), "--workers", str(WORKERS)])
    kept = json.loads((out / "dataset" / "manifest.json").read_text())["ledger"]["decisions"].get("kept")
    return {**{k: v for k, v in res.items() if k != "stdout"}, "docs": docs, "kept": kept}


# ---- report


def ratio_line(name: str, value: float, limit: float, hold: bool, how: str) -> str:
    return f"- {'MET' if hold else '**MISSED**'}: {name}: {how} (target {limit})"


def targets(results: dict) -> list[str]:
    lines = []
    for work in ("run", "dedup"):
        rows = results.get(work, {})
        if "1" not in rows:
            lines.append(f"- not measured: `pipeline {work}` (remains to run)")
            continue
        top = max(rows, key=int)
        if top == "1":
            lines.append(f"- not measured: `pipeline {work}` above 1×")
            continue
        base, big = rows["1"], rows[top]
        t = (big["wall_s"] / big["docs"]) / (base["wall_s"] / base["docs"])
        w = big["worker_MB"] / base["worker_MB"]
        note = "" if top == "64" else f" — measured at {top}× only; 64× remains to run"
        lines.append(
            ratio_line(
                f"`pipeline {work}` time/document {top}× vs 1×",
                t,
                "≤ 1.25×",
                t <= 1.25,
                f"{t:.2f}× ({1e3 * big['wall_s'] / big['docs']:.2f} vs "
                f"{1e3 * base['wall_s'] / base['docs']:.2f} ms){note}",
            )
        )
        lines.append(
            ratio_line(
                f"`pipeline {work}` peak worker RSS {top}× vs 1×",
                w,
                "≤ 1.25×",
                w <= 1.25,
                f"{w:.2f}× ({big['worker_MB']:.0f} vs {base['worker_MB']:.0f} MB){note}",
            )
        )
        lines.append(
            ratio_line(
                f"`pipeline {work}` driver peak RSS at {top}×",
                big["driver_MB"],
                "< 500 MB",
                big["driver_MB"] < 500,
                f"{big['driver_MB']:.0f} MB{note}",
            )
        )
        if work == "dedup":
            top = max((s for s in rows if "rensa_docs_per_s" in rows[s]), key=int)
            big = rows[top]
            note = "" if top == "64" else f" — measured at {top}× only; 64× remains to run"
            r = (big["docs"] / big["wall_s"]) / big["rensa_docs_per_s"]
            lines.append(
                ratio_line(
                    f"dedup documents/s vs rensa at {top}×",
                    r,
                    "≥ 3×",
                    r >= 3,
                    f"{r:.2f}× ({big['docs'] / big['wall_s']:.0f} docs/s, 2 workers, whole command, vs "
                    f"rensa's {big['rensa_docs_per_s']:.0f} docs/s by its own timer; by rensa's wall "
                    f"{(big['docs'] / big['wall_s']) / (big['docs'] / big['rensa_wall_s']):.2f}×){note}",
                )
            )
            lines.append(
                ratio_line(
                    "dedup precision / pair recall on the 1× set",
                    base["precision"],
                    "≥ 0.995 / ≥ 0.99",
                    base["precision"] >= 0.995 and base["pair_recall"] >= 0.99,
                    f"{base['precision']:.4f} / {base['pair_recall']:.4f}",
                )
            )
    return lines


def render(results: dict, report: Path, commands: list[str]) -> None:
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    lines = [
        "# Cost growth at 1×, 8×, 64× input (issue 22)",
        "",
        f"Commands: {', '.join(f'`{c}`' for c in commands)} (the script's docstring says how the inputs "
        "are built).  ",
        f"Machine: 2-core VM shared with other engineers ({platform.machine()}, {os.cpu_count()} vCPUs, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB), python {platform.python_version()}, "
        f"commit {commit} plus the working tree's uncommitted edits of that moment.  One run per cell: "
        "timings on this shared VM drift 20–30 %.",
        "",
        "Targets (issue 22): time/document at 64× within 1.25× of 1×; peak worker RSS at 64× within 1.25× "
        "of 1×; driver RSS at 64× < 500 MB; dedup ≥ 3× rensa's documents/s at 64× with precision ≥ 0.995 "
        "and pair recall ≥ 0.99 (`../shared/bench/dedup_truth.py`, 1× set).",
        "",
        "## Targets",
        "",
        *targets(results),
        "",
    ]
    for work, title in (
        ("run", "`pipeline run` (JSONL crawl, default config)"),
        ("dedup", "`pipeline dedup`"),
    ):
        rows = results.get(work, {})
        if not rows:
            continue
        lines += [f"## {title}, LocalCluster, {WORKERS} workers", ""]
        head = "| scale | documents | input MB | wall s | docs/s per core | ms/document | driver peak RSS MB | worker peak RSS MB (max) |"
        if work == "dedup":
            head += " precision | pair recall | rensa docs/s | rensa wall s | rensa RSS MB | rensa precision / recall |"
        lines += [head, "|" + " --- |" * (head.count("|") - 1)]
        for scale in sorted(rows, key=int):
            r = rows[scale]
            row = (
                f"| {scale}× | {r['docs']:,} | {r['input_MB']:.0f} | {r['wall_s']:.1f} | "
                f"{r['docs'] / r['wall_s'] / WORKERS:.0f} | {1e3 * r['wall_s'] / r['docs']:.2f} | "
                f"{r['driver_MB']:.0f} | {r['worker_MB']:.0f} |"
            )
            if work == "dedup" and "rensa_docs_per_s" not in r:
                row += f" {r['precision']:.4f} | {r['pair_recall']:.4f} | not run | | | |"
            elif work == "dedup":
                row += (
                    f" {r['precision']:.4f} | {r['pair_recall']:.4f} | {r['rensa_docs_per_s']:.0f} | "
                    f"{r['rensa_wall_s']:.1f} | {r['rensa_MB']:.0f} | "
                    f"{r['rensa_precision']:.4f} / {r['rensa_pair_recall']:.4f} |"
                )
            lines.append(row)
        lines.append("")
    lines += [
        "Precision and pair recall count only the dev set's own documents (block 0 of every scale); at 1× "
        "that is the whole input.  Wall includes each command's fixed start (imports, LocalCluster), which "
        "weighs most at 1×.  rensa's docs/s is its own timer (MinHash + LSH, one process, JSON "
        "loading excluded); its wall includes loading.",
        "",
    ]
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("\n".join(lines))
    plot(results, report.with_suffix(".png"))


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for work, mark in (("run", "o"), ("dedup", "s")):
        rows = results.get(work, {})
        if not rows:
            continue
        scales = sorted(rows, key=int)
        docs = [rows[s]["docs"] for s in scales]
        axes[0].plot(
            docs,
            [rows[s]["docs"] / rows[s]["wall_s"] / WORKERS for s in scales],
            marker=mark,
            label=f"{work}",
        )
        if work == "dedup":
            peer = [s for s in scales if "rensa_docs_per_s" in rows[s]]
            axes[0].plot(
                [rows[s]["docs"] for s in peer],
                [rows[s]["rensa_docs_per_s"] for s in peer],
                marker="x",
                ls="--",
                label="rensa (1 core)",
            )
        axes[1].plot(docs, [rows[s]["worker_MB"] for s in scales], marker=mark, label=f"{work} worker (max)")
        axes[1].plot(
            docs, [rows[s]["driver_MB"] for s in scales], marker=mark, ls=":", label=f"{work} driver"
        )
    axes[1].axhline(500, color="grey", lw=0.8, ls="--", label="driver target 500 MB")
    axes[0].set(
        xscale="log", yscale="log", xlabel="documents", ylabel="documents/s per core", title="throughput"
    )
    axes[1].set(xscale="log", xlabel="documents", ylabel="peak RSS MB", title="memory")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", type=int, nargs="+", default=[1, 8, 64])
    ap.add_argument("--only", choices=["run", "dedup"])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/yuliao-scale"))
    ap.add_argument("--report", type=Path, default=DEFAULT_REPORT)
    ap.add_argument("--peer-scales", type=int, nargs="*", help="scales at which rensa runs (default: all)")
    args = ap.parse_args()
    args.peer_scales = args.scales if args.peer_scales is None else args.peer_scales
    if REPO in args.workdir.resolve().parents:
        ap.error("--workdir must lie outside the repository")
    args.workdir.mkdir(parents=True, exist_ok=True)
    store = args.workdir / "results.json"
    results = json.loads(store.read_text()) if store.exists() else {}
    works = [args.only] if args.only else ["dedup", "run"]
    for scale in args.scales:
        data, docs = build_set(args.workdir, scale)
        for work in works:
            if work == "dedup":
                res = bench_dedup(args.workdir, scale, data, docs, peer=scale in args.peer_scales)
            else:
                res = bench_run(args.workdir, scale, data, docs)
            res["input_MB"] = data.stat().st_size / 1e6
            results.setdefault(work, {})[str(scale)] = res
            store.write_text(json.dumps(results, indent=1))
            print(
                f"{work} {scale}×: "
                + json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in res.items()}),
                flush=True,
            )
    command = "python bench/scale_bench.py " + " ".join(sys.argv[1:])
    results["commands"] = [*[c for c in results.get("commands", []) if c != command], command]
    store.write_text(json.dumps(results, indent=1))
    render(results, args.report, results["commands"])
    print(f"wrote {args.report} and {args.report.with_suffix('.png')}")


if __name__ == "__main__":
    main()
