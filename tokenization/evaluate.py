"""Held-out figures for a tokenizer: compression on zh and en text, 通用规范汉字表 coverage, round trips.

Documents are classed as the peer bench does (`../shared/bench/peer_tokenizers.py`): zh when over
30% of characters are in U+4E00..U+9FFF, en when ASCII-only; so Yuliao's and the peers' figures are
over the same documents.  Every function takes plain callables or a `tokenizers.Tokenizer`, so the
SentencePiece side (`spm_compare.py`) reports through the same code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from tokenization import special_tokens as st
from tokenization.cjk import CJK_RE
from tokenization.common_hanzi import LEVEL1

_PEER_CJK = re.compile(r"[\u4e00-\u9fff]")
_BATCH = 256
# The report's cost must not grow with the corpus: it runs at the end of every training.  Its
# compression figures use the zh and en held-out documents, in order, up to this many UTF-8
# bytes each (bytes/token over 4 MB is stable to the third decimal), and its checks (round trip,
# [UNK], CJK splits) also run over this much of the other languages' documents.  Before these
# budgets the report encoded all of them: 1.65 MB of held-out text (94 % neither zh nor en) and
# 0.9 s after a 17 s training on the bench, 5 % of the whole command.
REPORT_BYTES_PER_LANGUAGE = 4 << 20
REPORT_OTHER_BYTES = 256 << 10


def classify(text: str) -> str | None:
    """'zh', 'en' or None, by the peer bench's rule."""
    if len(_PEER_CJK.findall(text)) > 0.3 * len(text):
        return "zh"
    if not _PEER_CJK.search(text) and text.isascii():
        return "en"
    return None


def compression(count_tokens: Callable[[list[str]], int], texts: Sequence[str]) -> dict[str, Any]:
    """Bytes per token and tokens per character over `texts` (sums, not a mean of ratios)."""
    tokens = sum(count_tokens(list(texts[i : i + _BATCH])) for i in range(0, len(texts), _BATCH))
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    chars = sum(len(t) for t in texts)
    return {
        "docs": len(texts),
        "bytes": n_bytes,
        "chars": chars,
        "tokens": tokens,
        "bytes_per_token": round(n_bytes / tokens, 4) if tokens else None,
        "tokens_per_char": round(tokens / chars, 4) if chars else None,
    }


def coverage(is_single_token: Callable[[str], bool], chars: str = LEVEL1) -> dict[str, Any]:
    """How many of the 3,500 level-1 characters are one vocabulary token each."""
    return coverage_of([is_single_token(c) for c in chars], chars)


def coverage_of(single: Sequence[bool], chars: str = LEVEL1) -> dict[str, Any]:
    """`coverage` from precomputed flags, one per character of `chars`."""
    missing = [c for c, ok in zip(chars, single, strict=True) if not ok]
    return {
        "chars": len(chars),
        "single_token": len(chars) - len(missing),
        "share": round(1 - len(missing) / len(chars), 4),
        "missing_first": "".join(missing[:40]),
    }


def by_language(texts: Sequence[str]) -> dict[str, list[str]]:
    """The report's documents: zh and en (the figures) and other (checks only), within budgets."""
    budget = {"zh": REPORT_BYTES_PER_LANGUAGE, "en": REPORT_BYTES_PER_LANGUAGE, "other": REPORT_OTHER_BYTES}
    out: dict[str, list[str]] = {"zh": [], "en": [], "other": []}
    for t in texts:
        lang = classify(t) or "other"
        size = len(t.encode("utf-8"))
        if size <= budget[lang]:
            out[lang].append(t)
            budget[lang] -= size
    return out


def _violations(text: str, offsets) -> int:
    return sum(1 for s, e in offsets if e - s > 1 and CJK_RE.search(text, s, e))


def cjk_split_violations(tok, texts: Sequence[str]) -> int:
    """Tokens whose span holds a CJK character together with anything else (must be 0 for `char`)."""
    bad = 0
    for i in range(0, len(texts), _BATCH):
        chunk = list(texts[i : i + _BATCH])
        encs = tok.encode_batch(chunk, add_special_tokens=False)
        bad += sum(_violations(t, e.offsets) for t, e in zip(chunk, encs, strict=True))
    return bad


def tokenizer_report(tok, heldout: Sequence[str], kind: str) -> dict[str, Any]:
    """The report section for a trained `tokenizers.Tokenizer` (held-out texts never trained on).

    The report's documents (`by_language`) are encoded once; compression, round trips, [UNK]s and
    CJK splits all come from those encodings.
    """
    tok.encode_special_tokens = True  # literal "</s>" in a document is text, as in encoding
    langs = by_language(heldout)
    checked = [t for texts in langs.values() for t in texts]
    n_tokens: dict[str, int] = {}
    round_trip_bad = unk = total = violations = 0
    for i in range(0, len(checked), _BATCH):
        chunk = checked[i : i + _BATCH]
        encs = tok.encode_batch(chunk, add_special_tokens=False)
        ids = [e.ids for e in encs]
        for text, e in zip(chunk, encs, strict=True):
            n_tokens[text] = len(e.ids)
        if kind == "bpe":
            decoded = tok.decode_batch(ids, skip_special_tokens=False)
            round_trip_bad += sum(d != t for d, t in zip(decoded, chunk, strict=True))
        else:
            unk += sum(x.count(st.UNK_ID) for x in ids)
            total += sum(map(len, ids))
            violations += sum(_violations(t, e.offsets) for t, e in zip(chunk, encs, strict=True))

    def count(batch: list[str]) -> int:
        return sum(n_tokens[t] for t in batch)

    report: dict[str, Any] = {lang: compression(count, langs[lang]) for lang in ("zh", "en")}
    singles = [
        len(e.ids) == 1 and e.ids[0] != st.UNK_ID
        for e in tok.encode_batch(list(LEVEL1), add_special_tokens=False)
    ]
    report["tgh_level1_coverage"] = coverage_of(singles)
    if kind == "bpe":
        report["round_trip_failures"] = round_trip_bad
    else:
        report["unk_tokens"] = unk
        report["unk_share"] = round(unk / max(1, total), 6)
        report["cjk_split_violations"] = violations
    report["heldout_docs"] = len(heldout)
    report["checked_docs"] = len(checked)
    return report


def format_side_by_side(report: dict[str, Any]) -> str:
    """Plain-text table: one column per tokenizer in the report."""
    names = [n for n in report if isinstance(report[n], dict) and "tgh_level1_coverage" in report[n]]
    rows = [
        ("bytes/token zh", lambda r: r["zh"]["bytes_per_token"]),
        ("bytes/token en", lambda r: r["en"]["bytes_per_token"]),
        ("tokens/char zh", lambda r: r["zh"]["tokens_per_char"]),
        ("tokens/char en", lambda r: r["en"]["tokens_per_char"]),
        ("TGH level-1 coverage", lambda r: r["tgh_level1_coverage"]["share"]),
    ]
    lines = [f"{'':<22}" + "".join(f"{n:>20}" for n in names)]
    for label, get in rows:
        cells = []
        for n in names:
            try:
                v = get(report[n])
            except (KeyError, TypeError):
                v = None
            cells.append(f"{'-' if v is None else v:>20}")
        lines.append(f"{label:<22}" + "".join(cells))
    return "\n".join(lines)
