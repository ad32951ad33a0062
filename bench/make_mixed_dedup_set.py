"""A mixed-script near-dup dev set: Chinese manual pages with untranslated English, plus near copies.

    python bench/make_mixed_dedup_set.py [--out /tmp/yuliao-mixed]

Pages: every Chinese page of the dev crawl (`../shared/corpora/crawl-dev-*.warc.gz`: the
Handbook's zh-CN/zh-TW pages, the GIMP help (zh_CN), Debian Reference zh-cn/zh-tw), extracted with
the reference extractor (`../shared/bench/extract_text.py`: trafilatura), kept when they hold any
Han character (most GIMP pages are untranslated English with a few Chinese words).  Near copies and truth come from `../shared/bench/dedup_truth.py` (`perturb`,
then `truth`: exact char-5-gram Jaccard), exactly as the dev dedup set was made.  Writes
OUT/mixed.jsonl and OUT/mixed_truth.npz, then prints the Han-share spread and the true pairs.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
ZH_URL = re.compile(r"/(zh-CN|zh-TW|zh_CN|zh-cn|zh-tw|zh_TW)/|gimp|debian-reference.*zh", re.I)
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LETTER = re.compile(r"[^\W\d_]")
MIN_HAN = 1  # the GIMP help is mostly untranslated English: many pages hold a few Han characters only


def load_truth_module():
    spec = importlib.util.spec_from_file_location("dedup_truth", SHARED / "bench" / "dedup_truth.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def han_share(text: str) -> float:
    return len(HAN.findall(text)) / max(1, len(LETTER.findall(text)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("/tmp/yuliao-mixed"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    every = args.out / "extracted.jsonl"
    if not every.exists():
        warcs = sorted(str(p) for p in (SHARED / "corpora").glob("crawl-dev-*.warc.gz"))
        subprocess.run(
            [sys.executable, str(SHARED / "bench" / "extract_text.py"), str(every), *warcs], check=True
        )
    pages = []
    for line in every.read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        if ZH_URL.search(doc["url"]) and len(HAN.findall(doc["text"])) >= MIN_HAN:
            pages.append(doc)
    base = args.out / "mixed-base.jsonl"
    base.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in pages), encoding="utf-8")
    truth = load_truth_module()
    docs, npz = args.out / "mixed.jsonl", args.out / "mixed_truth.npz"
    truth.perturb(str(base), str(docs))
    truth.truth(str(docs), str(npz))
    shares = sorted(han_share(d["text"]) for d in pages)
    quart = [round(shares[int(q * (len(shares) - 1))], 3) for q in (0.0, 0.25, 0.5, 0.75, 1.0)]
    print(
        json.dumps({"pages": len(pages), "han_share_quartiles": quart, "docs": str(docs), "truth": str(npz)})
    )


if __name__ == "__main__":
    main()
