"""Main-text extraction from HTML: readability, widened to sibling posts on thread pages.

Plain-text rows (WET records, text/plain pages, JSONL) pass through unchanged.  The HTML is
parsed once (lxml); readability-lxml picks the main block on that tree, and on thread pages
(forums: one repeating record per post) `extract_threads` widens it to every post's body, since
readability alone keeps one post.  When readability finds no block the same tree goes to
trafilatura.  `extractor` (`auto`, the default) can instead name trafilatura or resiliparse for
every page.  The `extractor` column says which ran on each page (`readability+posts` on threads).

Limits are counted in work, never time, so the same page gets the same outcome on any
machine and reruns are byte-identical.  readability's cost grows with elements × nesting (its
ancestor walks) and trafilatura's with the element count, superlinearly for some shapes (many
siblings in one paragraph): a page nested past `readability_max_work` (the sum of its elements'
depths) goes to trafilatura, and a page over `trafilatura_max_elements` (counted on the tree
parsed anyway) to resiliparse.  resiliparse is fast C, but its main-content pass costs elements ×
nesting depth in one call nothing can interrupt, so a page over `max_elements` or `max_depth` on
that path is filtered (`extract_too_complex:elements|depth`).

A wall-clock watchdog stays as a last-resort net, far above what those limits allow.  It must
work where Dask runs tasks, in a worker's executor *thread*, where SIGALRM cannot be used
(Python only delivers signals to the main thread), and a subprocess per page is far too slow.
So one daemon watchdog thread per process keeps the deadlines and, when one passes, raises
`ExtractTimeout` inside the late thread with `PyThreadState_SetAsyncExc`; it lands between two
Python bytecodes, so it stops the extractors' Python code but not a single long C call.  A page
it stops is quarantined as `extract_timeout_nondeterministic`: the one outcome that depends
on the machine, so a run that has any may not be reproduced by a rerun.
"""

from __future__ import annotations

import ctypes
import re
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import lxml.html
import pyarrow as pa
import trafilatura
from lxml import etree
from lxml.html import HtmlElement
from readability import Document
from readability.readability import Unparseable
from resiliparse.extract.html2text import extract_plain_text
from trafilatura.metadata import extract_title
from trafilatura.utils import load_html

from pipeline.config import ExtractConfig
from pipeline.steps import StepResult
from pipeline.steps.decode import split
from pipeline.steps.extract_threads import thread_posts

T = TypeVar("T")
STAGE = "extract"
DOC_COLUMNS = [
    "id",
    "source",
    "url",
    "text",
    "charset",
    "content_type",
    "input",
    "offset",
    "digest",
    "bytes",
    "extractor",
]
TIMEOUT_REASON = "extract_timeout_nondeterministic"
NONDETERMINISTIC_REASONS = frozenset({TIMEOUT_REASON})  # ledger reasons a rerun may not repeat

# The text is already decoded: an `<?xml ... encoding="gb18030"?>` left in front makes lxml
# refuse the str and re-parse it as bytes, where the declaration would be obeyed again.
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")


class TooComplex(Exception):
    """The page is over a work limit; the message is its ledger reason."""


def extract_html(html: str, cfg: ExtractConfig, url: str | None = None) -> str:
    """Main text of one page ('' when none is found or it is over a work limit), title first if asked."""
    try:
        return extract_page(html, cfg, url)[0]
    except TooComplex:
        return ""


def extract_page(html: str, cfg: ExtractConfig, url: str | None = None) -> tuple[str, str]:
    """(main text, extractor that ran); raises TooComplex for a page over a work limit."""
    html = _XML_DECL.sub("", html, count=1)
    if cfg.extractor != "resiliparse":
        tree = _parse(html, lenient=cfg.extractor == "auto")
        if tree is None:
            return "", "trafilatura"
        elements, budget = element_count(tree), cfg.trafilatura_max_elements
        if budget is None or elements <= budget:
            if cfg.extractor == "auto" and _within(cfg.readability_max_work, elements, tree):
                found = _readability(tree, cfg)
                if found is not None:
                    return found
            return _with_title(*_trafilatura(tree, cfg, url)), "trafilatura"
    return _with_title(*_resiliparse(html, cfg)), "resiliparse"


def _parse(html: str, lenient: bool) -> HtmlElement | None:
    """trafilatura's parse; `lenient`: lxml's where trafilatura rejects it (e.g. a page that starts
    with a script lands all in <head>), as readability itself would parse it."""
    tree = load_html(html)
    if tree is None and lenient:
        try:
            tree = lxml.html.document_fromstring(html)
        except (etree.ParserError, ValueError):
            return None
    return tree


def element_count(tree: HtmlElement) -> int:
    """Elements in an lxml tree, counted in C."""
    return int(tree.xpath("count(//*)"))


def nesting_work(tree: HtmlElement) -> int:
    """Sum of the elements' depths: what readability's per-element ancestor walks cost."""
    total = depth = 0
    for event, _ in etree.iterwalk(tree, events=("start", "end")):
        if event == "start":
            total += depth
            depth += 1
        else:
            depth -= 1
    return total


def _within(work: int | None, elements: int, tree: HtmlElement) -> bool:
    """Is the tree's nesting work at most `work`?  libxml2 nests at most 256 deep, so a page of
    few elements is, without walking it."""
    return work is None or elements * _MAX_DEPTH <= work or nesting_work(tree) <= work


def _with_title(text: str | None, title: str | None) -> str:
    text = (text or "").strip()
    title = " ".join((title or "").split())  # one line; NBSP and newlines from <title> become spaces
    if text and title and not text.startswith(title):
        text = f"{title}\n\n{text}"
    return text


_MAX_DEPTH = 256  # libxml2's nesting limit

# not text: their content would read as words, and they are never a post's body
_NOT_TEXT = ("script", "style", "noscript", "template")


def _readability(tree: HtmlElement, cfg: ExtractConfig) -> tuple[str, str] | None:
    """readability's main block, or every post's body on a thread page; None if it finds no text."""
    title = extract_title(tree) if cfg.include_title else None
    try:
        # readability cleans a copy; on the tree itself it only drops hidden elements
        summary = Document(tree).summary(html_partial=True)
    except Unparseable:
        return None
    text = _html_text(summary, cfg)
    etree.strip_elements(tree, *_NOT_TEXT, with_tail=False)
    body = tree.find("body")
    posts = thread_posts(body if body is not None else tree, text)
    if posts is not None:
        html = "".join(lxml.html.tostring(el, encoding="unicode") for el in posts)
        return _with_title(_html_text(html, cfg), title), "readability+posts"
    if not text.strip():
        return None
    return _with_title(text, title), "readability"


def _html_text(html: str, cfg: ExtractConfig) -> str:
    """An extracted block's text, one line per block element, as resiliparse renders pages."""
    return extract_plain_text(
        html,
        preserve_formatting=True,
        main_content=False,
        alt_texts=False,
        skip_elements=None if cfg.include_tables else ["table"],
    )


def _trafilatura(tree: HtmlElement, cfg: ExtractConfig, url: str | None) -> tuple[str | None, str | None]:
    title = extract_title(tree) if cfg.include_title else None
    text = trafilatura.extract(
        tree, url=url, fast=cfg.fast, include_comments=False, include_tables=cfg.include_tables
    )
    return text, title


def _resiliparse(html: str, cfg: ExtractConfig) -> tuple[str | None, str | None]:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse(html)
    doc = tree.document
    # Single C calls, run before the extraction whose cost they bound: the count is linear in
    # elements, the depth probe in elements × depth up to max_depth.
    if cfg.max_elements is not None and len(doc.query_selector_all("*")) > cfg.max_elements:
        raise TooComplex("extract_too_complex:elements")
    if cfg.max_depth is not None and doc.query_selector(":root" + " > *" * cfg.max_depth) is not None:
        raise TooComplex("extract_too_complex:depth")
    text = extract_plain_text(
        tree,
        main_content=True,
        preserve_formatting=True,  # keep line breaks: line-based quality rules need them
        alt_texts=False,
        skip_elements=None if cfg.include_tables else ["table"],
    )
    return text, tree.title if cfg.include_title else None


def extract(batch: pa.Table, cfg: ExtractConfig) -> StepResult:
    """HTML rows → main text; drops `is_html`, adds `extractor` (null for plain text)."""
    texts = batch.column("text").to_pylist()
    is_html = batch.column("is_html").to_pylist()
    urls = batch.column("url").to_pylist()
    extractors: list[str | None] = [None] * len(texts)
    drops: dict[int, tuple[str, str]] = {}
    for i, (text, html) in enumerate(zip(texts, is_html, strict=True)):
        if html and text:
            try:
                texts[i], extractors[i] = call_with_timeout(cfg.timeout_s, extract_page, text, cfg, urls[i])
            except TooComplex as exc:
                drops[i] = ("filtered", str(exc))
                continue
            except ExtractTimeout:
                drops[i] = ("quarantined", TIMEOUT_REASON)
                continue
            except Exception as exc:  # lxml/trafilatura edge cases: one page, not the partition
                drops[i] = ("quarantined", f"extract_error:{type(exc).__name__}")
                continue
        if not texts[i] or not texts[i].strip():
            drops[i] = ("filtered", "no_text_extracted")
    out = batch.set_column(batch.schema.get_field_index("text"), "text", pa.array(texts, pa.string()))
    out = out.append_column("extractor", pa.array(extractors, pa.string()))
    return split(out.select(DOC_COLUMNS), drops, STAGE)


# --- last-resort wall-clock limit -----------------------------------------------------------


class ExtractTimeout(BaseException):
    """Raised inside a thread that ran past its deadline.

    A BaseException, like KeyboardInterrupt, so the `except Exception` blocks inside
    extractors do not swallow it.
    """


_REFIRE_S = 0.25  # raise again if the first one was swallowed (e.g. in a __del__ or C callback)


def _async_raise(thread_id: int, exc: type[BaseException] | None) -> None:
    """Schedule `exc` in thread `thread_id` (None cancels one not yet raised)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exc) if exc else None
    )


class _Watchdog:
    """One daemon thread per process holding every thread's current deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._deadlines: dict[int, tuple[float, int]] = {}  # token → (deadline, thread id)
        self._fired: set[int] = set()
        self._tokens = iter(range(1 << 62))
        self._wake_at: float | None = None
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float) -> int:
        deadline = time.monotonic() + seconds
        with self._cond:
            token = next(self._tokens)
            self._deadlines[token] = (deadline, threading.get_ident())
            if self._thread is None or not self._thread.is_alive():  # first use, or after fork
                self._thread = threading.Thread(target=self._run, name="extract-watchdog", daemon=True)
                self._thread.start()
            if self._wake_at is None or deadline < self._wake_at:
                self._cond.notify()  # otherwise it wakes up early enough anyway
        return token

    def disarm(self, token: int) -> bool:
        """Forget the deadline; True if it had passed (its exception is cancelled if pending)."""
        with self._cond:
            self._deadlines.pop(token, None)
            if token not in self._fired:
                return False
            _async_raise(threading.get_ident(), None)
            self._fired.discard(token)
            return True

    def _run(self) -> None:
        with self._cond:
            while True:
                if not self._deadlines:
                    self._wake_at = None
                    self._cond.wait()
                    continue
                token, (deadline, thread_id) = min(self._deadlines.items(), key=lambda kv: kv[1][0])
                now = time.monotonic()
                if deadline > now:
                    self._wake_at = deadline
                    self._cond.wait(deadline - now)
                    continue
                _async_raise(thread_id, ExtractTimeout)
                self._fired.add(token)
                self._deadlines[token] = (now + _REFIRE_S, thread_id)


_WATCHDOG = _Watchdog()


def call_with_timeout(seconds: float | None, fn: Callable[..., T], *args: object) -> T:
    """`fn(*args)`, raising ExtractTimeout if it runs longer than `seconds` (None: no limit).

    A deadline that passes just as `fn` returns is still reported (its result may be
    partial), and the exception never escapes later: everything from arming to disarming
    is inside this one frame's try.
    """
    if not seconds:
        return fn(*args)
    token = _WATCHDOG.arm(seconds)
    fired = False
    result = None
    try:
        result = fn(*args)
    except ExtractTimeout:
        fired = True
    finally:
        while True:  # the exception can arrive while disarming: retry until disarmed
            try:
                fired = _WATCHDOG.disarm(token) or fired
                break
            except ExtractTimeout:
                fired = True
    if fired:
        raise ExtractTimeout(f"over {seconds} s")
    return result  # type: ignore[return-value]
