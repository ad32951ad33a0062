"""What counts as a CJK character: exactly BERT's `_is_chinese_char` ranges (also HF's BertNormalizer).

One definition for the `char` kind's vocabulary, BPE's optional per-character pre-split, word
boundaries and the tests, so "every CJK character is one token" means the same thing everywhere.
Kana and Hangul are not in it (BERT does not split them either).
"""

from __future__ import annotations

import re

RANGES: tuple[tuple[int, int], ...] = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)

# Oniguruma syntax (HF tokenizers' Regex): \x{HHHH} escapes inside a class.
ONIG_CLASS = "[" + "".join(f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in RANGES) + "]"
# Python `re` class with the characters themselves.
_PY_CLASS = "[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in RANGES) + "]"
CJK_RE = re.compile(_PY_CLASS)
CJK_RUN_RE = re.compile(_PY_CLASS + "+")


def is_cjk(ch: str) -> bool:
    """True for one character in BERT's CJK ranges."""
    o = ord(ch)
    return any(a <= o <= b for a, b in RANGES)


def cjk_share(text: str) -> float:
    """Fraction of characters that are CJK (0 for empty text)."""
    return len(CJK_RE.findall(text)) / len(text) if text else 0.0
