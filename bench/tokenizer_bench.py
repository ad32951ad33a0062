"""Tokenizers: Yuliao next to bare HF `tokenizers` and SentencePiece, same text, one run.

Runs, on the same documents: every 10th held out (so 1,000 held-out documents exist for the
parity check); compression is measured on every 20th, the peer script's held-out set:
  * the peer script ../shared/bench/peer_tokenizers.py in the peers venv (bare byte-level BPE and
    SentencePiece BPE: its own timings and bytes/token, for reference);
  * in this process, interleaved so machine load hits both alike: bare `train_from_iterator`
    (the peer's settings) and `yuliao` training through its real input path (file streaming,
    hold-out, report), giving the training MB/s ratio;
  * SentencePiece BPE trained here on the same training text and vocab size, for the
    side-by-side bytes/token (zh, en), tokens/char and 通用规范汉字表 level-1 coverage;
  * the `char` and `wordpiece` kinds (coverage, CJK-split check, [UNK] share);
  * exact round trip of the default `bpe` over every document;
  * AutoTokenizer (offline) vs raw `tokenizers` ids on 1,000 documents for each kind;
  * encoding in a subprocess with tokenizers' thread pool off (one core): bare `encode_batch`
    with the same tokenizer vs `encode_dataset` (Arrow in, shards + manifest out) -> ratio per
    core; then Dask with 1 and 2 worker processes -> scaling.
Each speed bar is judged on a paired statistic (`ACCEPTANCE`): contenders back to back, order
alternating, the median of the per-round ratios; encoding pairs every shard (~1.5 s apart).
Best-of and ratio-of-medians over whole runs are printed too, marked drift-exposed.

Usage:
  python bench/tokenizer_bench.py --peer-python ../peers/bin/python --docs DOCS.jsonl[.gz] \\
      [--vocab 32000] [--out result.json]
DOCS: the dev crawl text, made with
  python ../shared/bench/extract_text.py dev_crawl.jsonl ../shared/corpora/crawl-dev-*.warc.gz
or ../shared/bench/dev_dedup.jsonl.gz (the default).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "bench"


def load_docs(path: Path) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in fh if line.strip()]


def run_peer(peer_python: str, docs: Path, vocab: int) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [peer_python, str(SHARED / "peer_tokenizers.py"), str(docs), str(vocab)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr[-2000:]}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    return out


class MachineClock:
    """CPU seconds of this process (all threads) and the VM's CPU steal since it was made."""

    def __init__(self) -> None:
        import psutil

        self._machine, self._self = psutil.cpu_times(), resource.getrusage(resource.RUSAGE_SELF)

    def read(self) -> tuple[float, float]:
        import psutil

        machine, me = psutil.cpu_times(), resource.getrusage(resource.RUSAGE_SELF)
        spent = sum(machine) - sum(self._machine)
        steal = (
            100 * (getattr(machine, "steal", 0.0) - getattr(self._machine, "steal", 0.0)) / max(spent, 1e-9)
        )
        cpu_s = (me.ru_utime + me.ru_stime) - (self._self.ru_utime + self._self.ru_stime)
        return cpu_s, steal


def bare_train(train: list[str], vocab: int, pipeline: str) -> float:
    """A bare `train_from_iterator` call over an in-memory list, timed.

    `peer`: the peer script's byte-level BPE (GPT-2 regex inside ByteLevel).  `same`: Yuliao's
    own pre-tokeniser and trainer settings, so the ratio shows only what Yuliao's training path
    (streaming the file, hold-out, layout, saving, report) costs on top.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from tokenization import special_tokens as st
    from tokenization.bpe import build_byte_level_bpe

    if pipeline == "peer":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        extra: dict = {}
        size = vocab
    else:
        tok = build_byte_level_bpe()
        extra = {"min_frequency": 2, "special_tokens": list(st.LEADING_SPECIAL_TOKENS)}
        size = vocab - st.NUM_SENTINELS
    tr = trainers.BpeTrainer(
        vocab_size=size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False, **extra
    )
    t0 = time.perf_counter()
    tok.train_from_iterator(train, tr)
    return time.perf_counter() - t0


def yuliao_train(
    train_file: Path, heldout: list[str], vocab: int, kind: str, out: Path
) -> tuple[float, dict]:
    """Yuliao's training through its real input path: stream the JSONL file, train, save, report."""
    from tokenization.config import TokenizerConfig
    from tokenization.inputs import iter_input_texts
    from tokenization.train import train_tokenizer

    cfg = TokenizerConfig(kind=kind, vocab_size=vocab, holdout_every=None)
    t0 = time.perf_counter()
    manifest = train_tokenizer(iter_input_texts(train_file), cfg, out, heldout=heldout)
    return time.perf_counter() - t0, manifest


def parity(tok_dir: Path, texts: list[str]) -> dict:
    """AutoTokenizer loaded offline gives the raw tokenizer's ids on every text."""
    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    auto = AutoTokenizer.from_pretrained(tok_dir, local_files_only=True)
    raw = Tokenizer.from_file(str(tok_dir / "tokenizer.json"))
    a = auto(texts, add_special_tokens=False)["input_ids"]
    r = [e.ids for e in raw.encode_batch(texts, add_special_tokens=False)]
    return {
        "docs": len(texts),
        "equal": sum(x == y for x, y in zip(a, r, strict=True)),
        "class": type(auto).__name__,
    }


def round_trip(tok_dir: Path, texts: list[str]) -> dict:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tok_dir / "tokenizer.json"))
    tok.encode_special_tokens = True
    ok = 0
    for i in range(0, len(texts), 512):
        chunk = texts[i : i + 512]
        ids = [e.ids for e in tok.encode_batch(chunk, add_special_tokens=False)]
        ok += sum(
            d == t for d, t in zip(tok.decode_batch(ids, skip_special_tokens=False), chunk, strict=True)
        )
    return {"docs": len(texts), "exact": ok}


def make_dataset(train: list[str], root: Path, shards: int) -> Path:
    """A pipeline-contract dataset (id, text, source) of `shards` balanced Arrow shards."""
    import pyarrow as pa

    from pipeline.core.atomic import sha256_file, write_arrow, write_json

    entries = []
    for s in range(shards):
        texts = train[s::shards]
        rel = f"data/shard-{s:05d}.arrow"
        write_arrow(
            root / rel,
            pa.table(
                {
                    "id": [f"d{s}-{i}" for i in range(len(texts))],
                    "text": texts,
                    "source": ["dev"] * len(texts),
                }
            ),
        )
        entries.append(
            {
                "path": rel,
                "rows": len(texts),
                "source": "dev",
                "text_bytes": sum(len(t.encode()) for t in texts),
                "sha256": sha256_file(root / rel),
            }
        )
    write_json(root / "manifest.json", {"shards": entries})
    return root


ENCODE_SCRIPT = r"""
import json, shutil, sys, time
from pathlib import Path


def warm_up():
    import numpy as np
    import pyarrow as pa

    import tokenization.encode  # noqa: F401

    pa.array(np.zeros(1, np.int32))


def main(repo, ds, tok_dir, work, reps):
    sys.path.insert(0, repo)
    from pipeline.core.atomic import read_arrow
    from tokenization.encode import encode_dataset
    from tokenization.train import load_tokenizer

    from pipeline.core.arrow_pool import use_system_pool

    use_system_pool()  # as the yuliao CLI does (and the env of the Dask workers below)
    # pyarrow imports pandas on its first array conversion (0.4 s, once per process): done here
    # and in each Dask worker before any timing, so that runs measure encoding, not start-up
    warm_up()
    ds, work = Path(ds), Path(work)
    man = json.loads((ds / "manifest.json").read_text())
    texts = [t for s in man["shards"] for t in read_arrow(ds / s["path"]).column("text").to_pylist()]
    mb = sum(len(t.encode()) for t in texts) / 1e6
    res = {"MB": round(mb, 2)}

    def bare_tokenizer():
        tok = load_tokenizer(tok_dir)
        tok.encode_special_tokens = True
        return tok

    def encode_in_batches(encode, some_texts):
        for i in range(0, len(some_texts), 1000):
            encode(some_texts[i : i + 1000], add_special_tokens=False)

    def bare(method):
        encode = getattr(bare_tokenizer(), method)
        t0 = time.perf_counter()
        encode_in_batches(encode, texts)
        return mb / (time.perf_counter() - t0)

    def yuliao(rep):
        t0 = time.perf_counter()
        encode_dataset(ds, tok_dir, work / f"enc-{rep}", scheduler="synchronous")
        return mb / (time.perf_counter() - t0)

    runs = {
        "bare_encode_batch_MB_s": lambda rep: bare("encode_batch"),
        "bare_encode_batch_fast_MB_s": lambda rep: bare("encode_batch_fast"),
        "yuliao_encode_MB_s": yuliao,
    }
    names = list(runs)
    for rep in range(int(reps)):
        # interleaved, and the order rotates each round: on this VM whichever runs first in a
        # round is often 10-30 % faster (the others would inherit that bias every round)
        for name in names[rep % 3 :] + names[: rep % 3]:
            res.setdefault(name, []).append(round(runs[name](rep), 3))
    # Paired shard by shard, end to end: each shard is also a one-shard dataset, encoded by
    # `encode_dataset` (plan, read Arrow, encode, ids into list<uint16>, write + hash the shard,
    # manifest) right next to bare encode_batch over the same texts, the order alternating.  The
    # VM's speed drifts by 20-30 % over tens of seconds (CPU time drifts with it: not steal), so
    # whole-run rounds that far apart measure the drift; pairs ~1.5 s apart cancel it.
    singles = []
    for i, shard in enumerate(man["shards"]):
        one = work / f"single-{i}"
        (one / "data").mkdir(parents=True, exist_ok=True)
        shutil.copy(ds / shard["path"], one / shard["path"])
        (one / "manifest.json").write_text(json.dumps({"shards": [shard]}))
        singles.append(one)
    tok = bare_tokenizer()
    paired = {"bare": [], "yuliao": []}
    for rep in range(int(reps)):
        spent = {"bare": 0.0, "yuliao": 0.0}
        for i, shard in enumerate(man["shards"]):
            shard_texts = read_arrow(ds / shard["path"]).column("text").to_pylist()
            for who in ("bare", "yuliao") if (rep + i) % 2 == 0 else ("yuliao", "bare"):
                t0 = time.perf_counter()
                if who == "bare":
                    encode_in_batches(tok.encode_batch, shard_texts)
                else:
                    encode_dataset(singles[i], tok_dir, work / f"paired-{rep}-{i}", scheduler="synchronous")
                spent[who] += time.perf_counter() - t0
        for who in paired:
            paired[who].append(round(mb / spent[who], 3))
    res["paired_bare_encode_batch_MB_s"] = paired["bare"]
    res["paired_yuliao_encode_dataset_MB_s"] = paired["yuliao"]
    t0 = time.perf_counter()
    encode_dataset(singles[0], tok_dir, work / "wb", scheduler="synchronous", word_boundaries=True)
    res["word_boundaries_MB_s"] = round(man["shards"][0]["text_bytes"] / 1e6 / (time.perf_counter() - t0), 3)

    from pipeline.core.executor import open_client

    def bare_processes(n):
        # the machine's own scaling: n forked processes, bare encode_batch over 1/n of the texts each
        import multiprocessing as mp

        ctx = mp.get_context("fork")
        go = ctx.Barrier(n + 1)

        def encode_part(k):
            tok = bare_tokenizer()
            part = texts[k::n]
            go.wait()
            encode_in_batches(tok.encode_batch, part)

        procs = [ctx.Process(target=encode_part, args=(k,)) for k in range(n)]
        for p in procs:
            p.start()
        go.wait(timeout=600)  # a worker that died before the barrier breaks it instead of hanging
        t0 = time.perf_counter()
        for p in procs:
            p.join()
        spent = time.perf_counter() - t0
        if any(p.exitcode for p in procs):  # a crashed worker would read as a fast one
            raise RuntimeError(f"bare encode_batch worker failed: exit codes {[p.exitcode for p in procs]}")
        return mb / spent

    # the cluster `yuliao tokenizer encode --workers N` starts, and beside it in each round the
    # same scaling for bare encode_batch in plain processes: what two cores give at that moment
    for rep in range(int(reps)):
        for n in (1, 2) if rep % 2 == 0 else (2, 1):
            with open_client(None, n) as client:
                client.run(warm_up)
                t0 = time.perf_counter()
                encode_dataset(ds, tok_dir, work / f"dask-{n}-{time.time_ns()}", client)
                res.setdefault(f"dask_{n}_workers_MB_s", []).append(round(mb / (time.perf_counter() - t0), 3))
            res.setdefault(f"bare_{n}_processes_MB_s", []).append(round(bare_processes(n), 3))
    print(json.dumps(res))


if __name__ == "__main__":
    main(*sys.argv[1:])
"""


def encode_bench(dataset: Path, tok_dir: Path, work: Path, reps: int) -> dict:
    """One core: tokenizers' thread pool off in this subprocess and in its Dask workers."""
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", RAYON_NUM_THREADS="1")
    script = work / "encode_bench.py"
    script.write_text(ENCODE_SCRIPT, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script), str(REPO), str(dataset), str(tok_dir), str(work), str(reps)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        return {"error": proc.stderr[-3000:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# The speed bars, each judged on its paired statistic: contenders measured back to back
# (seconds apart, order alternating), the median over rounds.  On this VM the machine's speed
# drifts by 20-30 % between rounds tens of seconds apart, so best-of and ratio-of-medians over
# whole runs (also printed, "drift-exposed") follow the drift more than the code.
ACCEPTANCE = (
    ("training vs bare train_from_iterator", "train", "per_round_ratio_vs_bare_peer_median", 0.9),
    ("encoding per core vs bare encode_batch", "encode", "paired_ratio_per_core_median", 0.9),
    ("Dask 2 workers vs 1", "encode", "paired_dask_2_vs_1_median", 1.7),
)
DRIFT_EXPOSED = (
    ("training, best-of", "train", "ratio_vs_bare_peer"),
    ("training, ratio of medians", "train", "median_ratio_vs_bare_peer"),
    ("encoding, best-of", "encode", "ratio_per_core_vs_bare_encode_batch"),
    ("encoding, ratio of medians", "encode", "median_ratio_per_core_vs_bare_encode_batch"),
    ("Dask, best-of", "encode", "dask_2_vs_1"),
    ("Dask, ratio of medians", "encode", "median_dask_2_vs_1"),
    ("bare encode_batch, 2 processes vs 1 (the machine)", "encode", "paired_bare_2_vs_1_processes_median"),
)


def paired(num: list[float], den: list[float]) -> tuple[list[float], float]:
    """Round by round ratios of two runs made back to back, and their median (a paired statistic)."""
    ratios = [a / b for a, b in zip(num, den, strict=True)]
    return [round(r, 3) for r in ratios], round(statistics.median(ratios), 3)


def paired_ratios(enc: dict, name: str, num: str, den: str) -> None:
    enc[f"{name}_per_round"], enc[f"{name}_median"] = paired(enc[num], enc[den])


def acceptance(result: dict) -> dict:
    checks = []
    for name, part, key, bar in ACCEPTANCE:
        value = result.get(part, {}).get(key)
        checks.append(
            {
                "check": name,
                "statistic": key,
                "value": value,
                "bar": bar,
                "pass": value is not None and value >= bar,
            }
        )
    return {
        "checks": checks,
        "drift_exposed": {name: result.get(part, {}).get(key) for name, part, key in DRIFT_EXPOSED},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peer-python", default=str(REPO.parent / "peers" / "bin" / "python"))
    ap.add_argument("--docs", type=Path, default=SHARED / "dev_dedup.jsonl.gz")
    ap.add_argument("--vocab", type=int, default=32000)
    # 16 shards of ~1 MB: on this VM one vCPU runs 10-15 % slower than the other (two pinned bare
    # encode_batch runs side by side, measured), so 2 workers' makespan waits on the slow one; with
    # 4 tasks a worker that tail was 1.67-1.96x (median 1.79), with 8 a worker 1.85-2.05x (1.98).
    ap.add_argument("--shards", type=int, default=16, help="shards of the encode bench's dataset")
    ap.add_argument(
        "--train-reps",
        type=int,
        default=4,
        help="interleaved training rounds (even: the peer runs first in half of them)",
    )
    ap.add_argument("--encode-every", type=int, default=2, help="encode bench on every Nth training doc")
    ap.add_argument(
        "--encode-reps", type=int, default=6, help="interleaved encoding rounds (best of, median, paired)"
    )
    ap.add_argument("--skip-peer", action="store_true")
    ap.add_argument(
        "--normalise",
        choices=["pipeline", "none"],
        default="pipeline",
        help="pipeline: run every document through the pipeline's clean step first (NFKC, invisible "
        "characters, whitespace runs collapsed, paragraph breaks kept), as the tokenizer's real "
        "training data is; none: the extracted text as is",
    )
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()

    from pipeline.core.arrow_pool import use_system_pool
    from tokenization import special_tokens as st

    use_system_pool()  # Yuliao's training runs here: the allocator its CLI uses
    from tokenization.evaluate import format_side_by_side
    from tokenization.spm_compare import sentencepiece_report, train_sentencepiece

    docs = load_docs(args.docs)
    if args.normalise == "pipeline":
        from pipeline.config import CleanConfig
        from pipeline.steps.clean import clean_text

        cfg = CleanConfig()
        docs = [clean_text(d, cfg) for d in docs]
    # The peer holds out docs[::20] and trains on the rest; we also keep docs[10::20] out of
    # training so that AutoTokenizer parity runs on 1,000 documents no tokenizer has seen.
    held, unseen = docs[::20], docs[::10]
    train = [d for i, d in enumerate(docs) if i % 10]
    mb = sum(len(d.encode()) for d in train) / 1e6
    result: dict = {
        "docs": len(docs),
        "train_MB": round(mb, 2),
        "heldout_docs": len(held),
        "unseen_docs": len(unseen),
        "vocab": args.vocab,
        "normalise": args.normalise,
    }
    print(f"{len(docs)} docs, {mb:.1f} MB training text, {len(held)} held out", flush=True)

    if not args.skip_peer:
        result["peer"] = run_peer(args.peer_python, args.docs, args.vocab)
        print("peer:", json.dumps(result["peer"]), flush=True)

    with tempfile.TemporaryDirectory(prefix="yuliao-tokbench-") as tmp:
        work = Path(tmp)
        train_file = work / "train.jsonl"
        with train_file.open("w", encoding="utf-8") as fh:
            for d in train:
                fh.write(json.dumps({"text": d}, ensure_ascii=False) + "\n")

        # ---- training speed, interleaved so machine load hits all alike; best of `--train-reps`
        times: dict[str, list[float]] = {"bare_peer": [], "bare_same": [], "yuliao": []}
        cpu: dict[str, list[float]] = {k: [] for k in times}
        steals: dict[str, list[float]] = {k: [] for k in times}
        phase: list[float] = []
        manifest = None
        for rep in range(args.train_reps):
            # Yuliao in the middle, beside the peer's call in every round (the per-round pair),
            # with the peer first and last by turns: whichever runs first is often faster here
            order = (
                ("bare_peer", "yuliao", "bare_same") if rep % 2 == 0 else ("bare_same", "yuliao", "bare_peer")
            )
            for who in order:
                machine = MachineClock()
                if who == "yuliao":
                    t, manifest = yuliao_train(train_file, held, args.vocab, "bpe", work / f"bpe-{rep}")
                    phase.append(manifest["seconds"]["read_and_train"])
                else:
                    t = bare_train(train, args.vocab, who.removeprefix("bare_"))
                cpu_s, steal = machine.read()
                times[who].append(t)
                cpu[who].append(cpu_s)
                steals[who].append(steal)
                print(f"train {who}: {t:.1f}s, CPU {cpu_s:.1f}s, steal {steal:.1f} %", flush=True)
        best = {k: min(v) for k, v in times.items()}
        # times are seconds: the peer's over Yuliao's is Yuliao's throughput relative to the peer's
        per_round, per_round_median = paired(times["bare_peer"], times["yuliao"])
        med = {k: statistics.median(v) for k, v in times.items()}
        result["train"] = {
            **{f"{k}_s": [round(t, 1) for t in v] for k, v in times.items()},
            **{f"{k}_MB_s": round(mb / t, 3) for k, t in best.items()},
            # the acceptance ratio: Yuliao's `bpe` (its pre-tokeniser included) vs the peer's bare call
            "ratio_vs_bare_peer": round(best["bare_peer"] / best["yuliao"], 3),
            # Yuliao's training path vs a bare call with the same tokenizer pipeline
            "ratio_vs_bare_same_pipeline": round(best["bare_same"] / best["yuliao"], 3),
            # the pre-tokeniser alone: bare same-pipeline vs bare peer
            "ratio_pattern_cost": round(best["bare_peer"] / best["bare_same"], 3),
            # reading + pre-tokenising + training only (no saving / report)
            "yuliao_read_and_train_s": [round(t, 1) for t in phase],
            "ratio_read_and_train_vs_bare_same": round(best["bare_same"] / min(phase), 3),
            # the training throughput proper vs the peer's bare call: the rest (saving, the held-out
            # report: one encoding pass over at most MAX_HELDOUT_DOCS) does not grow with the corpus
            "ratio_read_and_train_vs_bare_peer": round(best["bare_peer"] / min(phase), 3),
            # the same two acceptance ratios from medians: a best-of follows one outlier round
            "median_ratio_vs_bare_peer": round(med["bare_peer"] / med["yuliao"], 3),
            "median_ratio_read_and_train_vs_bare_peer": round(med["bare_peer"] / statistics.median(phase), 3),
            # each round's peer and Yuliao runs are back to back: the ratio least moved by drift
            "per_round_ratio_vs_bare_peer": per_round,
            "per_round_ratio_vs_bare_peer_median": per_round_median,
            # CPU seconds (all threads of this process) and the VM's CPU steal while each ran: steal
            # is wall time no contender used; CPU time shows what work each path did
            **{f"{k}_cpu_s": [round(c, 1) for c in v] for k, v in cpu.items()},
            **{f"{k}_steal_pct": [round(x, 1) for x in v] for k, v in steals.items()},
            "median_cpu_ratio_vs_bare_peer": round(
                statistics.median(cpu["bare_peer"]) / statistics.median(cpu["yuliao"]), 3
            ),
        }
        bpe_dir = work / f"bpe-{args.train_reps - 1}"
        report = {"yuliao_bpe": manifest["report"]["yuliao"]}

        # ---- SentencePiece on the same training text, same vocab size
        sample = work / "sp.txt"
        sample.write_text("\n".join(train), encoding="utf-8")
        t0 = time.perf_counter()
        sp = train_sentencepiece(sample, args.vocab, work / "sp", seed=0)
        result["sentencepiece_train_s"] = round(time.perf_counter() - t0, 1)
        report["sentencepiece_bpe"] = sentencepiece_report(sp, held)

        # ---- char and wordpiece kinds
        for kind in ("char", "wordpiece"):
            _, m = yuliao_train(train_file, held, args.vocab, kind, work / kind)
            report[f"yuliao_{kind}"] = m["report"]["yuliao"]
        result["report"] = report
        print(format_side_by_side(report), flush=True)
        # the acceptance check over every held-out document (the report checks a budget of them)
        from tokenization.evaluate import cjk_split_violations
        from tokenization.train import load_tokenizer

        for kind in ("char", "wordpiece"):
            tok = load_tokenizer(work / kind)
            ids = [e.ids for e in tok.encode_batch(held, add_special_tokens=False)]
            result[f"{kind}_heldout_checks"] = {
                "docs": len(held),
                "cjk_split_violations": cjk_split_violations(tok, held),
                "unk_tokens": sum(x.count(st.UNK_ID) for x in ids),
            }
            print(f"{kind}: {result[f'{kind}_heldout_checks']}", flush=True)

        # ---- exact round trip (bpe) and AutoTokenizer parity (all kinds)
        result["round_trip_bpe"] = round_trip(bpe_dir, docs)
        parity_docs = unseen[:1000]
        result["autotokenizer_parity"] = {
            kind: parity(work / name, parity_docs)
            for kind, name in (("bpe", bpe_dir.name), ("char", "char"), ("wordpiece", "wordpiece"))
        }
        print("round trip:", result["round_trip_bpe"], "parity:", result["autotokenizer_parity"], flush=True)

        # ---- encoding per core and Dask scaling (subprocess: tokenizers' pool off)
        dataset = make_dataset(train[:: args.encode_every], work / "dataset", args.shards)
        enc = encode_bench(dataset, bpe_dir, work, args.encode_reps)
        if "error" not in enc:
            best = max(enc["yuliao_encode_MB_s"])
            enc["ratio_per_core_vs_bare_encode_batch"] = round(best / max(enc["bare_encode_batch_MB_s"]), 3)
            enc["ratio_per_core_vs_bare_encode_batch_fast"] = round(
                best / max(enc["bare_encode_batch_fast_MB_s"]), 3
            )
            enc["dask_2_vs_1"] = round(max(enc["dask_2_workers_MB_s"]) / max(enc["dask_1_workers_MB_s"]), 3)
            md = {k: statistics.median(v) for k, v in enc.items() if isinstance(v, list)}
            enc["median_ratio_per_core_vs_bare_encode_batch"] = round(
                md["yuliao_encode_MB_s"] / md["bare_encode_batch_MB_s"], 3
            )
            enc["median_dask_2_vs_1"] = round(md["dask_2_workers_MB_s"] / md["dask_1_workers_MB_s"], 3)
            # each round runs 1 and 2 workers (and bare processes) back to back, order alternating
            paired_ratios(enc, "paired_dask_2_vs_1", "dask_2_workers_MB_s", "dask_1_workers_MB_s")
            paired_ratios(
                enc, "paired_bare_2_vs_1_processes", "bare_2_processes_MB_s", "bare_1_processes_MB_s"
            )
            # per round, shard by shard paired: the per-core ratio least moved by the VM's drift
            paired_ratios(
                enc,
                "paired_ratio_per_core",
                "paired_yuliao_encode_dataset_MB_s",
                "paired_bare_encode_batch_MB_s",
            )
        result["encode"] = enc
        print("encode:", json.dumps(enc), flush=True)

    y, s = report["yuliao_bpe"], report["sentencepiece_bpe"]
    result["summary"] = {
        "bytes_per_token_zh": {
            "yuliao": y["zh"]["bytes_per_token"],
            "sentencepiece": s["zh"]["bytes_per_token"],
        },
        "bytes_per_token_en": {
            "yuliao": y["en"]["bytes_per_token"],
            "sentencepiece": s["en"]["bytes_per_token"],
        },
        "tgh_coverage": {k: v["tgh_level1_coverage"]["share"] for k, v in report.items()},
        "train_ratio_vs_bare_peer": result["train"]["ratio_vs_bare_peer"],
        "train_ratio_vs_bare_same_pipeline": result["train"]["ratio_vs_bare_same_pipeline"],
        "train_ratio_read_and_train_vs_bare_peer": result["train"]["ratio_read_and_train_vs_bare_peer"],
        "train_ratio_vs_bare_peer_median": result["train"]["median_ratio_vs_bare_peer"],
        "train_ratio_vs_bare_peer_per_round_median": result["train"]["per_round_ratio_vs_bare_peer_median"],
        "train_cpu_ratio_vs_bare_peer_median": result["train"]["median_cpu_ratio_vs_bare_peer"],
        "encode_ratio_per_core": enc.get("ratio_per_core_vs_bare_encode_batch"),
        "encode_ratio_per_core_median": enc.get("median_ratio_per_core_vs_bare_encode_batch"),
        "encode_ratio_per_core_paired_median": enc.get("paired_ratio_per_core_median"),
        "dask_2_vs_1_median": enc.get("median_dask_2_vs_1"),
        "encode_ratio_per_core_vs_fast": enc.get("ratio_per_core_vs_bare_encode_batch_fast"),
        "dask_2_vs_1": enc.get("dask_2_vs_1"),
    }
    result["acceptance"] = acceptance(result)
    print(json.dumps(result["summary"], indent=1, ensure_ascii=False))
    for c in result["acceptance"]["checks"]:
        verdict = "pass" if c["pass"] else "MISS"
        print(f"{verdict}  {c['check']}: {c['value']} (bar {c['bar']}, {c['statistic']})")
    if args.out:
        args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
