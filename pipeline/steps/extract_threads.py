"""Thread pages: readability's main block, turned into the bodies of the posts it belongs to.

readability keeps one block and its high-scoring siblings.  On a forum thread each post is its
own block with a user panel, so it keeps one post (Discuz!, vBulletin, XenForo, a table per
post), or a post's header when the panel outscores a short post, and drops the replies; or it
keeps the whole post list with every user panel and the thread's buttons (phpBB, Tieba,
Discourse).  Here the block it chose is located in the page; if it sits in, or spans, records
that repeat as siblings of one tag, class and inner shape, the page is a thread and its text is
every record's body.  A manual's sibling sections repeat the same way and have no user panel to
drop: readability's missing sections are added whole.  Articles do not repeat like that, and a
comment list beside an article is not the article's sibling, so comments stay out.

Everything here is linear in the page's elements times its nesting, which the caller bounds.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator

from lxml import etree
from lxml.html import HtmlElement

_DIGITS = re.compile(r"\d")

MIN_LINE = 10  # readability's lines shorter than this are too common to locate its block by
MAX_LINES = 100  # readability's lines looked up in the page (an even sample of them)
MAX_LEVELS = 12  # readability's text sits at most this many levels below the repeating record
SHAPE_DEPTH = 6  # records are compared on their first levels: user panel, header, body, footer
SIMILAR = 0.5  # Jaccard of two records' shapes for them to be posts of one list
GAIN = 1.25  # the records must hold this many times readability's text to be worth widening to
MIN_SHAPE = 4  # distinct descendant paths of a record: fewer is a paragraph, not a post
MIN_NARROW = 3  # records readability's text must span to be narrowed to their bodies
NARROW_COVER = 0.8  # share of readability's text inside the records for narrowing
MIN_RECORD_CHARS = 25  # mean non-link characters per record: rows of a data table hold less
BODY_SHARE = 0.5  # a record's body is its deepest part holding this share of its non-link text
CHROME_CHARS = 150  # non-link characters a record may have outside its body: user, date, signature
CHROME_LINKS = 0.2  # share of links in a record outside its body: names, counts, buttons
CHROME_PARTS = 2  # parts of a record outside its body, as a user panel and a date line


def _norm(text: str) -> str:
    return " ".join(text.split())


def signature(el: HtmlElement) -> str:
    """Tag plus first class (alternating `bg1`/`bg2`, `odd`/`even` come later), else a numbered id's stem."""
    classes = (el.get("class") or "").split()
    if classes:
        return f"{el.tag}.{classes[0]}"
    ident = el.get("id") or ""
    return f"{el.tag}#{_DIGITS.sub('', ident)}" if _DIGITS.search(ident) else str(el.tag)


def _children(el: HtmlElement) -> Iterator[HtmlElement]:
    return (ch for ch in el if isinstance(ch.tag, str))


def shape(el: HtmlElement, depth: int = SHAPE_DEPTH) -> set[str]:
    """Signature paths of `el`'s descendants down to `depth` levels."""
    out: set[str] = set()
    stack = [(el, "", 0)]
    while stack:
        node, path, d = stack.pop()
        if d < depth:
            for ch in _children(node):
                sub = f"{path}/{signature(ch)}"
                out.add(sub)
                stack.append((ch, sub, d + 1))
    return out


def _similar(a: set[str], b: set[str]) -> bool:
    union = len(a | b)
    return not union or len(a & b) / union >= SIMILAR


def _text_chars(el: HtmlElement) -> tuple[int, int]:
    """(characters, characters outside links) of `el`'s text, whitespace runs counting one."""
    text = len(_norm(el.text_content()))
    return text, max(text - sum(len(_norm(a.text_content())) for a in el.iter("a")), 0)


def nonlink_chars(el: HtmlElement) -> int:
    return _text_chars(el)[1]


def _lines(text: str) -> list[str]:
    return [line for line in map(_norm, text.splitlines()) if len(line) >= MIN_LINE]


def _sample(lines: list[str]) -> list[str]:
    """Every k-th line if more than `MAX_LINES`: each is looked up in candidate records' text,
    so their number bounds that cost; an even sample keeps the shares."""
    return lines[:: -(-len(lines) // MAX_LINES)] if len(lines) > MAX_LINES else lines


def locate(root: HtmlElement, lines: list[str]) -> HtmlElement | None:
    """The element holding the page's longest text node that readability's lines contain."""
    kept = "\n".join(lines)
    # plain strings: no element proxy per text node; the one found is looked up once
    texts = [t for t in root.xpath(".//text()", smart_strings=False) if len(t) >= MIN_LINE]
    texts.sort(key=len, reverse=True)  # stable: document order among equals
    for text in texts[:50]:
        if _norm(text) in kept:
            return root.xpath(".//text()[. = $t]/..", t=text)[0]
    return None


def _covered(lines: list[str], text: str) -> int:
    """Characters of `lines` found in `text`."""
    return sum(len(line) for line in lines if line in text)


def thread_posts(root: HtmlElement, main_text: str) -> list[HtmlElement] | None:
    """The elements whose text replaces readability's `main_text`, if the page is a thread."""
    found = _thread_records(root, main_text)
    if found is None:
        return None
    records, widened = found
    posts = _bodies(records)
    if posts is not None:
        return posts
    return records if widened else None  # narrowing without chrome to drop would only lose text


def _thread_records(root: HtmlElement, main_text: str) -> tuple[list[HtmlElement], bool] | None:
    """The repeating records (posts) readability's text sits in, and whether it kept one of them.

    Widen: readability's text lies mostly in one record and its look-alike siblings hold `GAIN`
    times as much.  Narrow: it spans at least `MIN_NARROW` look-alikes and little else, so the
    records' bodies drop the user panels and thread chrome around them.  Of the levels that
    qualify, the one with the most records wins (posts outnumber a post's rows).
    """
    every = _lines(main_text)
    kept = sum(map(len, every))
    node = locate(root, every) if kept else None
    lines = _sample(every)
    best: tuple[tuple[int, int], list[HtmlElement], bool] | None = None
    for _ in range(MAX_LEVELS):
        parent = node.getparent() if node is not None else None
        if node is None or parent is None or node is root:
            break
        sig = signature(node)
        mates = [ch for ch in _children(parent) if signature(ch) == sig]
        found = _records(node, mates, lines, kept) if len(mates) > 1 else None
        if found is not None and (best is None or found[0] > best[0]):
            best = found
        node = parent
    return best[1:] if best else None


def _records(
    node: HtmlElement, mates: list[HtmlElement], lines: list[str], kept: int
) -> tuple[tuple[int, int], list[HtmlElement], bool] | None:
    """(rank, records, widened) if `node` and its look-alike `mates` are posts holding readability's
    text (`kept` characters, of which `lines` is a sample)."""
    ref = shape(node)
    if len(ref) < MIN_SHAPE:  # a post has parts (user, body, footer); a paragraph a few inline tags
        return None
    sampled = sum(map(len, lines))
    widen = _covered(lines, _norm(node.text_content())) >= sampled / 2
    # the mates' text and shapes last: they cost the most
    if not widen and (
        len(mates) < MIN_NARROW
        or _covered(lines, "\n".join(_norm(m.text_content()) for m in mates)) < NARROW_COVER * sampled
    ):
        return None
    chars = {id(m): nonlink_chars(m) for m in mates}
    if widen and sum(chars.values()) < GAIN * kept:
        return None
    records = [m for m in mates if m is node or _similar(ref, shape(m))]
    total = sum(chars[id(r)] for r in records)
    if widen:
        ok = len(records) >= 2 and total >= GAIN * kept
    else:
        joined = "\n".join(_norm(r.text_content()) for r in records)
        ok = len(records) >= MIN_NARROW and _covered(lines, joined) >= NARROW_COVER * sampled
    if not ok or total < MIN_RECORD_CHARS * len(records):
        return None
    return (len(records), total), records, widen


def _bodies(records: list[HtmlElement]) -> list[HtmlElement] | None:
    """Each record's body in page order, if the records split into a body and a post's chrome.

    The body is the deepest relative path holding `BODY_SHARE` of the records' non-link text; what
    it leaves out must look like a user panel, date line and signature: at most `CHROME_CHARS`
    non-link characters a record, `CHROME_LINKS` of it links (names, counts, buttons), in at least
    `CHROME_PARTS` parts.  A manual's sections leave out headings, tables and code with few links,
    its definition lists one term per entry: None, they stay whole.
    """
    text: dict[str, int] = defaultdict(int)
    plain: dict[str, int] = defaultdict(int)
    found: dict[str, list[HtmlElement]] = defaultdict(list)
    for record in records:
        paths = {record: ""}  # holding the elements keeps lxml's proxies, so getparent() finds them
        for el in record.iterdescendants(etree.Element):
            path = paths[el] = f"{paths[el.getparent()]}/{signature(el)}"
            chars = _text_chars(el)
            text[path] += chars[0]
            plain[path] += chars[1]
            found[path].append(el)
    whole = [sum(c) for c in zip(*map(_text_chars, records), strict=True)]
    deep = [p for p, n in plain.items() if n >= BODY_SHARE * whole[1]]
    if not deep:
        return None
    path = max(deep, key=lambda p: (p.count("/"), plain[p], p))
    left, left_plain = whole[0] - text[path], whole[1] - plain[path]
    if left_plain > CHROME_CHARS * len(records) or left - left_plain < CHROME_LINKS * left:
        return None
    # the parts left out, as the body's ancestors' other children: a panel and a date line at
    # least (a term beside its definition, as in a manual's <dl>, is one part and is content)
    parts = [
        p for p in text if text[p] and path.startswith(p.rsplit("/", 1)[0] + "/") and not _covers(p, path)
    ]
    return found[path] if len(parts) >= CHROME_PARTS else None


def _covers(ancestor: str, path: str) -> bool:
    return path == ancestor or path.startswith(ancestor + "/")
