"""What kind of bytes a record holds: document text, or something we must not decode.

Readers use this to drop images, PDFs and archives before their bytes are kept (so a crawl
full of binaries costs no memory), and `steps.decode` uses it again for rows that had no
headers.  Servers mislabel content, so the first bytes are sniffed for well-known binary
signatures even when the declared type says text.
"""

from __future__ import annotations

import codecs

from pipeline.config.read import TEXT_MIME

HTML_MIME = frozenset({"text/html", "application/xhtml+xml"})

SNIFF_BYTES = 1024

# Leading bytes of common binary formats (file(1)/WHATWG MIME sniffing tables).  Only
# signatures that real text cannot start with: no "BM", "MZ" or bare "ID";
# formats starting with NUL (ico, wasm, TrueType) are caught by the NUL rule.
_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",  # JPEG
    b"GIF87a",
    b"GIF89a",
    b"%PDF-",
    b"PK\x03\x04",  # zip, docx, xlsx, epub, jar
    b"\x1f\x8b\x08",  # gzip
    b"(\xb5/\xfd",  # zstd
    b"BZh91AY&SY",  # bzip2
    b"\xfd7zXZ\x00",  # xz
    b"7z\xbc\xaf\x27\x1c",
    b"Rar!\x1a\x07",
    b"RIFF",  # webp, wav, avi
    b"OggS",
    b"ID3\x03",
    b"ID3\x04",  # mp3 with ID3v2
    b"\x1aE\xdf\xa3",  # webm/mkv
    b"wOFF",
    b"wOF2",
    b"\x7fELF",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",  # OLE: doc, xls, msi
)
_UTF16_32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def mime_type(content_type: str | None) -> str | None:
    """`text/html; charset=gbk` → `text/html` (None when absent)."""
    if not content_type:
        return None
    return content_type.split(";", 1)[0].strip().lower() or None


def is_text_mime(content_type: str | None) -> bool:
    return mime_type(content_type) in TEXT_MIME


def looks_binary(head: bytes) -> bool:
    """True when the first bytes are a known binary signature or contain NUL.

    NUL never occurs in text in an 8-bit or multi-byte web encoding; UTF-16/32 text (which
    is full of NULs) is only accepted with its byte-order mark.
    """
    head = head[:SNIFF_BYTES]
    if head.startswith(_MAGIC) or head[4:12] in (b"ftypisom", b"ftypmp42", b"ftypM4A ", b"ftypheic"):
        return True
    return b"\x00" in head and not head.startswith(_UTF16_32_BOMS)
