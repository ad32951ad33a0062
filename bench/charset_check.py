"""Charset check over the dev crawl: do the GBK/GB18030 pages decode to exactly their text?

The dev crawl (../shared/bench/make_corpus.py) re-encoded ~120 Chinese pages from UTF-8 to
GBK or GB18030, rewriting their `<meta charset>`, and served about a third with a bare
`Content-Type: text/html` (charset only in `<meta>`).  So for each of them the true encoding
is the declared GB one, and the true text is the payload decoded strictly with it.  This
script finds them (header or `<meta>`/XML declaration), runs them through the reader and
`steps.decode`, and counts:
  * pages whose text has U+FFFD, or mojibake markers (锟斤拷: UTF-8 U+FFFD read as GBK;
    Ã / â€: UTF-8 read as windows-1252),
  * pages whose text differs from the true text,
  * pages whose bytes do not come back from the text (re-encoding with the true codec),
  * cross-check: the same URL served as UTF-8 elsewhere in the crawl (the page's original),
    compared after undoing the charset label rewrite.
It also counts U+FFFD / mojibake over every other page, and which codecs were chosen.

Usage: python bench/charset_check.py [WARC ...]   (default ../shared/corpora/crawl-dev-*.warc.gz)
"""

from __future__ import annotations

import collections
import glob
import re
import sys
import time
from pathlib import Path

from pipeline.io.readers import read_partition
from pipeline.steps.decode import _CHARSET_PARAM, decode, normalize_charset, sniff_declared

REPO = Path(__file__).resolve().parents[1]
DEFAULT = str(REPO.parent / "shared" / "corpora" / "crawl-dev-*.warc.gz")
MOJIBAKE = ("锟斤拷", "Ã", "â€")
GB = ("gbk", "gb2312", "gb18030", "x-gbk", "cp936")
_LABEL = re.compile(r"charset=(gbk|gb18030|gb2312)", re.I)


def gb_label(content_type: str | None, payload: bytes) -> tuple[str | None, str]:
    """(declared GB label, 'header' | 'meta') or (None, '')."""
    header = _CHARSET_PARAM.search(content_type or "")
    if header and header.group(1).lower() in GB:
        return header.group(1).lower(), "header"
    for label in sniff_declared(payload):
        if label.lower() in GB:
            return label.lower(), "meta"
    return None, ""


def strict_utf8(payload: bytes) -> str | None:
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return None


def main(paths: list[str]) -> int:
    counts: collections.Counter[str] = collections.Counter()
    chosen: collections.Counter[str] = collections.Counter()
    failures: list[str] = []
    utf8_by_url: dict[str, str] = {}
    gb_pages: dict[str, str] = {}  # url → decoded text, for the cross-check
    t0 = time.perf_counter()
    for path in paths:
        raw = read_partition(path, "dev", "warc").batch
        counts["records"] += raw.num_rows
        decoded = {r["id"]: r for r in decode(raw).kept.select(["id", "text", "charset"]).to_pylist()}
        for rec in raw.select(["id", "url", "content_type", "payload"]).to_pylist():
            out = decoded.get(rec["id"])
            if out is None:
                counts["dropped_by_decode"] += 1
                continue
            text, charset = out["text"], out["charset"]
            chosen[charset] += 1
            label, where = gb_label(rec["content_type"], rec["payload"])
            if label is None:
                counts["other_pages"] += 1
                # a marker that is in the page's own (valid UTF-8) bytes is its author's, not ours
                in_source = strict_utf8(rec["payload"]) == text
                for name, hit in (("fffd", "\ufffd" in text), ("mojibake", any(m in text for m in MOJIBAKE))):
                    counts[f"other_{name}"] += hit
                    counts[f"other_{name}_in_source"] += hit and in_source
                if charset == "utf-8":
                    utf8_by_url[rec["url"]] = text
                continue
            counts["gb_pages"] += 1
            counts[f"gb_by_{where}"] += 1
            counts[f"gb_label_{label}"] += 1
            true_codec = normalize_charset(label) or label
            true_text = rec["payload"].decode(label)  # strict: the page was made with this codec
            problems = []
            if charset != "gb18030":
                problems.append(f"charset={charset}")
            if "\ufffd" in text:
                problems.append("U+FFFD")
            if any(m in text for m in MOJIBAKE):
                problems.append("mojibake")
            if text != true_text:
                problems.append("differs_from_true_text")
            if text.encode(true_codec) != rec["payload"]:
                problems.append("no_round_trip")
            for p in problems:
                counts[f"gb_{p.split('=')[0]}"] += 1
            if problems:
                failures.append(f"{rec['url']}: {', '.join(problems)}")
            else:
                counts["gb_ok"] += 1
            gb_pages[rec["url"]] = text
    for url, text in gb_pages.items():  # the page's UTF-8 original, if the crawl also has it
        if url in utf8_by_url:
            counts["crosscheck_pairs"] += 1
            original = _LABEL.sub("charset=utf-8", text)
            counts["crosscheck_equal"] += original == utf8_by_url[url]

    print(f"files: {len(paths)}  records: {counts['records']}  ({time.perf_counter() - t0:.1f} s)")
    print(
        f"GB pages: {counts['gb_pages']}  (charset in header: {counts['gb_by_header']}, "
        f"meta-only: {counts['gb_by_meta']}; labels gbk {counts['gb_label_gbk']}, "
        f"gb18030 {counts['gb_label_gb18030']}, gb2312 {counts['gb_label_gb2312']})"
    )
    print(
        f"  decoded as gb18030: {counts['gb_pages'] - counts['gb_charset']}  "
        f"with U+FFFD: {counts['gb_U+FFFD']}  with mojibake: {counts['gb_mojibake']}  "
        f"text != true text: {counts['gb_differs_from_true_text']}  "
        f"bytes do not round-trip: {counts['gb_no_round_trip']}  all checks pass: {counts['gb_ok']}"
    )
    print(
        f"  cross-check with the same URL's UTF-8 original: {counts['crosscheck_pairs']} pairs in the crawl, "
        f"{counts['crosscheck_equal']} equal"
    )
    print(
        f"other pages: {counts['other_pages']}  with U+FFFD: {counts['other_fffd']} "
        f"({counts['other_fffd_in_source']} already in the page's UTF-8 bytes)  "
        f"with mojibake markers: {counts['other_mojibake']} ({counts['other_mojibake_in_source']} in the bytes)  "
        f"dropped by decode: {counts['dropped_by_decode']}"
    )
    print("codecs chosen:", dict(chosen.most_common()))
    for line in failures[:20]:
        print("  FAIL", line)
    introduced = counts["other_fffd"] - counts["other_fffd_in_source"]
    introduced += counts["other_mojibake"] - counts["other_mojibake_in_source"]
    return 1 if failures or introduced or counts["gb_pages"] == 0 else 0


if __name__ == "__main__":
    args = sys.argv[1:] or sorted(glob.glob(DEFAULT))
    if not args:
        sys.exit(f"no WARC files (looked for {DEFAULT})")
    sys.exit(main(args))
