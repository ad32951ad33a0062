"""Cut the bundled demo/test sample out of the shared dev crawl (run by maintainers only).

The sample ships with the package so that `yuliao demo` and the tests never need
`../shared`. Records are copied byte-for-byte (WARC headers and HTTP payload), so the
GBK/GB18030 pages and meta-only charsets survive exactly as crawled.

Usage: python bench/make_sample.py ../shared/corpora pipeline/sample_data
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
                    fo = open(os.path.join(out, fname), "wb")
                    writers[fname] = (fo, WARCWriter(fo, gzip=True))
                counts[key] = counts.get(key, 0) + 1
                writers[fname][1].write_record(rec)
    for fo, _ in writers.values():
        fo.close()
    for key in sorted(counts):
        print(f"{counts[key]:5d}  {key}")
    total = sum(os.path.getsize(os.path.join(out, f)) for f in writers)
    print(f"{sum(counts.values())} records, {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main(*sys.argv[1:])
