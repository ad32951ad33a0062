"""Ingest → extract → clean → filter throughput: Yuliao next to datatrove, same input, one run.

Runs, on the same WARC files and the same number of workers:
  * datatrove's WarcReader → Trafilatura → GopherRepetition → GopherQuality → C4 → JSONL
    (../shared/bench/peer_datatrove_pipeline.py, in a separate venv that has datatrove),
  * `yuliao pipeline run` with trafilatura, then with resiliparse (dedup off: not in the peer),
  * Yuliao with 1 worker, to report 2-worker scaling,
and prints records/s, the ratios, and the peak resident memory of each worker process.

Usage:
  python bench/pipeline_bench.py --peer-python /path/to/peers/venv/bin/python \
      --workers 2 ../shared/corpora/crawl-dev-*.warc.gz
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml

REPO = Path(__file__).resolve().parents[1]
PEER = REPO.parent / "shared" / "bench" / "peer_datatrove_pipeline.py"


class PeakRss:
    """Samples the resident memory of every process under `pid`; keeps each one's peak."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peaks: dict[int, tuple[str, int]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for p in procs:
                try:
                    rss = p.memory_info().rss
                    name = " ".join(p.cmdline()[:4])
                except psutil.Error:
                    continue
                if rss > self.peaks.get(p.pid, ("", 0))[1]:
                    self.peaks[p.pid] = (name, rss)
            time.sleep(0.2)

    def stop(self) -> list[int]:
        self._stop.set()
        self._thread.join()
        return sorted((rss for _, rss in self.peaks.values()), reverse=True)


def run_yuliao(warcs: list[str], workers: int, extractor: str, work: Path) -> dict:
    manifest = {
        "sources": [{"name": "crawl", "paths": [str(Path(w).resolve()) for w in warcs], "weight": 1.0}],
        "pipeline": {"extract": {"extractor": extractor}, "dedup": {"exact": False, "near": False}},
    }
    mpath = work / f"bench-{extractor}-{workers}.yaml"
    mpath.write_text(yaml.safe_dump(manifest))
    out = work / f"yuliao-{extractor}-{workers}"
    cmd = [sys.executable, "-m", "pipeline.cli.main", "pipeline", "run", str(mpath), "--output", str(out)]
    cmd += ["--workers", str(workers)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    mem = PeakRss(proc.pid)
    _, err = proc.communicate()
    seconds = time.perf_counter() - t0
    peaks = mem.stop()
    if proc.returncode:
        raise SystemExit(f"yuliao failed:\n{err[-3000:]}")
    m = json.loads((out / "manifest.json").read_text())
    records = m["ledger"]["rows"]
    return {
        "system": f"yuliao[{extractor}]",
        "workers": workers,
        "records_in": records,
        "kept": m["rows"],
        "seconds": round(seconds, 1),
        "records_per_s": round(records / seconds, 1),
        "peak_rss_mb_top_processes": [round(p / 2**20) for p in peaks[: workers + 1]],
    }


def run_peer(peer_python: str, warcs: list[str], workers: int, work: Path) -> dict:
    cmd = [peer_python, str(PEER), str(work / "datatrove"), str(workers), *warcs]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mem = PeakRss(proc.pid)
    out, err = proc.communicate()
    peaks = mem.stop()
    if proc.returncode:
        raise SystemExit(f"datatrove peer failed:\n{err[-3000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["system"] = "datatrove"
    result["peak_rss_mb_top_processes"] = [round(p / 2**20) for p in peaks[: workers + 1]]
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("warcs", nargs="+")
    ap.add_argument("--peer-python", required=True, help="python of a venv with datatrove installed")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = [
            run_peer(args.peer_python, args.warcs, args.workers, work),
            run_yuliao(args.warcs, args.workers, "trafilatura", work),
            run_yuliao(args.warcs, args.workers, "resiliparse", work),
            run_yuliao(args.warcs, 1, "trafilatura", work),
        ]
    for r in rows:
        print(json.dumps(r))
    peer, traf, resil, one = rows
    print(
        json.dumps(
            {
                "yuliao_trafilatura_vs_datatrove": round(traf["records_per_s"] / peer["records_per_s"], 2),
                "yuliao_resiliparse_vs_datatrove": round(resil["records_per_s"] / peer["records_per_s"], 2),
                "yuliao_2_workers_vs_1": round(traf["records_per_s"] / one["records_per_s"], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
