"""Writing-system evidence for language id: letters per script, Han variant, code-likeness.

Most languages are settled by their script alone (Hangul is Korean, kana means Japanese,
Greek is Greek), and zh-Hans vs zh-Hant is a question of which characters are used, which a
language model trained on one "Chinese" does not answer.  These helpers are plain regex and
OpenCC work, so the statistical model only sees text whose script leaves a real choice.
"""

from __future__ import annotations

import re
from functools import cache

# ISO 15924 code → character class of its letters (the blocks that matter on the web).
_RANGES: dict[str, str] = {
    "Latn": r"A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff",
    "Cyrl": r"\u0400-\u052f",
    "Grek": r"\u0370-\u03ff\u1f00-\u1fff",
    "Arab": r"\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff",
    "Hebr": r"\u0590-\u05ff",
    "Hani": r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f",
    "Kana": r"\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9d",
    "Hang": r"\u1100-\u11ff\u3130-\u318f\uac00-\ud7af",
    "Thai": r"\u0e00-\u0e7f",
    "Deva": r"\u0900-\u097f",
    "Beng": r"\u0980-\u09ff",
    "Guru": r"\u0a00-\u0a7f",
    "Gujr": r"\u0a80-\u0aff",
    "Taml": r"\u0b80-\u0bff",
    "Telu": r"\u0c00-\u0c7f",
    "Armn": r"\u0530-\u058f",
    "Geor": r"\u10a0-\u10ff",
}
_PATTERNS = {name: re.compile(f"[{chars}]") for name, chars in _RANGES.items()}

# A Han character, kana or Hangul syllable carries about as much text as three Latin letters
# (parallel text is ~3x longer in English than in Chinese), so letter counts are weighted
# when deciding which script dominates a mixed paragraph and whether it is long enough.
DENSE = {"Hani": 3, "Kana": 3, "Hang": 3}

# Share of kana among Han + kana above which CJK text is Japanese: Japanese prose is ~30-40%
# kana, while Chinese uses kana only in quoted names and the odd stylistic の.
JAPANESE_KANA_SHARE = 0.1


def letter_counts(text: str) -> dict[str, int]:
    """Letters per script (only scripts present), e.g. {"Latn": 120, "Hani": 40}."""
    if text.isascii():  # most web text: one pattern instead of all
        n = len(_PATTERNS["Latn"].findall(text))
        return {"Latn": n} if n else {}
    counts = {}
    for name, pattern in _PATTERNS.items():
        n = len(pattern.findall(text))
        if n:
            counts[name] = n
    return counts


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

    return opencc.OpenCC("s2t"), opencc.OpenCC("t2s")


def _changed(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b, strict=False)) + abs(len(a) - len(b))


def han_variant(text: str) -> str:
    """ "Hant" or "Hans" by character evidence: which OpenCC conversion changes more.

    Characters that t2s rewrites are traditional forms; characters that s2t rewrites are
    simplified forms (plus a few shared ones s2t normalises, e.g. 台→臺, which is why the
    counts are compared rather than tested for zero).  Ties, including text made only of
    characters common to both, are "Hans", the far more common variety on the web.
    """
    if not _PATTERNS["Hani"].search(text):
        return "Hans"
    s2t, t2s = _converters()
    simplified = _changed(text, s2t.convert(text))
    traditional = _changed(text, t2s.convert(text))
    return "Hant" if traditional > simplified else "Hans"


# A whitespace-separated token is code, not prose, when it contains characters that words
# do not (paths, options, assignments, placeholders, markup), a digit, or an inner dot
# (file and host names).  Hyphens and apostrophes inside words are prose.
_CODE_TOKEN = re.compile(r"[/\\=_{}\[\]<>|@#$%^*~`+]|\d|^-|::|\w\.\w")
_PUNCT = ".,;:!?()\"'“”«»„‘’"


def is_prose(token: str) -> bool:
    """Whether a token is language evidence: not code (`_CODE_TOKEN`), not an ACRONYM."""
    if _CODE_TOKEN.search(token):
        return False
    word = token.strip(_PUNCT)
    return not (len(word) > 1 and word.isupper())


def prose(text: str) -> tuple[str, float]:
    """(`text` without its code-like tokens and acronyms, share of tokens kept)."""
    tokens = text.split()
    kept = [t for t in tokens if is_prose(t)]
    return " ".join(kept), len(kept) / len(tokens) if tokens else 0.0


def in_script(text: str, script: str) -> str:
    """The tokens of `text` that have letters of `script`: what a model for it should see."""
    pattern = _PATTERNS[script]
    return " ".join(t for t in text.split() if pattern.search(t))
