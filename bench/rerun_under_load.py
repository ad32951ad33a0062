"""`yuliao demo` twice, the second time with a CPU burner on every core: same dataset bytes?

    python bench/rerun_under_load.py [--work DIR] [--burners N]

Runs the demo once on a quiet machine and once with N busy-looping processes (default: one
per core), each into its own output folder, then compares the dataset's shards, ledger and
manifest byte for byte and prints the wall time of both runs.  Every per-page limit of the
pipeline is counted in work, so a slower machine must not change any decision; the one
wall-clock outcome (`extract_timeout_nondeterministic`, a last-resort safety net) is counted
in each ledger so a difference can be traced to it.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.compute as pc

REPO = Path(__file__).resolve().parents[1]


def burn() -> None:
    while True:
        pass


def demo(out: Path) -> float:
    t = time.perf_counter()
    cmd = [sys.executable, "-m", "pipeline.cli.main", "demo", "--output", str(out)]
    subprocess.run(cmd, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def dataset_files(out: Path) -> dict[str, bytes]:
    root = out / "dataset"
    files = [
        *sorted(root.glob("data/*.arrow")),
        *sorted(root.glob("ledger/*.parquet")),
        root / "manifest.json",
    ]
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def timeouts(out: Path) -> int:
    from pipeline.records import ledger

    led = ledger.read(out / "dataset" / "ledger")
    return pc.sum(pc.equal(led["reason"], "extract_timeout_nondeterministic")).as_py() or 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, help="folder for the two demo outputs (default: a temp folder)")
    ap.add_argument("--burners", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="rerun-under-load-"))
    quiet_s = demo(work / "quiet")
    burners = [mp.Process(target=burn, daemon=True) for _ in range(args.burners)]
    for b in burners:
        b.start()
    try:
        loaded_s = demo(work / "loaded")
    finally:
        for b in burners:
            b.terminate()
    quiet, loaded = dataset_files(work / "quiet"), dataset_files(work / "loaded")
    differ = sorted(k for k in quiet.keys() | loaded.keys() if quiet.get(k) != loaded.get(k))
    print(f"quiet run {quiet_s:.0f} s, loaded run ({args.burners} burners) {loaded_s:.0f} s")
    print(
        f"extract_timeout_nondeterministic rows: quiet {timeouts(work / 'quiet')}, loaded {timeouts(work / 'loaded')}"
    )
    print(f"dataset files compared: {len(quiet)}; differing: {differ or 'none'}")
    print("byte-identical" if not differ else "DIFFERENT")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
