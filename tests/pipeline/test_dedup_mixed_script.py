"""Near copies of English-heavy Chinese help pages (untranslated manuals, as the GIMP help is):
the default settings must find the pairs that plain char 5-grams call duplicates."""

import gzip
import json
import re
import unicodedata

from pipeline.config import DedupConfig
from pipeline.dedup.standalone import dedup_files
from pipeline.records import ledger
from tests.pipeline.test_dedup_data import SAMPLE, jaccard, write_docs

HAN = re.compile(r"[\u4e00-\u9fff]")
HEADERS = ["分享到：微博 微信 QQ空间", "上一篇 下一篇 返回顶部", "本文转载自网络，如有侵权请联系删除。"]


def char_jaccard(a: str, b: str) -> float:
    """The usual truth for near duplicates: char 5-grams of NFKC, lower-cased, space-collapsed text."""

    def grams(t: str) -> set[str]:
        t = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", t).lower()).strip()
        return {t[i : i + 5] for i in range(max(1, len(t) - 4))}

    x, y = grams(a), grams(b)
    return len(x & y) / len(x | y)


def help_pages() -> list[str]:
    """Short English help pages with a Chinese caption line: English sample text cut into pieces of
    three lines (short pages are where a Chinese share bar weighs most against word bigrams)."""
    with gzip.open(SAMPLE / "mirror.jsonl.gz", "rt", encoding="utf-8") as fh:
        texts = [json.loads(line)["text"] for line in fh]
    pages = []
    for text in texts:
        if HAN.search(text):
            continue
        lines = [ln.strip() for ln in text.split("\n") if len(ln.strip()) > 40]
        for k in range(0, len(lines) - 2, 3):
            body = "\n".join(lines[k : k + 3])
            if 300 < len(body) < 900:
                pages.append(f"图 {len(pages) + 1}. 帮助\n{body}")
    return pages


def mirror_copy(page: str, k: int) -> str:
    """A Chinese mirror's copy: its own boilerplate line on top and at the bottom."""
    return f"{HEADERS[k % 3]}\n{page}\n{HEADERS[(k + 1) % 3]}"


def test_english_heavy_chinese_pages_near_copies_are_found(tmp_path):
    pages = help_pages()[:60]
    docs = [{"id": f"d{k}", "text": p} for k, p in enumerate(pages)]
    copies = {f"c{k}": mirror_copy(p, k) for k, p in enumerate(pages)}
    true_pairs = {f"c{k}": f"d{k}" for k, p in enumerate(pages) if char_jaccard(p, copies[f"c{k}"]) >= 0.8}
    # the pages these settings exist for: duplicates by char 5-grams, far apart by word bigrams
    hard = [c for c, d in true_pairs.items() if jaccard(copies[c], pages[int(d[1:])]) < 0.75]
    assert len(pages) == 60 and len(true_pairs) >= 50 and len(hard) >= 15
    docs += [{"id": c, "text": t} for c, t in copies.items()]
    out = tmp_path / "out"
    dedup_files([write_docs(tmp_path / "in.jsonl", docs)], out, "id", "text", DedupConfig())

    rows = {r["id"]: r for r in ledger.read(out / "ledger").to_pylist()}
    removed = {i for i, r in rows.items() if r["decision"] == "duplicate"}
    found = {c for c, d in true_pairs.items() if c in removed or d in removed}
    assert found == set(true_pairs), f"missed {sorted(set(true_pairs) - found)}"
    # precision as the field scores it: each removed document has a kept one at char Jaccard >= 0.5
    text = {d["id"]: d["text"] for d in docs}
    kept = [i for i in text if i not in removed]
    assert all(any(char_jaccard(text[i], text[k]) >= 0.5 for k in kept) for i in removed)
