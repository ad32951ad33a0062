"""PII masking: typed placeholders (<EMAIL>, <PHONE>, …) and per-document counts per type.

Every type is a finder `(text, cfg) -> [(start, end)]` that proposes candidates with a
regex and then proves them (checksums, Luhn, `ipaddress`, calendar dates), because the
corpus is technical text full of look-alikes: version strings (1.2.3.4), dates
(2023-10-01), timestamps, hashes, prices.  Finders run in `PRIORITY` order and a span
already taken is not masked again, so 12345678@qq.com is one <EMAIL>, not a <QQ>.

Policy, decided for a corpus of software documentation and Chinese web text:

- Digit types (phone, ID, bank card, QQ, WeChat) are never looked for inside URLs:
  /article/13812345678.html is an article id.  E-mail and IP addresses inside URLs are
  masked: mailto:a@b.cn and http://58.217.200.13/ still point at someone.
- Only public IPs are masked by default (`ip_scope="public"`): private ranges, loopback,
  link-local and the documentation ranges (192.0.2.0/24, 2001:db8::/32) are shared by
  every network and fill manuals; IPv6 must be global unicast (2000::/3), which also keeps
  code such as `a::b` safe.  Well-known public resolvers (8.8.8.8, 114.114.114.114) are
  kept (`ip_allow`).  A dotted quad after "version", "版本", "v", "section" or "第" is a
  version or section number, and so is one that opens a line and ends in a dot
  ("12.1.1.1. RAID Levels").
- E-mail addresses at reserved domains (example.com, .test, .invalid, localhost), git@
  remotes and file names such as icon@2x.png are not personal and stay.
- QQ and WeChat ids are only masked after their keyword (QQ号：…, 加微信 …); elsewhere
  they are indistinguishable from any number or identifier.  Only the value is replaced,
  so "QQ：<QQ>" keeps the sentence readable.
- Phone numbers: Chinese mobile (1[3-9]x + 8 digits, optional +86/86/0086, spaces or
  dashes in 3-4-4 groups), landline with a real area code, a separator or parentheses and
  a local number starting 2-9 as all Chinese ones do (010-62345678, (0755)8123456), and
  international numbers only with a leading + and 9-15 digits.  Bank cards need a card-network first digit (2-6), 13-19 digits, plain or in
  groups of 4, and a valid Luhn digit (so 13-digit millisecond timestamps never match).

Counts go to one int32 column per enabled type, `pii_<type>`, which the report sums.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from datetime import date

import pyarrow as pa

from pipeline.config.pii import PiiConfig
from pipeline.steps import StepResult
from pipeline.steps.decode import split

STAGE = "pii"
COLUMN_PREFIX = "pii_"

PLACEHOLDERS = {
    "email": "<EMAIL>",
    "phone": "<PHONE>",
    "cn_id": "<CN_ID>",
    "ip": "<IP>",
    "bank_card": "<BANK_CARD>",
    "qq": "<QQ>",
    "wechat": "<WECHAT>",
}
# Contextual and checksummed types first: they explain a span better than a bare pattern.
PRIORITY = ["email", "wechat", "qq", "cn_id", "bank_card", "phone", "ip"]
IN_URL_OK = {"email", "ip"}

Span = tuple[int, int]
Finder = Callable[[str, PiiConfig], list[Span]]

_A = "A-Za-z0-9_"  # ASCII word characters: Chinese text sits right next to numbers
_URL = re.compile(
    r"(?:https?|ftp)://[^\s<>\"'\u2e80-\U0003ffff]+|www\.[^\s<>\"'\u2e80-\U0003ffff]+", re.IGNORECASE
)

# --- e-mail -------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9][A-Za-z0-9._%+-]{0,63})@"
    r"((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24}))(?![A-Za-z0-9-])"
)
_FILE_EXTENSIONS = {
    "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "js", "mjs", "ts", "css", "json", "html",
    "htm", "py", "md", "txt", "xml", "yml", "yaml", "lock", "map", "zip", "gz", "pdf",
}  # fmt: skip
_RESERVED_DOMAINS = re.compile(
    r"(?:^|\.)(?:example\.(?:com|net|org)|example|test|invalid|localhost|local)$", re.I
)


def find_email(text: str, cfg: PiiConfig) -> list[Span]:
    if "@" not in text:
        return []
    return [
        m.span()
        for m in _EMAIL.finditer(text)
        if m.group(3).lower() not in _FILE_EXTENSIONS
        and not _RESERVED_DOMAINS.search(m.group(2))
        and m.group(1).lower() != "git"
    ]


# --- phone --------------------------------------------------------------------------------

_NOT_AFTER = r"(?!\d)(?!\.\d)(?!%)"
_MOBILE = re.compile(
    rf"(?<![{_A}.+-])(?:(?:\+|00)86[ -]?|[(（]\+?86[)）] ?|86[ -])?1[3-9]\d(?:[ -]?\d{{4}}){{2}}{_NOT_AFTER}"
)
_AREA = r"0(?:10|2\d|[3-9]\d{2})"
_LANDLINE = re.compile(
    rf"(?<![{_A}.+-])(?:[(（]{_AREA}[)）] ?|{_AREA}[ -])[2-9]\d{{6,7}}(?:-\d{{1,5}})?(?![{_A}]){_NOT_AFTER}"
)
_INTERNATIONAL = re.compile(rf"(?<![{_A}+])\+[1-9]\d{{0,2}}(?:[ -]?\(?\d{{1,4}}\)?){{2,5}}{_NOT_AFTER}")


def find_phone(text: str, cfg: PiiConfig) -> list[Span]:
    spans = [m.span() for m in _MOBILE.finditer(text)]
    spans += [m.span() for m in _LANDLINE.finditer(text)]
    spans += [m.span() for m in _INTERNATIONAL.finditer(text) if 9 <= sum(map(str.isdigit, m.group())) <= 15]
    return spans


# --- Chinese resident ID ------------------------------------------------------------------

_PROVINCES = {
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41",
    "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71",
    "81", "82", "83", "91",
}  # fmt: skip
_ID18 = re.compile(rf"(?<![{_A}])[1-9]\d{{5}}(?:19|20)\d{{2}}[01]\d[0-3]\d\d{{3}}[\dXx](?![{_A}])")
_ID15 = re.compile(rf"(?<![{_A}])[1-9]\d{{5}}\d{{2}}[01]\d[0-3]\d\d{{3}}(?![{_A}])")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def _valid_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def valid_cn_id(s: str) -> bool:
    """18-char resident ID: known province, real birth date, ISO 7064 MOD 11-2 check character."""
    if len(s) != 18 or s[:2] not in _PROVINCES or not _valid_date(int(s[6:10]), int(s[10:12]), int(s[12:14])):
        return False
    total = sum(int(d) * w for d, w in zip(s[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == s[17].upper()


def valid_cn_id15(s: str) -> bool:
    """Pre-1999 15-digit ID: province and a 19YY birth date, no check digit."""
    return (
        len(s) == 15 and s[:2] in _PROVINCES and _valid_date(1900 + int(s[6:8]), int(s[8:10]), int(s[10:12]))
    )


def find_cn_id(text: str, cfg: PiiConfig) -> list[Span]:
    spans = [m.span() for m in _ID18.finditer(text) if valid_cn_id(m.group())]
    if cfg.cn_id_legacy:
        spans += [m.span() for m in _ID15.finditer(text) if valid_cn_id15(m.group())]
    return spans


# --- bank card ----------------------------------------------------------------------------

_CARD = re.compile(
    rf"(?<![{_A}.-])[2-6](?:\d{{12,18}}|\d{{3}}([ -])\d{{4}}(?:\1\d{{4}}){{1,2}}(?:\1\d{{1,4}})?"
    rf"|\d{{3}}[ -]\d{{6}}[ -]\d{{5}})(?![{_A}]){_NOT_AFTER}"
)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def find_bank_card(text: str, cfg: PiiConfig) -> list[Span]:
    spans = []
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            spans.append(m.span())
    return spans


# --- QQ and WeChat (only after their keyword; the value alone is masked) ------------------

_QQ = re.compile(
    r"(?<![A-Za-z])(?:QQ|扣扣|企鹅号)(?:号码|号|群号?)?(?:\s*[/／、]\s*(?:微信|wechat|vx|wx)号?)?"
    r"\s*(?:[:：]|是|为)?\s*([1-9]\d{4,11})(?!\d)",
    re.IGNORECASE,
)
_WECHAT = re.compile(
    r"(?:(?<![A-Za-z])(?:微信号?|微信\s*id|wechat(?:\s*id)?|weixin|vx|wx|v信)\s*[:：]\s*"
    r"|微信号\s*(?:是|为)?\s*"
    r"|加(?:我|个)?的?(?:微信|weixin|vx|wx|v信)\s*号?\s*[:：]?\s*"
    r"|加[vV]\s*[:：]\s*)"
    r"([A-Za-z][-_A-Za-z0-9]{5,19}|1[3-9]\d{9})(?![-_A-Za-z0-9])",
    re.IGNORECASE,
)


_QQ_KEYS = ("qq", "扣扣", "企鹅")
_WECHAT_KEYS = ("微信", "wechat", "weixin", "vx", "wx", "v信", "加v")


def _mentions(text: str, keys: tuple[str, ...]) -> bool:
    lower = text.lower()
    return any(k in lower for k in keys)


def find_qq(text: str, cfg: PiiConfig) -> list[Span]:
    if not _mentions(text, _QQ_KEYS):
        return []
    return [m.span(1) for m in _QQ.finditer(text)]


def find_wechat(text: str, cfg: PiiConfig) -> list[Span]:
    if not _mentions(text, _WECHAT_KEYS):
        return []
    return [m.span(1) for m in _WECHAT.finditer(text)]


# --- IP addresses -------------------------------------------------------------------------

_IPV4 = re.compile(rf"(?<![{_A}.])(?:\d{{1,3}}\.){{3}}\d{{1,3}}(?![{_A}])(?!\.\d)")
_IPV6 = re.compile(
    rf"(?<![{_A}:.])(?=[0-9A-Fa-f:]*[0-9A-Fa-f])(?:[0-9A-Fa-f]{{0,4}}:){{2,7}}[0-9A-Fa-f]{{0,4}}"
    rf"(?:\.\d{{1,3}}){{0,3}}(?![{_A}:])"
)
# a dotted quad after these words is a version or a section number, not an address
_NOT_IP_BEFORE = re.compile(
    r"(?:version|ver\.?|版本号?|release|build|内核|kernel|section|chapter|§|第|节|章|图|表|figure|table|step)"
    r"\s*[:：]?\s*$",
    re.IGNORECASE,
)
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")


def _is_masked_ip(candidate: str, cfg: PiiConfig) -> bool:
    try:
        addr = ipaddress.ip_address(candidate)
    except ValueError:
        return False
    if str(addr) in cfg.ip_allow:
        return False
    if cfg.ip_scope == "all":
        return True
    if addr.version == 6 and addr not in _GLOBAL_UNICAST:
        return False
    return addr.is_global


def _is_heading_number(text: str, m: re.Match) -> bool:
    """'12.1.1.1. Different RAID Levels': a section number opening a line, not an address."""
    at_line_start = m.start() == 0 or text[m.start() - 1] == "\n"
    return at_line_start and text[m.end() : m.end() + 1] == "."


def find_ip(text: str, cfg: PiiConfig) -> list[Span]:
    spans = [
        m.span()
        for m in _IPV4.finditer(text)
        if not _is_heading_number(text, m)
        and not _NOT_IP_BEFORE.search(text, max(0, m.start() - 16), m.start())
        and _is_masked_ip(m.group(), cfg)
    ]
    # an IPv6 address has "::" or 8 groups (6 + a dotted quad): "12:30:45" never reaches ipaddress
    v6 = (m for m in _IPV6.finditer(text) if "::" in m.group() or m.group().count(":") >= 6)
    return spans + [m.span() for m in v6 if _is_masked_ip(m.group(), cfg)]


FINDERS: dict[str, Finder] = {
    "email": find_email,
    "phone": find_phone,
    "cn_id": find_cn_id,
    "ip": find_ip,
    "bank_card": find_bank_card,
    "qq": find_qq,
    "wechat": find_wechat,
}


def enabled_types(cfg: PiiConfig) -> list[str]:
    """Enabled types in column order (that of PLACEHOLDERS)."""
    return [t for t in PLACEHOLDERS if getattr(cfg, t)]


def _overlaps(span: Span, taken: list[Span]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in taken)


def mask_text(text: str, cfg: PiiConfig) -> tuple[str, dict[str, int]]:
    """(text with PII replaced by placeholders, masked spans per enabled type)."""
    types = enabled_types(cfg)
    counts = dict.fromkeys(types, 0)
    urls = [m.span() for m in _URL.finditer(text)] if "://" in text or "www." in text.lower() else []
    taken: list[Span] = []
    found: list[tuple[int, int, str]] = []
    for kind in (t for t in PRIORITY if t in counts):
        for span in sorted(set(FINDERS[kind](text, cfg))):
            if _overlaps(span, taken) or (kind not in IN_URL_OK and _overlaps(span, urls)):
                continue
            taken.append(span)
            found.append((*span, kind))
            counts[kind] += 1
    if not found:
        return text, counts
    out, pos = [], 0
    for start, end, kind in sorted(found):
        out += [text[pos:start], PLACEHOLDERS[kind]]
        pos = end
    out.append(text[pos:])
    return "".join(out), counts


def mask_pii(batch: pa.Table, cfg: PiiConfig) -> StepResult:
    """Mask PII in `text`; add `pii_<type>` counts.  A document that cannot be masked is quarantined."""
    if not cfg.enabled:
        return StepResult.keep_all(batch)
    types = enabled_types(cfg)
    texts = batch.column("text").to_pylist()
    counts = {t: [0] * len(texts) for t in types}
    drops: dict[int, tuple[str, str]] = {}
    for i, text in enumerate(texts):
        try:
            texts[i], doc_counts = mask_text(text or "", cfg)
        except Exception as exc:  # never keep text we failed to mask
            drops[i] = ("quarantined", f"pii_error:{type(exc).__name__}")
            continue
        for t, n in doc_counts.items():
            counts[t][i] = n
    names = [COLUMN_PREFIX + t for t in types]
    out = batch.drop_columns([c for c in names if c in batch.column_names])
    out = out.set_column(out.schema.get_field_index("text"), "text", pa.array(texts, pa.string()))
    for t, name in zip(types, names, strict=True):
        out = out.append_column(name, pa.array(counts[t], pa.int32()))
    return split(out, drops, STAGE)
