"""Writing-system evidence for language id: letters per script, Han variant, code-likeness.

Most languages are settled by their script alone (Hangul is Korean, kana means Japanese,
Greek is Greek), and zh-Hans vs zh-Hant is a question of which characters are used, which a
language model trained on one "Chinese" does not answer.  These helpers are plain regex and
OpenCC work, so the statistical model only sees text whose script leaves a real choice.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache, lru_cache

import numpy as np

# ISO 15924 code → code point ranges of its letters (the blocks that matter on the web).
_RANGES: dict[str, tuple[tuple[int, int], ...]] = {
    "Latn": ((0x41, 0x5A), (0x61, 0x7A), (0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0x24F), (0x1E00, 0x1EFF)),
    "Cyrl": ((0x400, 0x52F),),
    "Grek": ((0x370, 0x3FF), (0x1F00, 0x1FFF)),
    "Arab": ((0x600, 0x6FF), (0x750, 0x77F), (0x8A0, 0x8FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)),
    "Hebr": ((0x590, 0x5FF),),
    "Hani": ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F)),
    "Kana": ((0x3040, 0x309F), (0x30A0, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9D)),
    "Hang": ((0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF)),
    "Thai": ((0xE00, 0xE7F),),
    "Deva": ((0x900, 0x97F),),
    "Beng": ((0x980, 0x9FF),),
    "Guru": ((0xA00, 0xA7F),),
    "Gujr": ((0xA80, 0xAFF),),
    "Taml": ((0xB80, 0xBFF),),
    "Telu": ((0xC00, 0xC7F),),
    "Armn": ((0x530, 0x58F),),
    "Geor": ((0x10A0, 0x10FF),),
}
_NAMES = tuple(_RANGES)


def _char_class(ranges: tuple[tuple[int, int], ...]) -> str:
    return "".join(f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in ranges)


_PATTERNS = {name: re.compile(f"[{_char_class(ranges)}]") for name, ranges in _RANGES.items()}
# Whole whitespace-separated tokens with a letter of the script (see `in_script`).
_TOKENS = {name: re.compile(rf"(?<!\S)\S*[{_char_class(r)}]\S*") for name, r in _RANGES.items()}
_HAN_RUNS = re.compile(f"[{_char_class(_RANGES['Hani'])}]+")

# Code point → script in one vectorised lookup: the ranges' edges in order; a code point's
# insertion point among them indexes `_SLOT`, the script's position in `_NAMES` (len(_NAMES)
# for code points between ranges, which are no script's letters).
_SPANS = sorted((lo, hi, i) for i, ranges in enumerate(_RANGES.values()) for lo, hi in ranges)
_EDGES = np.array([edge for lo, hi, _ in _SPANS for edge in (lo, hi + 1)], dtype=np.uint32)
_SLOT = np.array([len(_NAMES)] + [slot for _, _, i in _SPANS for slot in (i, len(_NAMES))], dtype=np.intp)
# The Latin letters among the first 256 code points: text that encodes as Latin-1 (English and
# most Western European text) is counted with one byte-level deletion, no per-script lookup.
_LATIN1_LETTERS = bytes(c for lo, hi in _RANGES["Latn"] for c in range(lo, min(hi, 0xFF) + 1))

# A Han character, kana or Hangul syllable carries about as much text as three Latin letters
# (parallel text is ~3x longer in English than in Chinese), so letter counts are weighted
# when deciding which script dominates a mixed paragraph and whether it is long enough.
DENSE = {"Hani": 3, "Kana": 3, "Hang": 3}

# Share of kana among Han + kana above which CJK text is Japanese: Japanese prose is ~30-40%
# kana, while Chinese uses kana only in quoted names and the odd stylistic の.
JAPANESE_KANA_SHARE = 0.1


def _latin1(text: str) -> bytes | None:
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return None


def letter_counts(text: str) -> dict[str, int]:
    """Letters per script (only scripts present), e.g. {"Latn": 120, "Hani": 40}."""
    if (raw := _latin1(text)) is not None:
        n = len(raw) - len(raw.translate(None, _LATIN1_LETTERS))
        return {"Latn": n} if n else {}
    points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    counts = np.bincount(_SLOT[np.searchsorted(_EDGES, points, side="right")], minlength=len(_NAMES) + 1)
    return {_NAMES[i]: int(counts[i]) for i in np.flatnonzero(counts[: len(_NAMES)])}


def line_letter_counts(lines: list[str]) -> list[dict[str, int]]:
    """`letter_counts` of each line, in one vectorised pass over a document's lines."""
    text = "\n".join(lines)
    if len(lines) == 1 or _latin1(text) is not None:  # the byte-level count is cheaper here
        return [letter_counts(line) for line in lines]
    slots = _SLOT[
        np.searchsorted(_EDGES, np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32), side="right")
    ]
    lengths = np.fromiter(map(len, lines), dtype=np.intp, count=len(lines))
    ends = np.cumsum(lengths + 1) - 1  # each line's end (its "\n") in `text`
    starts = ends - lengths
    out: list[dict[str, int]] = [{} for _ in lines]
    for slot in np.flatnonzero(np.bincount(slots, minlength=len(_NAMES) + 1)[: len(_NAMES)]):
        seen = np.concatenate(([0], np.cumsum(slots == slot)))
        per_line = seen[ends] - seen[starts]
        name = _NAMES[slot]
        for i in np.flatnonzero(per_line):
            out[i][name] = int(per_line[i])
    return out


def weighted(counts: dict[str, int]) -> dict[str, int]:
    """Letter counts with dense scripts (Han, kana, Hangul) weighted by `DENSE`."""
    return {name: n * DENSE.get(name, 1) for name, n in counts.items()}


def dominant(counts: dict[str, int]) -> str | None:
    """The script with most weighted letters, Han and kana counted together as CJK.

    Returns "Jpan" for CJK text with enough kana, "Hani" for CJK text without, else the
    ISO 15924 code of the winning script; None when there are no letters at all.
    """
    w = weighted(counts)
    cjk = w.pop("Hani", 0) + w.pop("Kana", 0)
    if cjk:
        w["CJK"] = cjk
    if not w:
        return None
    best = max(w, key=lambda k: (w[k], k))  # ties broken by name: deterministic
    if best != "CJK":
        return best
    han, kana = counts.get("Hani", 0), counts.get("Kana", 0)
    return "Jpan" if kana >= JAPANESE_KANA_SHARE * (han + kana) else "Hani"


@cache
def _converters():
    import opencc

    # t2s: what no simplified text writes; s2t, then its Taiwan and Hong Kong forms (t2tw, t2hk
    # of s2t's output are s2tw and s2hk at a fraction of the cost): what no traditional standard
    # writes (s2t alone rewrites 台, 群, 峰, which Taiwan or Hong Kong write as they are).
    return tuple(opencc.OpenCC(name) for name in ("t2s", "s2t", "t2tw", "t2hk"))


def han_text(text: str) -> str:
    """The Han characters of `text`, one run per line: all that zh-Hans vs zh-Hant depends on."""
    return "\n".join(_HAN_RUNS.findall(text))


def han_evidence(text: str) -> tuple[int, int]:
    """(traditional, simplified) characters in `text`'s Han runs, by OpenCC's phrase-aware rewrites.

    A character is traditional evidence when t2s rewrites it, simplified evidence when s2t,
    s2tw and s2hk all rewrite it; characters shared by both varieties are neither.  Only the
    Han runs are converted, so English, code and punctuation around them weigh nothing.
    """
    han = han_text(text)
    if not han:
        return 0, 0
    to_simplified, to_traditional, to_taiwan, to_hong_kong = _converters()
    traditional = to_traditional.convert(han)
    forms = [
        to_simplified.convert(han),
        traditional,
        to_taiwan.convert(traditional),
        to_hong_kong.convert(traditional),
    ]
    if all(len(form) == len(han) for form in forms):  # OpenCC keeps lengths: compare position by position
        points = np.frombuffer(han.encode("utf-32-le"), dtype=np.uint32)
        changed = [np.frombuffer(form.encode("utf-32-le"), dtype=np.uint32) != points for form in forms]
        return int(changed[0].sum()), int((changed[1] & changed[2] & changed[3]).sum())
    chars = Counter(han)
    removed = [chars - Counter(form) for form in forms]
    return removed[0].total(), (removed[1] & removed[2] & removed[3]).total()


def han_variant(text: str) -> str:
    """ "Hant" or "Hans" for the Han text in `text`: whichever has more evidence (`han_evidence`).

    Ties, including text made only of characters common to both, are "Hans", the far more
    common variety on the web.
    """
    traditional, simplified = han_evidence(text)
    return "Hant" if traditional > simplified else "Hans"


# A whitespace-separated token is code, not prose, when it contains characters that words
# do not (paths, options, assignments, placeholders, markup), a digit, or an inner dot
# (file and host names).  Hyphens and apostrophes inside words are prose.
_CODE_TOKEN = re.compile(r"[/\\=_{}\[\]<>|@#$%^*~`+]|\d|^-|::|\w\.\w")
_PUNCT = ".,;:!?()\"'“”«»„‘’"
# Tokens up to this long have their `is_prose` verdict remembered (web text repeats its words;
# the bound keeps the memo's memory small whatever the input).
_MEMO_TOKEN_CHARS = 40


def is_prose(token: str) -> bool:
    """Whether a token is language evidence: not code (`_CODE_TOKEN`), not an ACRONYM."""
    if _CODE_TOKEN.search(token):
        return False
    word = token.strip(_PUNCT)
    return not (len(word) > 1 and word.isupper())


_is_prose_memo = lru_cache(maxsize=1 << 16)(is_prose)


def prose(text: str) -> tuple[str, float]:
    """(`text` without its code-like tokens and acronyms, share of tokens kept)."""
    tokens = text.split()
    memo = _is_prose_memo
    kept = [t for t in tokens if (memo(t) if len(t) <= _MEMO_TOKEN_CHARS else is_prose(t))]
    return " ".join(kept), len(kept) / len(tokens) if tokens else 0.0


def in_script(text: str, script: str) -> str:
    """The tokens of `text` that have letters of `script`: what a model for it should see."""
    return " ".join(_TOKENS[script].findall(text))
