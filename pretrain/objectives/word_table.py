"""Word starts for whole-word masking (MLM) and XLNet's word-level spans.

The best source is the token shards' optional `word_starts` column, written by tokenization from
jieba's segmentation (Chinese-BERT-wwm masks jieba words).  Without it, word starts are derived
from the byte-level BPE vocabulary alone:

* a token whose first byte is whitespace ("Ġ", "Ċ", ... or SentencePiece's "▁") starts an
  English-style word;
* every CJK character is a word of its own: a token starting with a CJK character starts a word,
  and so does the token after one that ends a CJK character;
* special tokens (EOS between documents, <cls>, <sep>, ...) are words of their own;
* a token starting with a UTF-8 continuation byte (the middle of a character) never starts one.

The derivation is two lookup tables over the vocabulary, so it vectorises over a batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

_SPACE = b" \t\n\r\x0b\x0c"


@lru_cache(maxsize=1)
def _unicode_to_byte() -> dict[str, int]:
    """Inverse of GPT-2's bytes_to_unicode: the character byte-level BPE uses for each byte."""
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs, strict=True)}


def token_bytes(piece: str) -> bytes:
    """Raw bytes of a byte-level BPE piece ("▁" of SentencePiece counts as a space)."""
    table = _unicode_to_byte()
    out = bytearray()
    for ch in piece:
        if ch == "▁":
            out += b" "
        elif ch in table:
            out.append(table[ch])
        else:
            out += ch.encode("utf-8")
    return bytes(out)


def _is_cjk(cp: int) -> bool:
    return (
        0x2E80 <= cp <= 0x9FFF  # radicals, CJK punctuation, kana, CJK ext A, unified ideographs
        or 0xF900 <= cp <= 0xFAFF  # compatibility ideographs
        or 0xFF00 <= cp <= 0xFFEF  # full-width forms (，！？)
        or 0x20000 <= cp <= 0x3FFFF  # ext B and beyond
    )


def _char_len(lead: int) -> int:
    return 1 if lead < 0x80 else 2 if lead >> 5 == 0b110 else 3 if lead >> 4 == 0b1110 else 4


def _first_char_cjk(b: bytes) -> bool:
    n = _char_len(b[0])
    if n < 3:
        return False
    if len(b) >= n:
        try:
            return _is_cjk(ord(b[:n].decode("utf-8")))
        except UnicodeDecodeError:
            return False
    return (
        0xE2 <= b[0] <= 0xE9 or b[0] == 0xEF or b[0] == 0xF0
    )  # an incomplete character: judge by its lead byte


def _ends_cjk(b: bytes) -> bool:
    """The piece ends exactly at the end of a CJK character."""
    leads = [i for i, x in enumerate(b) if not 0x80 <= x <= 0xBF]
    if not leads:
        return True  # only continuation bytes: the tail of a character begun in the previous piece
    i = leads[-1]
    n = _char_len(b[i])
    if i + n != len(b) or n < 3:
        return False
    try:
        return _is_cjk(ord(b[i:].decode("utf-8")))
    except UnicodeDecodeError:
        return False


@dataclass(frozen=True)
class WordTable:
    """Per vocabulary id: opens a word / closes a CJK character / starts mid-character / is special."""

    opens: np.ndarray  # [V] bool
    closes: np.ndarray  # [V] bool
    inside: np.ndarray  # [V] bool: first byte is a UTF-8 continuation byte
    special: np.ndarray  # [V] bool

    @classmethod
    def from_pieces(cls, pieces: list[str], special_ids: np.ndarray) -> WordTable:
        v = len(pieces)
        opens, closes, inside = np.zeros(v, bool), np.zeros(v, bool), np.zeros(v, bool)
        for i, piece in enumerate(pieces):
            b = token_bytes(piece or "")
            if not b:
                continue
            inside[i] = 0x80 <= b[0] <= 0xBF
            opens[i] = b[0] in _SPACE or _first_char_cjk(b)
            closes[i] = _ends_cjk(b)
        special = np.zeros(v, bool)
        special[special_ids[special_ids < v]] = True
        return cls(opens=opens, closes=closes, inside=inside, special=special)

    @classmethod
    def from_tokenizer(cls, tokenizer: Any, special_ids: np.ndarray) -> WordTable:
        pieces = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
        return cls.from_pieces([p or "" for p in pieces], special_ids)

    def starts(self, tokens: np.ndarray) -> np.ndarray:
        """tokens [B, L] -> bool [B, L]: True where a word starts (position 0 always)."""
        t = np.asarray(tokens)
        out = self.opens[t] | self.special[t]
        prev = t[:, :-1]
        out[:, 1:] |= (self.closes[prev] & ~self.inside[t[:, 1:]]) | self.special[prev]
        out[:, 0] = True
        return out
