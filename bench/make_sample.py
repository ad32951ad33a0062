"""Cut the bundled demo/test sample out of the shared dev crawl (run by maintainers only).

The sample ships with the package so that `yuliao demo` and the tests never need
`../shared`. Records are copied byte-for-byte (WARC headers and HTTP payload), so the
GBK/GB18030 pages and meta-only charsets survive exactly as crawled.

Usage: python bench/make_sample.py ../shared/corpora pipeline/sample_data
(reads ../shared/bench for the planted near-copies of mirror.jsonl.gz)
"""

from __future__ import annotations

import glob
import os
import sys

from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

# (output file, predicate over URL, per-(host-group, content-type) cap).  Caps are chosen so
# that the whole sample stays well under 5 MB compressed while keeping every non-UTF-8 page
# kind present (see pipeline/sample_data/NOTICE.md).
HANDBOOK_LANGS = ("zh-CN", "zh-TW", "en-US", "fr-FR", "de-DE", "ja-JP", "ru-RU")


def _group(url: str, ctype: str) -> tuple[str, str] | None:
    if "docs.gimp.org" in url:
        return ("web-zh.warc.gz", f"gimp|{ctype}")
    if "www.debian.org/doc" in url:
        return ("web-zh.warc.gz", f"debref|{ctype}")
    if "debian-handbook.info" in url:
        lang = url.split("/")[4]
        if lang in HANDBOOK_LANGS:
            return ("handbook.warc.gz", f"hb-{lang}|{ctype}")
        return None
    if "docs.python.org" in url:
        return ("python-docs.warc.gz", "python")
    if "fortunes.example.org" in url:
        return ("poems.warc.gz", url.split("/")[3])
    return None


CAPS = {"gimp": 60, "debref": 1, "hb": 12, "python": 24, "tang300": 150, "song100": 60, "chinese": 90}


def _cap(key: str) -> int:
    head = key.split("|")[0].split("-")[0]
    return CAPS[head]


def main(src: str, out: str) -> None:
    os.makedirs(out, exist_ok=True)
    writers: dict[str, tuple] = {}
    counts: dict[str, int] = {}
    for path in sorted(glob.glob(os.path.join(src, "crawl-dev-*.warc.gz"))):
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_type != "response":
                    continue
                url = rec.rec_headers.get_header("WARC-Target-URI")
                ctype = rec.http_headers.get_header("Content-Type") or ""
                where = _group(url, ctype)
                if where is None:
                    continue
                fname, key = where
                if counts.get(key, 0) >= _cap(key):
                    continue
                if fname not in writers:
                    fo = open(os.path.join(out, fname), "wb")  # noqa: SIM115 (closed below)
                    writers[fname] = (fo, WARCWriter(fo, gzip=True))
                counts[key] = counts.get(key, 0) + 1
                writers[fname][1].write_record(rec)
    for fo, _ in writers.values():
        fo.close()
    for key in sorted(counts):
        print(f"{counts[key]:5d}  {key}")
    total = sum(os.path.getsize(os.path.join(out, f)) for f in writers)
    print(f"{sum(counts.values())} records, {total / 1e6:.2f} MB")


def make_mirror(bench: str, sample: str) -> None:
    """mirror.jsonl.gz: the dev dedup set's realistic near-copies of pages that are in the sample.

    These are the bench set's planted copies (new header/footer boilerplate, a line deleted and
    one inserted, punctuation width changes), so the demo has real near-duplicates to remove.
    """
    import gzip
    import json

    import numpy as np

    sample_urls = set()
    for path in glob.glob(os.path.join(sample, "*.warc.gz")):
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_type == "response":
                    sample_urls.add(rec.rec_headers.get_header("WARC-Target-URI"))
    docs = {}
    with gzip.open(os.path.join(bench, "dev_dedup.jsonl.gz"), "rt", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            docs[d["id"]] = d
    truth = np.load(os.path.join(bench, "dev_dedup_truth.npz"))
    ids = truth["ids"]
    planted = set()
    for r, c, j in zip(truth["r"], truth["c"], truth["j"], strict=True):
        for copy, orig in ((ids[r], ids[c]), (ids[c], ids[r])):
            if copy.startswith("p") and j >= 0.8 and docs[orig]["url"] in sample_urls:
                planted.add(str(copy))
    out = os.path.join(sample, "mirror.jsonl.gz")
    with gzip.GzipFile(out, "wb", mtime=0) as fo:
        for pid in sorted(planted):
            d = docs[pid]
            fo.write((json.dumps({"url": d["url"], "text": d["text"]}, ensure_ascii=False) + "\n").encode())
    print(f"{len(planted)} near-copies → {out}")


if __name__ == "__main__":
    corpora, sample_dir = sys.argv[1:3]
    main(corpora, sample_dir)
    make_mirror(os.path.join(os.path.dirname(corpora.rstrip("/")), "bench"), sample_dir)
