"""Unicode and whitespace normalisation.

NFKC folds full-width Latin/digits (common in Chinese text: "ＡＢＣ１２３" → "ABC123") so the
tokenizer and dedup see one form.  Control and invisible characters are removed because
they carry no text but split tokens and defeat exact dedup.  Paragraph breaks are kept
(blank line between paragraphs) since they are real document structure.
"""

from __future__ import annotations

import re
import unicodedata

import pyarrow as pa

from pipeline.config import CleanConfig
from pipeline.steps import StepResult
from pipeline.steps.decode import split

STAGE = "clean"


def _invisible_chars() -> dict[int, None]:
    cps = [c for c in range(0x20) if c not in (0x09, 0x0A)]  # C0 except \t \n (\r handled first)
    cps += list(range(0x7F, 0xA0))  # DEL + C1
    cps += [0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0xFEFF]  # zero-width, LRM/RLM, BOM
    cps += list(range(0x202A, 0x202F)) + list(range(0x2066, 0x206A))  # bidi embeddings/isolates
    return dict.fromkeys(cps)


_REMOVE = _invisible_chars()
_NEWLINES = re.compile(r"\r\n?|[\u2028\u0085]")
_PARAGRAPH_SEP = "\u2029"
_HSPACE = re.compile(r"[^\S\n]+")  # any whitespace except newline: spaces, tabs, NBSP, U+3000…
_LINE_EDGE_SPACE = re.compile(r" *\n *")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(text: str, cfg: CleanConfig) -> str:
    """Normalise one document; '' means nothing visible was left."""
    text = _NEWLINES.sub("\n", text).replace(_PARAGRAPH_SEP, "\n\n")
    if cfg.unicode_form != "none":
        text = unicodedata.normalize(cfg.unicode_form, text)
    if cfg.strip_control_chars:
        text = text.translate(_REMOVE)
    if cfg.normalize_whitespace:
        text = _HSPACE.sub(" ", text)
        text = _LINE_EDGE_SPACE.sub("\n", text)
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def clean(batch: pa.Table, cfg: CleanConfig) -> StepResult:
    texts = batch.column("text").to_pylist()
    drops: dict[int, tuple[str, str]] = {}
    for i, text in enumerate(texts):
        texts[i] = clean_text(text or "", cfg)
        if not texts[i]:
            drops[i] = ("filtered", "empty_after_clean")
    out = batch.set_column(batch.schema.get_field_index("text"), "text", pa.array(texts, pa.string()))
    return split(out, drops, STAGE)
