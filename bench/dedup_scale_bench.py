"""Standalone `pipeline dedup` at growing input sizes: this tree vs another revision vs rensa.

    python bench/dedup_scale_bench.py [--scales 1,4,16] [--base-docs 10000] [--workers 2] [--rounds 2]
        [--head /tmp/yuliao-head] [--peers-python /tmp/rensa-venv/bin/python] [--extra OPTIONS] [--out DIR]

Inputs are seeded mosaics: each document is 2-8 paragraphs drawn from the bundled sample
data (pipeline/sample_data/mirror.jsonl.gz) and, when present, the shared dev set
(../shared/bench/dev_dedup.jsonl.gz), plus 4 % near copies (new header and footer, a line
dropped and one added, full-width commas) and 2 % exact copies (whitespace changed), at
random later positions.  Scale N has N × --base-docs originals, one uncompressed JSONL file.

Each contender runs as its own process tree, sampled every 0.1 s: wall seconds, documents
per second of wall time, peak RSS of the whole tree, of the driver process alone and of
the largest other process (a Dask worker).  `--head` is a checkout of the revision to
compare with (`git worktree add --detach /tmp/yuliao-head HEAD`), run with this venv.  The
kept ids of the two revisions are compared line by line and their ledgers as row sets, and
the share of planted copies removed is printed for every contender.  With --rounds N every
contender runs N times, in alternating order, and the table gives medians.
Results: bench/results/2026-12-07-dedup-out-of-core.md.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "bench"
MEDIANS = (
    "wall_s",
    "docs_per_s",
    "tree_MB",
    "tree_anon_MB",
    "driver_MB",
    "driver_anon_MB",
    "worker_MB",
    "worker_anon_MB",
)
SOURCES = (REPO / "pipeline" / "sample_data" / "mirror.jsonl.gz", SHARED / "dev_dedup.jsonl.gz")


def paragraphs() -> list[str]:
    pool: dict[str, None] = {}
    for path in SOURCES:
        if path.exists():
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                for line in fh:
                    for p in re.split(r"\n\s*\n", json.loads(line)["text"]):
                        if len(p.strip()) >= 40:
                            pool[p.strip()] = None
    return list(pool)


def near_copy(text: str, tag: int) -> str:
    lines = text.split("\n")
    short = [i for i in range(len(lines)) if 0 < len(lines[i]) < 120]
    if short:  # a short line (a heading, a caption), never a whole paragraph
        del lines[short[len(short) // 2]]
    lines.insert(len(lines) // 2, f"本文由网友投稿（编号 {tag}），转载请注明出处。")
    body = "\n".join(lines).replace(",", "，")
    return f"首页 | 新闻 | 下载 | 帮助\n\n{body}\n\n版权所有 © 2024 镜像站 {tag}"


def build(path: Path, originals: int, pool: list[str], seed: int) -> dict[str, str]:
    """Write the mosaic; returns {planted copy id: original id}."""
    rng = np.random.default_rng(seed)
    docs = []
    for i in range(originals):
        picks = rng.choice(len(pool), size=int(rng.integers(2, 9)), replace=False)
        docs.append(
            {"id": f"d{i}", "url": f"https://m.example/{i}", "text": "\n\n".join(pool[j] for j in picks)}
        )
    planted: dict[str, str] = {}
    order: list[dict] = list(docs)
    for how, share in (("near", 0.04), ("copy", 0.02)):
        for i in rng.choice(originals, size=int(originals * share), replace=False):
            i = int(i)
            if f"d{i}" in planted.values():
                continue
            text = docs[i]["text"]
            copy = {
                "id": f"d{i}-{how}",
                "url": None,
                "text": near_copy(text, i) if how == "near" else text + "\n ",
            }
            at = int(rng.integers(i + 1, len(order) + 1))  # after its original
            order.insert(at, copy)
            planted[copy["id"]] = f"d{i}"
    with path.open("w", encoding="utf-8") as fh:
        for d in order:
            fh.write(json.dumps(d, ensure_ascii=False) + "\n")
    return planted


def run_tree(cmd: list[str], cwd: Path) -> dict:
    """Wall seconds and peak memory (MB) of the tree, of the first process and of the largest other:
    RSS, and its anonymous part (RSS less file-backed pages, which memory-mapped reads map in
    and the kernel can drop at any time)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    root = psutil.Process(proc.pid)
    procs, tick = [root], 0
    peak = {"tree": 0, "tree_anon": 0}
    each: dict[int, tuple[int, int]] = {}
    while proc.poll() is None:
        if tick % 10 == 0:  # the process list once a second: listing reads every /proc/PID
            with contextlib.suppress(psutil.Error):
                procs = [root, *root.children(recursive=True)]
        total = anon = 0
        for p in procs:
            with contextlib.suppress(psutil.Error):
                m = p.memory_info()
                total += m.rss
                anon += m.rss - m.shared
                old = each.get(p.pid, (0, 0))
                each[p.pid] = (max(old[0], m.rss), max(old[1], m.rss - m.shared))
        peak["tree"], peak["tree_anon"] = max(peak["tree"], total), max(peak["tree_anon"], anon)
        tick += 1
        time.sleep(0.1)
    out = proc.stdout.read() if proc.stdout else ""
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed with {proc.returncode}")
    others = [v for pid, v in each.items() if pid != root.pid] or [(0, 0)]
    driver = each.get(root.pid, (0, 0))
    return {
        "wall_s": time.perf_counter() - t0,
        "tree_MB": peak["tree"] / 1e6,
        "tree_anon_MB": peak["tree_anon"] / 1e6,
        "driver_MB": driver[0] / 1e6,
        "driver_anon_MB": driver[1] / 1e6,
        "worker_MB": max(r for r, _ in others) / 1e6,
        "worker_anon_MB": max(a for _, a in others) / 1e6,
        "stdout": out,
    }


def run_dedup(tree: Path, docs: Path, out: Path, workers: int, extra: list[str]) -> dict:
    if out.exists():
        shutil.rmtree(out)
    cmd = [sys.executable, "-m", "pipeline.cli.main", "pipeline", "dedup", "--input", str(docs)]
    cmd += ["--output", str(out), "--workers", str(workers), *extra]
    res = run_tree(cmd, tree)
    res["kept"] = out / "kept_ids.txt"
    res["summary"] = json.loads((out / "summary.json").read_text())
    return res


def ledger_rows(out: Path) -> list[tuple]:
    import pyarrow.parquet as pq

    rows = []
    for f in sorted((out / "ledger").glob("*.parquet")):
        rows += [tuple(r.values()) for r in pq.read_table(f).to_pylist()]
    return sorted(rows, key=lambda r: r[0])


def removed_share(kept: Path, planted: dict[str, str]) -> float:
    ids = set(kept.read_text().split())
    return sum(c not in ids and o in ids for c, o in planted.items()) / max(1, len(planted))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scales", default="1,4,16")
    ap.add_argument("--base-docs", type=int, default=10_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--head", type=Path, help="checkout of the revision to compare with")
    ap.add_argument("--peers-python", default="/tmp/rensa-venv/bin/python")
    ap.add_argument(
        "--extra", default="", help="extra options for this tree's command, e.g. '--partition-bytes 8MiB'"
    )
    ap.add_argument(
        "--rounds", type=int, default=1, help="runs of each contender (order alternates); medians"
    )
    ap.add_argument("--out", type=Path, default=Path("/tmp/yuliao-dedup-scale"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    pool = paragraphs()
    print(f"paragraph pool: {len(pool)} from {[p.name for p in SOURCES if p.exists()]}", flush=True)
    subprocess.run(
        [sys.executable, "-c", "from pipeline.dedup.warm import warm_up; warm_up()"], cwd=REPO, check=True
    )
    if args.head:
        subprocess.run(
            [sys.executable, "-c", "from pipeline.dedup.warm import warm_up; warm_up()"],
            cwd=args.head,
            check=True,
        )
    rensa = Path(args.peers_python).exists() and (SHARED / "peer_rensa.py").exists()
    rows = []
    for scale in (int(s) for s in args.scales.split(",")):
        docs = args.out / f"mosaic-{scale}x.jsonl"
        planted = build(docs, scale * args.base_docs, pool, args.seed + scale)
        mb = docs.stat().st_size / 1e6
        contenders = {
            "this tree": lambda d=docs, s=scale: run_dedup(
                REPO, d, args.out / f"new-{s}x", args.workers, args.extra.split()
            )
        }
        if args.head:
            contenders["HEAD"] = lambda d=docs, s=scale: run_dedup(
                args.head, d, args.out / f"head-{s}x", args.workers, []
            )
        if rensa:

            def peer(d=docs, s=scale):
                kept = args.out / f"rensa-{s}x.txt"
                res = run_tree([args.peers_python, str(SHARED / "peer_rensa.py"), str(d), str(kept)], REPO)
                res["kept"] = kept
                return res

            contenders["rensa"] = peer
        runs: dict[str, list[dict]] = {name: [] for name in contenders}
        for r in range(args.rounds):
            for name in list(contenders)[:: 1 if r % 2 == 0 else -1]:  # none always runs first
                res = contenders[name]()
                out = res["stdout"].splitlines()
                res["docs"] = res["summary"]["documents"] if "summary" in res else json.loads(out[-1])["docs"]
                res["docs_per_s"] = res["docs"] / res["wall_s"]
                res["removed"] = removed_share(res["kept"], planted)
                runs[name].append(res)
                print(
                    f"{scale}x {name}: {res['docs']} docs ({mb:.0f} MB) {res['wall_s']:.1f} s, "
                    f"{res['docs_per_s']:.0f} docs/s, RSS tree {res['tree_MB']:.0f} MB (anon "
                    f"{res['tree_anon_MB']:.0f}), driver {res['driver_MB']:.0f} ({res['driver_anon_MB']:.0f}), "
                    f"worker {res['worker_MB']:.0f} ({res['worker_anon_MB']:.0f}), planted copies removed "
                    f"{res['removed']:.4f}",
                    flush=True,
                )
        results = {
            name: {**rs[-1], **{k: statistics.median(x[k] for x in rs) for k in MEDIANS}}
            for name, rs in runs.items()
        }
        if "HEAD" in results:
            same_kept = results["HEAD"]["kept"].read_bytes() == results["this tree"]["kept"].read_bytes()
            same_ledger = ledger_rows(args.out / f"head-{scale}x") == ledger_rows(args.out / f"new-{scale}x")
            print(
                f"{scale}x vs HEAD: kept_ids.txt identical {same_kept}, ledger rows identical {same_ledger}",
                flush=True,
            )
        rows.append((scale, mb, results))
    print(
        "\n| scale | MB | contender | docs | wall s | docs/s | peak RSS tree MB (anon) | driver MB (anon) "
        "| largest worker MB (anon) | planted removed |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for scale, mb, results in rows:
        for name, r in results.items():
            print(
                f"| {scale}× | {mb:.0f} | {name} | {r['docs']} | {r['wall_s']:.1f} | {r['docs_per_s']:.0f} | "
                f"{r['tree_MB']:.0f} ({r['tree_anon_MB']:.0f}) | {r['driver_MB']:.0f} ({r['driver_anon_MB']:.0f}) | "
                f"{r['worker_MB']:.0f} ({r['worker_anon_MB']:.0f}) | {r['removed']:.4f} |"
            )


if __name__ == "__main__":
    main()
