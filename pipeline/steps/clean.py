"""Unicode repair and normalisation, CJK punctuation width, optional Traditional → Simplified.

Order matters, and each part can be switched off (`CleanConfig`):

1. Mojibake repair (ftfy): UTF-8 read as Latin-1/Windows-1252 ("cafÃ©", "â€œ", "ä¸­æ–‡")
   is fixed before anything else touches those characters.  ftfy's width folding, quote
   uncurling, HTML unescaping and normalisation are off: they would undo the choices below
   (“” and full-width punctuation are real Chinese text), and extraction already unescaped
   HTML.  GBK read as Latin-1 ("ÖÐÎÄ") is beyond ftfy and is left alone: choosing charsets
   is the decode step's job.
2. NFKC folds full-width Latin/digits (common in Chinese text: "ＡＢＣ１２３" → "ABC123") so the
   tokenizer and dedup see one form.  It also folds Chinese punctuation ，：；？！（） and …
   to ASCII, which step 4 undoes.
3. Control and invisible characters are removed: they carry no text but split tokens and
   defeat exact dedup.
4. Punctuation policy (`punctuation`):
   - cjk_fullwidth: a run of , : ; ? ! touching a CJK character (Han, kana, CJK or
     full-width punctuation) on either side becomes ，：；？！; "..." / "......" touching
     one becomes … / ……; a ( ) pair becomes （ ） when the character before "(" is CJK, or
     the one after ")" is and "(" does not follow an ASCII letter/digit (so `foo(x)返回`
     stays a call).  "a, b", "3,000", "12:30", "C:\\", and everything inside URLs are
     untouched.  Hangul is not CJK here: Korean uses ASCII punctuation.
   - halfwidth: full-width punctuation with an ASCII twin (，：（ …) becomes ASCII
     everywhere; marks without one (。、「」《》) stay.
   - keep: whatever step 2 produced.
5. Whitespace: runs of spaces/tabs/NBSP/U+3000 become one space, lines are trimmed, and
   paragraph breaks (one blank line) are kept since they are real document structure.

Traditional → Simplified (`t2s`, off by default) runs last and only on documents whose Han
characters are mostly Traditional (a sample is converted both ways and the direction that
changes more characters wins), never on Japanese.  The column `text_original_script`
("hant" = converted, "hans", None = no Chinese) records it rather than a copy of the
original text: that would double every converted document in the shards for a rarely
needed value, and the original stays in the crawl under the same stable `id`.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import ftfy
import pyarrow as pa

from pipeline.config.clean import CleanConfig
from pipeline.steps import StepResult
from pipeline.steps.decode import split

STAGE = "clean"
SCRIPT_COLUMN = "text_original_script"


def _invisible_chars() -> dict[int, None]:
    cps = [c for c in range(0x20) if c not in (0x09, 0x0A)]  # C0 except \t \n (\r handled first)
    cps += list(range(0x7F, 0xA0))  # DEL + C1
    cps += [0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0xFEFF]  # zero-width, LRM/RLM, BOM
    cps += list(range(0x202A, 0x202F)) + list(range(0x2066, 0x206A))  # bidi embeddings/isolates
    return dict.fromkeys(cps)


_REMOVE = _invisible_chars()
# str.translate looks every character up in a dict (~0.1 µs a char); one regex scan finds
# the rare text that has something to remove.
_REMOVE_RE = re.compile("[" + "".join(re.escape(chr(cp)) for cp in _REMOVE) + "]")
_NEWLINES = re.compile(r"\r\n?|[\u2028\u0085]")
_PARAGRAPH_SEP = "\u2029"
# Runs of whitespace other than newline (spaces, tabs, NBSP, U+3000…) become one space.
# Most texts have no whitespace but " " and "\n"; for them only runs of spaces need work
# (matching every word gap cost ~4M replacements per 25M characters for nothing).
_HSPACE = re.compile(r"[^\S\n]+")
_ODD_SPACE = re.compile(r"[^\S\n ]")
_SPACE_RUN = re.compile(r"  +")
_BLANK_LINES = re.compile(r"\n{3,}")

# --- 1. mojibake -------------------------------------------------------------------------

_FTFY = ftfy.TextFixerConfig(
    unescape_html=False,
    fix_latin_ligatures=False,  # NFKC's call
    fix_character_width=False,  # would fold full-width CJK punctuation behind our back
    uncurl_quotes=False,  # “” ‘’ are correct Chinese (and English) quotes
    fix_line_breaks=False,  # done here
    remove_control_chars=False,  # done here, configurable
    normalization=None,  # unicode_form decides
    explain=False,
)
# UTF-8 mis-decoded as Latin-1/cp1252 always shows a lead byte as U+00C2..U+00F4; C1
# controls, ESC (terminal escapes) and lone surrogates are ftfy's other repairs.  Only lines
# with one of them go through ftfy, which costs ~30 µs a line: ftfy fixes a text line by line
# anyway (each segment on its own, "\n" included), so handing it just those lines gives the
# same result, and accented European text, where most lines have none, costs a third.
_MAYBE_MOJIBAKE = re.compile(r"[\x80-\xff\x1b\ud800-\udfff]")


def fix_mojibake(text: str) -> str:
    if not _MAYBE_MOJIBAKE.search(text):
        return text
    lines = text.split("\n")
    last = len(lines) - 1
    for i, line in enumerate(lines):
        if _MAYBE_MOJIBAKE.search(line):
            if i < last:  # the segment ftfy would see ends with its newline
                fixed = ftfy.fix_text(line + "\n", _FTFY)
                lines[i] = fixed[:-1] if fixed.endswith("\n") else fixed
            else:
                lines[i] = ftfy.fix_text(line, _FTFY)
    return "\n".join(lines)


# --- 4. punctuation ----------------------------------------------------------------------

_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_KANA = r"\u3040-\u30ff\u31f0-\u31ff"
_CJK_CHARS = _HAN + _KANA + r"\u3100-\u312f\u31a0-\u31bf\u3000-\u303f\uff01-\uff65\u2026"
_CJK = re.compile(f"[{_CJK_CHARS}]")
_URL = re.compile(rf"(?:https?|ftp)://[^\s<>\"'{_CJK_CHARS}]+|www\.[^\s<>\"'{_CJK_CHARS}]+")
_URL_TAIL = ".,;:!?)]}'\""
_PUNCT_RUN = re.compile(r"[,:;?!]+")
_DOTS = re.compile(r"(?<!\.)(?:\.{6}|\.{3})(?!\.)")
_PAREN_PAIR = re.compile(r"\(([^()\n]{1,200})\)")
_TO_FULL = str.maketrans(",:;?!()", "，：；？！（）")
_TO_HALF = {cp: chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F) if not chr(cp).isalnum()}
_TO_HALF[0x2026] = "..."


def _is_cjk(ch: str) -> bool:
    return bool(ch) and _CJK.match(ch) is not None


def _is_ascii_word(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


def _neighbours(m: re.Match) -> tuple[str, str]:
    text = m.string
    return (text[m.start() - 1] if m.start() else ""), (text[m.end()] if m.end() < len(text) else "")


def _to_full(m: re.Match) -> str:
    before, after = _neighbours(m)
    return m.group().translate(_TO_FULL) if _is_cjk(before) or _is_cjk(after) else m.group()


def _to_ellipsis(m: re.Match) -> str:
    before, after = _neighbours(m)
    return "…" * (len(m.group()) // 3) if _is_cjk(before) or _is_cjk(after) else m.group()


def _to_full_parens(m: re.Match) -> str:
    before, after = _neighbours(m)
    if _is_cjk(before) or (_is_cjk(after) and not _is_ascii_word(before)):
        return f"（{m.group(1)}）"
    return m.group()


def _fullwidth_run(text: str) -> str:
    text = _PUNCT_RUN.sub(_to_full, text)
    text = _DOTS.sub(_to_ellipsis, text)
    return _PAREN_PAIR.sub(_to_full_parens, text)  # last: a converted ， or ： next to it is context


def _url_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in _URL.finditer(text):
        end = m.end()
        while end > m.start() and text[end - 1] in _URL_TAIL:
            end -= 1
        spans.append((m.start(), end))
    return spans


def cjk_fullwidth(text: str) -> str:
    """ASCII , : ; ? ! ( ) ... touching CJK text → full-width (see module docstring)."""
    if text.isascii() or not _CJK.search(text):
        return text
    out, pos = [], 0
    for start, end in _url_spans(text):
        out += [_fullwidth_run(text[pos:start]), text[start:end]]
        pos = end
    out.append(_fullwidth_run(text[pos:]))
    return "".join(out)


def halfwidth(text: str) -> str:
    """Full-width punctuation with an ASCII twin → ASCII."""
    return text.translate(_TO_HALF)


# --- t2s ---------------------------------------------------------------------------------

T2S_SAMPLE_CHARS = 2000  # Han characters compared; enough to tell the variants apart
_HAN_CHAR = re.compile(f"[{_HAN}]")
_KANA_CHAR = re.compile(f"[{_KANA}]")
JAPANESE_KANA_SHARE = 0.1  # kana / (Han + kana) above this is Japanese, not Chinese


@cache
def _opencc(config: str):
    import opencc

    return opencc.OpenCC(config)


def _changed(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b, strict=False)) + abs(len(a) - len(b))


def han_script(text: str) -> str | None:
    """'hant' / 'hans' by which OpenCC direction rewrites more of a Han sample; None if not Chinese.

    Comparing both directions (not testing t2s for zero changes) matters: s2t also rewrites
    some shared characters (台 → 臺), and t2s some variants, so only the balance is evidence.
    """
    window = text[: T2S_SAMPLE_CHARS * 20]
    han = _HAN_CHAR.findall(window)
    if not han:
        return None
    kana = len(_KANA_CHAR.findall(window))
    if kana >= JAPANESE_KANA_SHARE * (len(han) + kana):
        return None
    sample = "".join(han[:T2S_SAMPLE_CHARS])
    traditional = _changed(sample, _opencc("t2s").convert(sample))
    simplified = _changed(sample, _opencc("s2t").convert(sample))
    return "hant" if traditional > simplified else "hans"


def to_simplified(text: str, config: str = "t2s") -> tuple[str, str | None]:
    """(text, original script): Traditional documents converted with OpenCC `config`."""
    script = han_script(text)
    if script == "hant":
        text = _opencc(config).convert(text)
    return text, script


# --- the step ----------------------------------------------------------------------------


def clean_text(text: str, cfg: CleanConfig) -> str:
    """Normalise one document; '' means nothing visible was left."""
    if "\r" in text or "\u2028" in text or "\x85" in text:
        text = _NEWLINES.sub("\n", text)
    text = text.replace(_PARAGRAPH_SEP, "\n\n")
    if cfg.fix_mojibake:
        text = fix_mojibake(text)
    if cfg.unicode_form != "none":
        text = unicodedata.normalize(cfg.unicode_form, text)
    if cfg.strip_control_chars and _REMOVE_RE.search(text):
        text = _REMOVE_RE.sub("", text)
    if cfg.punctuation == "cjk_fullwidth":
        text = cjk_fullwidth(text)
    elif cfg.punctuation == "halfwidth":
        text = halfwidth(text)
    if cfg.normalize_whitespace:
        text = (_HSPACE if _ODD_SPACE.search(text) else _SPACE_RUN).sub(" ", text)
        # spaces next to a newline go (those at the ends go with the final strip)
        text = "\n".join(line.strip(" ") for line in text.split("\n"))
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def clean(batch: pa.Table, cfg: CleanConfig) -> StepResult:
    """Clean every `text`; drop documents left empty; with `t2s`, add `text_original_script`."""
    texts = batch.column("text").to_pylist()
    scripts: list[str | None] = [None] * len(texts)
    drops: dict[int, tuple[str, str]] = {}
    for i, text in enumerate(texts):
        try:
            cleaned = clean_text(text or "", cfg)
            if cfg.t2s:
                cleaned, scripts[i] = to_simplified(cleaned, cfg.t2s_config)
        except Exception as exc:  # a bad record must not take the partition down
            drops[i] = ("quarantined", f"clean_error:{type(exc).__name__}")
            continue
        texts[i] = cleaned
        if not cleaned:
            drops[i] = ("filtered", "empty_after_clean")
    out = batch.set_column(batch.schema.get_field_index("text"), "text", pa.array(texts, pa.string()))
    if cfg.t2s:
        out = _with_column(out, SCRIPT_COLUMN, pa.array(scripts, pa.string()))
    return split(out, drops, STAGE)


def _with_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    i = table.schema.get_field_index(name)
    return table.set_column(i, name, values) if i >= 0 else table.append_column(name, values)
