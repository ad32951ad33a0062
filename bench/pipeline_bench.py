"""Ingest → extract → clean → filter throughput: Yuliao next to datatrove, same input, one run.

Runs, on the same WARC files and the same number of workers:
  * datatrove's WarcReader → Trafilatura → GopherRepetition → GopherQuality → C4 → JSONL
    (../shared/bench/peer_datatrove_pipeline.py, in a separate venv that has datatrove),
  * `yuliao pipeline run` on the same path ("peer" manifest): HTML records only, as
    datatrove's reader takes them; decode → extract → clean → boilerplate lines → basic,
    Gopher repetition, Gopher quality and C4 rules on every document (datatrove applies them
    regardless of language); 1 s per-page extraction limit, datatrove's default.  No language
    id, Chinese/FineWeb rules, PII, quality model or dedup: datatrove's path has none of them.
    With trafilatura, with resiliparse, and with trafilatura on 1 worker (2-worker scaling),
  * `yuliao pipeline run` with its full default path ("full": every text record, language id,
    every rule family, 5 s page limit; only PII and dedup off), to show what the rest costs,
and prints records/s, the ratios, and the peak resident memory of each worker process.

Usage:
  python bench/pipeline_bench.py --peer-python /path/to/peers/venv/bin/python \
      --workers 2 [--every K] ../shared/corpora/crawl-dev-*.warc.gz

`--every K` first cuts every K-th WARC record of each file into a smaller WARC (byte-for-byte
copies, so all content kinds stay represented) and gives both systems that same sample.
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


def subsample(warcs: list[str], every: int, work: Path) -> list[str]:
    """Every `every`-th record of each WARC, copied byte-for-byte into work/sample/*.warc.gz."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.warcwriter import WARCWriter

    folder = work / "sample"
    folder.mkdir()
    out = []
    for w in warcs:
        dest = folder / Path(w).name
        with open(w, "rb") as src, open(dest, "wb") as fh:
            writer = WARCWriter(fh, gzip=True)
            for i, rec in enumerate(ArchiveIterator(src)):
                if i % every == 0:
                    writer.write_record(rec)
        out.append(str(dest))
    return out


def count_html_records(warcs: list[str]) -> int:
    """HTML response records: the work both systems do (datatrove skips every other kind unread,
    Yuliao files them in its ledger at negligible cost), so records/s share one denominator."""
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    n = 0
    for w in warcs:
        with open(w, "rb") as fh:
            for rec in ArchiveIterator(fh, record_types=WarcRecordType.response, parse_http=True):
                ctype = (rec.http_headers.get("Content-Type") or "") if rec.http_headers else ""
                n += "html" in ctype.lower()
    return n


def pipeline_config(extractor: str, path: str) -> dict:
    """The manifest's `pipeline` section for datatrove's path ("peer") or Yuliao's ("full")."""
    cfg: dict = {
        # 1 MiB ranges of the per-record-gzipped WARCs: ~35 tasks, so two workers stay balanced
        # to the end (a range of the Python docs takes ~10x the time of a Handbook one)
        "read": {"split_bytes": 2**20},
        "extract": {"extractor": extractor},
        "dedup": {"exact": False, "near": False},
        "pii": {"enabled": False},
    }
    if path == "peer":
        cfg["read"]["mime_types"] = ["text/html", "application/xhtml+xml"]
        cfg["extract"]["timeout_s"] = 1.0
        cfg["langid"] = {"enabled": False}  # the rules then judge every document ("und")
        cfg["filters"] = {"chinese": {"enabled": False}, "fineweb": {"enabled": False}}
    return cfg


def run_yuliao(warcs: list[str], workers: int, extractor: str, work: Path, path: str = "peer") -> dict:
    manifest = {
        "sources": [{"name": "crawl", "paths": [str(Path(w).resolve()) for w in warcs], "weight": 1.0}],
        "pipeline": pipeline_config(extractor, path),
    }
    mpath = work / f"bench-{extractor}-{workers}-{path}.yaml"
    mpath.write_text(yaml.safe_dump(manifest))
    out = work / f"yuliao-{extractor}-{workers}-{path}"
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
        "system": f"yuliao[{extractor}, {path} path]",
        "workers": workers,
        "records_in": records,
        "kept": m["rows"],
        "seconds": round(seconds, 1),
        "records_per_s": round(records / seconds, 1),
        "peak_rss_mb_top_processes": [round(p / 2**20) for p in peaks[: workers + 1]],
    }


def run_peer(peer_python: str, warcs: list[str], workers: int, work: Path) -> dict:
    # stdout/stderr go to files, not pipes: datatrove leaves forkserver processes behind that
    # inherit the pipes and never close them, so communicate() would wait forever.
    cmd = [peer_python, str(PEER), str(work / "datatrove"), str(workers), *warcs]
    out_path, err_path = work / "datatrove.out", work / "datatrove.err"
    with open(out_path, "w") as out, open(err_path, "w") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, start_new_session=True)
        mem = PeakRss(proc.pid)
        proc.wait()
        peaks = mem.stop()
    subprocess.run(["pkill", "-s", str(proc.pid)], check=False)  # the leftover forkservers
    if proc.returncode:
        raise SystemExit(f"datatrove peer failed:\n{err_path.read_text()[-3000:]}")
    result = json.loads(out_path.read_text().strip().splitlines()[-1])
    result["system"] = "datatrove"
    result["peak_rss_mb_top_processes"] = [round(p / 2**20) for p in peaks[: workers + 1]]
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("warcs", nargs="+")
    ap.add_argument("--peer-python", required=True, help="python of a venv with datatrove installed")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--every", type=int, default=1, help="use every K-th record of each file")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        warcs = subsample(args.warcs, args.every, work) if args.every > 1 else args.warcs
        html_records = count_html_records(warcs)
        print(json.dumps({"input_files": len(warcs), "html_records": html_records}), flush=True)
        rows = []
        for runner in (
            lambda: run_peer(args.peer_python, warcs, args.workers, work),
            lambda: run_yuliao(warcs, args.workers, "trafilatura", work),
            lambda: run_yuliao(warcs, args.workers, "resiliparse", work),
            lambda: run_yuliao(warcs, 1, "trafilatura", work),
            lambda: run_yuliao(warcs, args.workers, "trafilatura", work, path="full"),
        ):
            row = runner()
            row["html_records_per_s"] = round(html_records / row["seconds"], 1)
            print(json.dumps(row), flush=True)
            rows.append(row)
    peer, traf, resil, one, full = rows
    rate = "html_records_per_s"  # same denominator for both systems
    print(
        json.dumps(
            {
                "yuliao_trafilatura_vs_datatrove": round(traf[rate] / peer[rate], 2),
                "yuliao_resiliparse_vs_datatrove": round(resil[rate] / peer[rate], 2),
                "yuliao_2_workers_vs_1": round(traf[rate] / one[rate], 2),
                "yuliao_full_path_trafilatura_vs_datatrove": round(full[rate] / peer[rate], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
