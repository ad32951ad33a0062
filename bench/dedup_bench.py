"""Near-dedup throughput and quality: Yuliao vs rensa vs datasketch, same file, same run.

    python bench/dedup_bench.py [--docs ../shared/bench/dev_dedup.jsonl.gz]
        [--truth ../shared/bench/dev_dedup_truth.npz] [--peers-python ../peers/bin/python]
        [--workers 0,1,2] [--rounds 3] [--out /tmp/yuliao-dedup-bench]

Each round runs rensa, then Yuliao with every --workers setting (0 = in-process, N = a Dask
LocalCluster of N single-threaded workers); datasketch (slow) runs in the first round only.
Rounds interleave the contenders so machine noise hits all of them (Yuliao's settings swap
order every round); medians are printed, with the CPU steal of this VM during each run.

Throughput counts what the peers' own timers count, documents through shingling,
signatures, LSH and clustering (Yuliao: keys + scatter + bucket + verify + cluster from
report/timings.json; JSON parsing, process start and output writing excluded for all);
the end-to-end wall time of Yuliao's command is printed too.  Peak RSS is sampled over
the whole process tree (Dask workers included).  Quality: ../shared/bench/dedup_truth.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO.parent / "shared" / "bench"
ENGINE = ("keys", "scatter", "bucket", "verify", "cluster")


def run_tree(cmd: list[str], cwd: Path = REPO) -> tuple[str, float, float, float]:
    """(stdout, wall seconds, peak RSS of the process tree in MB, CPU steal in % of the machine's
    CPU time meanwhile: time the hypervisor gave this VM's vCPUs to others)."""
    cpu0 = psutil.cpu_times()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    ps = psutil.Process(proc.pid)
    peak, procs, tick = 0, [ps], 0
    while proc.poll() is None:
        # The process list is refreshed once a second, the RSS of each process ten times:
        # `children()` reads every /proc/PID on the machine, and on a 2-core machine a sampler
        # that does that ten times a second took 3.6 % of a core from the contenders (1.4 % now),
        # more from a 2-worker run, which has no idle core, than from the others.
        if tick % 10 == 0:
            with contextlib.suppress(psutil.Error):
                procs = [ps, *ps.children(recursive=True)]
        rss = 0
        for p in procs:
            with contextlib.suppress(psutil.Error):  # exited since the last refresh
                rss += p.memory_info().rss
        peak = max(peak, rss)
        tick += 1
        time.sleep(0.1)
    out = proc.stdout.read() if proc.stdout else ""
    if proc.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed with {proc.returncode}")
    cpu1 = psutil.cpu_times()
    spent = sum(cpu1) - sum(cpu0)
    steal = 100 * (getattr(cpu1, "steal", 0.0) - getattr(cpu0, "steal", 0.0)) / max(spent, 1e-9)
    return out, time.perf_counter() - t0, peak / 1e6, steal


def score(docs: Path, truth: Path, kept: Path) -> dict:
    out = subprocess.run(
        [sys.executable, str(BENCH / "dedup_truth.py"), "score", str(docs), str(truth), str(kept)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_peer(python: str, name: str, docs: Path, out: Path) -> dict:
    kept = out / f"{name}.kept.txt"
    stdout, wall, rss, steal = run_tree([python, str(BENCH / f"peer_{name}.py"), str(docs), str(kept)])
    res = json.loads(stdout.strip().splitlines()[-1])
    return {
        "docs_per_s": res["docs_per_s"],
        "MB_per_s": res["MB_per_s"],
        "wall_s": wall,
        "peak_rss_MB": rss,
        "steal_pct": steal,
        "kept": kept,
    }


def run_yuliao(workers: int, docs: Path, out: Path, variant: str = "", extra: tuple[str, ...] = ()) -> dict:
    target = out / f"yuliao-{variant or 'default'}-w{workers}"
    cmd = [sys.executable, "-m", "pipeline.cli.main", "pipeline", "dedup", "--input", str(docs)]
    cmd += ["--output", str(target), "--workers", str(workers), *extra]
    if target.exists():
        import shutil

        shutil.rmtree(target)
    _, wall, rss, steal = run_tree(cmd)
    timings = json.loads((target / "report" / "timings.json").read_text())
    summary = json.loads((target / "summary.json").read_text())
    engine = sum(timings.get(k, 0.0) for k in ENGINE)
    mb = docs_mb(docs)
    return {
        "docs_per_s": summary["documents"] / engine,
        "MB_per_s": mb / engine,
        "engine_s": engine,
        "wall_s": wall,
        "peak_rss_MB": rss,
        "steal_pct": steal,
        "index_bytes_per_doc": summary["band_index_bytes_per_document"],
        "bands": f"{summary['bands']}x{summary['rows']}",
        "kept": target / "kept_ids.txt",
        "timings": timings,
    }


_MB: dict[Path, float] = {}


def docs_mb(docs: Path) -> float:
    if docs not in _MB:
        import gzip

        opener = gzip.open if docs.name.endswith(".gz") else open
        with opener(docs, "rt", encoding="utf-8") as fh:
            _MB[docs] = sum(len(json.loads(line)["text"].encode()) for line in fh) / 1e6
    return _MB[docs]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=Path, default=BENCH / "dev_dedup.jsonl.gz")
    ap.add_argument("--truth", type=Path, default=BENCH / "dev_dedup_truth.npz")
    ap.add_argument("--peers-python", default=str(REPO.parent / "peers" / "bin" / "python"))
    ap.add_argument("--workers", default="0,1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-datasketch", action="store_true")
    ap.add_argument("--out", type=Path, default=Path("/tmp/yuliao-dedup-bench"))
    ap.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=ARGS",
        help="a Yuliao setting to run besides the defaults, e.g. 'char=--shingle char' (repeatable)",
    )
    ap.add_argument(
        "--goal-recall", type=float, default=0.99, help="pair recall goal (mixed-script set: 0.98)"
    )
    ap.add_argument("--goal-precision", type=float, default=0.995)
    args = ap.parse_args()
    variants = [("", ())] + [(v.split("=", 1)[0], tuple(v.split("=", 1)[1].split())) for v in args.variant]
    args.out.mkdir(parents=True, exist_ok=True)
    workers = [int(w) for w in args.workers.split(",")]
    # warm numba's on-disk cache once so no contender's timing includes compilation
    subprocess.run(
        [sys.executable, "-c", "from pipeline.dedup.warm import warm_up; warm_up()"], cwd=REPO, check=True
    )
    results: dict[str, list[dict]] = {}
    for r in range(args.rounds):
        contenders = [("rensa", lambda: run_peer(args.peers_python, "rensa", args.docs, args.out))]
        if r == 0 and not args.no_datasketch:
            contenders.append(
                ("datasketch", lambda: run_peer(args.peers_python, "datasketch", args.docs, args.out))
            )
        settings = [(w, v) for w in workers for v in variants]
        for w, (v, extra) in settings if r % 2 == 0 else settings[::-1]:  # no setting always runs first
            name = f"yuliao {v} w={w}" if v else f"yuliao w={w}"
            contenders.append((name, lambda w=w, v=v, e=extra: run_yuliao(w, args.docs, args.out, v, e)))
        for name, fn in contenders:
            res = fn()
            results.setdefault(name, []).append(res)
            print(
                f"round {r + 1} {name}: {res['docs_per_s']:.0f} docs/s, steal {res['steal_pct']:.1f} %",
                flush=True,
            )
    print(
        f"\n{args.docs.name}: {docs_mb(args.docs):.1f} MB, load average {os.getloadavg()[0]:.1f}, "
        f"{args.rounds} rounds, medians\n"
    )
    med = {
        n: {
            k: statistics.median(x[k] for x in rs)
            for k in ("docs_per_s", "MB_per_s", "wall_s", "peak_rss_MB", "steal_pct")
        }
        for n, rs in results.items()
    }
    quality = {n: score(args.docs, args.truth, rs[-1]["kept"]) for n, rs in results.items()}
    rensa = med["rensa"]["docs_per_s"]
    ds = med.get("datasketch", {}).get("docs_per_s")
    head = f"{'contender':<14}{'docs/s':>9}{'MB/s':>8}{'×rensa':>8}{'×datasketch':>12}{'precision':>10}{'recall':>8}{'peak RSS MB':>12}{'wall s':>8}{'steal %':>8}"
    print(head)
    print("-" * len(head))
    for n, m in med.items():
        q = quality[n]
        xds = f"{m['docs_per_s'] / ds:.1f}" if ds else "-"
        print(
            f"{n:<14}{m['docs_per_s']:>9.0f}{m['MB_per_s']:>8.2f}{m['docs_per_s'] / rensa:>8.2f}{xds:>12}"
            f"{q['precision']:>10.4f}{q['pair_recall']:>8.4f}{m['peak_rss_MB']:>12.0f}{m['wall_s']:>8.1f}{m['steal_pct']:>8.1f}"
        )
    ys = [n for n in med if n.startswith("yuliao")]
    print(
        f"\ngoals: precision >= {args.goal_precision}, pair recall >= {args.goal_recall} (peers of this run above)"
    )
    for n in ys:
        q = quality[n]
        ok = q["precision"] >= args.goal_precision and q["pair_recall"] >= args.goal_recall
        print(
            f"  {n}: precision {q['precision']:.4f}, recall {q['pair_recall']:.4f}: {'pass' if ok else 'MISS'}"
        )
    if ys:
        last = results[ys[0]][-1]
        print(
            f"\nYuliao LSH {last['bands']}, band index {last['index_bytes_per_doc']} bytes/doc "
            f"(+ {4 * 128} bytes/doc signature, memory-mapped); last timings: {last['timings']}"
        )
        for n in ys:  # where the time goes, per setting: which stages scale with workers
            stages = {
                k: statistics.median(x["timings"].get(k, 0.0) for x in results[n])
                for k in (*ENGINE, "read", "write")
            }
            print(f"{n} stage seconds (medians): " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
    if "yuliao w=1" in med and "yuliao w=2" in med:
        one, two = results["yuliao w=1"], results["yuliao w=2"]
        paired = [b["docs_per_s"] / a["docs_per_s"] for a, b in zip(one, two, strict=True)]
        print(
            f"2 workers vs 1: {med['yuliao w=2']['docs_per_s'] / med['yuliao w=1']['docs_per_s']:.2f}x "
            f"(medians); per round {', '.join(f'{x:.2f}' for x in paired)} (median {statistics.median(paired):.2f}x)"
        )


if __name__ == "__main__":
    main()
