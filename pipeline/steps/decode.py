"""Decode raw HTTP payloads to text: the one place where bytes become `str`.

Chinese pages are still commonly served as GBK/GB18030, often with the charset only in a
`<meta>` tag behind a bare `Content-Type: text/html` header, so the charset is taken from,
in order: a byte-order mark, the HTTP header, the document itself (`<meta charset>`,
`<meta http-equiv>`, `<?xml encoding=?>`) in the first 4 KB, strict UTF-8, charset-normalizer
detection, and finally the first declared charset (else UTF-8) with replacement characters.
A declared charset is only used if the payload decodes under it without errors, so a lying
header falls through to the next source instead of producing mojibake.

Single-byte Latin labels (ISO-8859-1, windows-1252) decode *any* bytes, so for non-ASCII
pages they are tried last among declared charsets, after strict UTF-8: a server default of
`charset=ISO-8859-1` in front of a page whose `<meta>` says GB18030 (common on Chinese
sites) must not win, whatever the header-first rule of browsers says.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer
import pyarrow as pa

from pipeline.config.read import TEXT_MIME
from pipeline.io.payload import HTML_MIME, looks_binary, mime_type
from pipeline.records import ledger
from pipeline.steps import StepResult

STAGE = "decode"
SNIFF_BYTES = 4096
DETECT_BYTES = 65536  # charset-normalizer gets at most this much (cost grows with size)


# Superset encodings decode everything their subsets do, plus what real pages labelled with
# the subset contain anyway (GBK pages with GB18030-only characters, Big5 with HKSCS).
# Latin-1/ASCII labels mean windows-1252 on the web (WHATWG Encoding Standard).
_SUPERSETS = {
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "big5": "big5hkscs",
    "cp950": "big5hkscs",
    "iso8859-1": "cp1252",
    "ascii": "cp1252",
}
_EXTRA_LABELS = {"x-gbk": "gbk", "x-sjis": "shift_jis", "x-euc-jp": "euc_jp", "unicode-1-1-utf-8": "utf-8"}
# single-byte labels that every byte string "decodes" under: a page that is valid,
# non-ASCII UTF-8 is far more likely mislabelled than genuinely windows-1252
_ALWAYS_DECODES = {"cp1252", "iso8859-15", "latin-1"}

# without a BOM these are only ever detector false positives, and they turn short junk into
# plausible-looking Han characters
_NO_BOM_UNICODE = ["utf_16", "utf_16_be", "utf_16_le", "utf_32", "utf_32_be", "utf_32_le"]

_CHARSET_PARAM = re.compile(r"charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)
_META_CHARSET = re.compile(rb"<meta\b[^>]*?charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)
_XML_ENCODING = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']([\w.:-]+)", re.I)
_HTML_START = re.compile(rb"^\s*(<!doctype\s+html|<html|<head|<\?xml)", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig", "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32", "utf-32"),  # before UTF-16 LE: same first two bytes
    (codecs.BOM_UTF32_BE, "utf-32", "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16", "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "utf-16"),
)


def normalize_charset(label: str | None) -> str | None:
    """Python codec name for a charset label (None if unknown), widened to its superset."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _EXTRA_LABELS.get(label, label)
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return _SUPERSETS.get(name, name)


def sniff_declared(payload: bytes) -> list[str]:
    """Charsets declared inside the document (meta tags, XML declaration), in order.

    A document whose own markup is readable as ASCII cannot be UTF-16/32, so those labels
    mean UTF-8 here (as browsers treat them, per the WHATWG HTML spec).
    """
    head = payload[:SNIFF_BYTES]
    found = [m.group(1).decode("ascii", "replace") for m in _META_CHARSET.finditer(head)]
    found += [m.group(1).decode("ascii", "replace") for m in _XML_ENCODING.finditer(head)]
    return ["utf-8" if f.lower().startswith(("utf-16", "utf-32", "utf16", "utf32")) else f for f in found]


def decode_payload(payload: bytes, content_type: str | None, is_html: bool = True) -> tuple[str, str]:
    """Bytes → (text, codec name used); never raises on undecodable bytes."""
    for bom, codec, name in _BOMS:
        if payload.startswith(bom):
            return payload.decode(codec, "replace"), name
    header = _CHARSET_PARAM.search(content_type or "")
    labels = [header.group(1)] if header else []
    if is_html:
        labels += sniff_declared(payload)
    declared = list(dict.fromkeys(c for c in map(normalize_charset, labels) if c))
    utf8 = _strict(payload, "utf-8")
    generic = [c for c in declared if c in _ALWAYS_DECODES and not payload.isascii()]
    for charset in declared:
        if charset in generic:
            continue  # says nothing about non-ASCII bytes: after specific labels and UTF-8
        text = _strict(payload, charset)
        if text is not None:
            return text, charset
    if utf8 is not None:
        return utf8, "utf-8"
    for charset in generic:
        text = _strict(payload, charset)
        if text is not None:
            return text, charset
    guess = _detect(payload)
    if guess is not None:
        return payload.decode(guess, "replace"), guess
    fallback = declared[0] if declared else "utf-8"
    return payload.decode(fallback, "replace"), fallback


def _strict(payload: bytes, charset: str) -> str | None:
    try:
        return payload.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return None


def _detect(payload: bytes) -> str | None:
    sample = payload[:DETECT_BYTES]
    if len(payload) > DETECT_BYTES and (cut := sample.rfind(b"\n")) > 0:
        sample = sample[:cut]  # don't hand the detector a multi-byte character cut in half
    best = charset_normalizer.from_bytes(sample, cp_exclusion=_NO_BOM_UNICODE).best()
    return normalize_charset(best.encoding) if best is not None else None


def classify(payload: bytes, content_type: str | None) -> tuple[bool, bool]:
    """(is_text, is_html) from the MIME type, sniffing the bytes when there is none.

    Known binary signatures (PNG, PDF, zip, ...) are not text whatever the label says:
    servers send images as text/html more often than one would hope.
    """
    if looks_binary(payload[:SNIFF_BYTES]):
        return False, False
    mime = mime_type(content_type)
    if mime is None:
        return True, bool(_HTML_START.match(payload[:SNIFF_BYTES]))
    return mime in TEXT_MIME, mime in HTML_MIME


def decode(batch: pa.Table) -> StepResult:
    """Fill `text` from `payload`; add `charset` and `is_html`; drop `payload`."""
    payloads = batch.column("payload").to_pylist()
    ctypes = batch.column("content_type").to_pylist()
    texts = batch.column("text").to_pylist()
    n = batch.num_rows
    charsets: list[str | None] = [None] * n
    is_html = [False] * n
    drops: dict[int, tuple[str, str]] = {}
    for i, (payload, ctype) in enumerate(zip(payloads, ctypes, strict=True)):
        if payload is None:  # JSONL/Parquet rows are already text
            is_html[i] = mime_type(ctype) in HTML_MIME
            if texts[i] is None:
                drops[i] = ("filtered", "no_payload")
            continue
        try:
            is_text, is_html[i] = classify(payload, ctype)
            if not is_text:
                drops[i] = ("filtered", "non_text_payload")
                continue
            texts[i], charsets[i] = decode_payload(payload, ctype, is_html[i])
        except Exception as exc:  # a bad record must not take the partition down
            drops[i] = ("quarantined", f"decode_error:{type(exc).__name__}")
    out = batch.drop_columns(["payload"])
    out = out.set_column(out.schema.get_field_index("text"), "text", pa.array(texts, pa.string()))
    out = out.append_column("charset", pa.array(charsets, pa.string()))
    out = out.append_column("is_html", pa.array(is_html, pa.bool_()))
    return split(out, drops, STAGE)


def split(batch: pa.Table, drops: dict[int, tuple[str, str]], stage: str) -> StepResult:
    """Keep rows not in `drops` ({row: (decision, reason)}); ledger rows for the others."""
    if not drops:
        return StepResult.keep_all(batch)
    keep = pa.array([i not in drops for i in range(batch.num_rows)], pa.bool_())
    ids = batch.column("id").to_pylist()
    sources = batch.column("source").to_pylist()
    nbytes = batch.column("bytes").to_pylist()
    tables = []
    for decision in ledger.DECISIONS:
        rows = [i for i, (d, _) in sorted(drops.items()) if d == decision]
        if rows:
            tables.append(
                ledger.rows(
                    [ids[i] for i in rows],
                    [sources[i] for i in rows],
                    stage,
                    decision,
                    [drops[i][1] for i in rows],
                    nbytes=[nbytes[i] for i in rows],
                )
            )
    return StepResult(batch.filter(keep), ledger.concat(tables))
