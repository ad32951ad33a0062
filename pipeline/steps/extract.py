"""Main-text extraction from HTML: trafilatura (default) or resiliparse (fast), per-page time limit.

Plain-text rows (WET records, text/plain pages, JSONL) pass through unchanged.  With
trafilatura the HTML is parsed once and the title comes from the same tree, so
`include_title` costs no second parse.

One page can take far longer than the rest (the sample's 2.5 MB python-docs contents page
takes ~20 s in trafilatura against a 47 ms median), so each page runs under `timeout_s`;
a page over it is quarantined as `extract_timeout` and the partition goes on.  The limit
must work where Dask runs tasks, in a worker's executor *thread*, where SIGALRM cannot be
used (Python only delivers signals to the main thread), and a subprocess per page is far
too slow.  So one daemon watchdog thread per process keeps the deadlines and, when one
passes, raises `ExtractTimeout` inside the late thread with `PyThreadState_SetAsyncExc`.
Like a signal handler, that exception lands between two Python bytecodes: trafilatura's
Python code is interrupted within milliseconds, but a single long C call (one lxml parse,
resiliparse's whole extraction) is not, which is why readers also cap record size.
"""

from __future__ import annotations

import ctypes
import re
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import pyarrow as pa
import trafilatura
from trafilatura.metadata import extract_title
from trafilatura.utils import load_html

from pipeline.config import ExtractConfig
from pipeline.steps import StepResult
from pipeline.steps.decode import split

T = TypeVar("T")
STAGE = "extract"
DOC_COLUMNS = ["id", "source", "url", "text", "charset", "content_type", "input", "offset", "bytes"]

# The text is already decoded: an `<?xml ... encoding="gb18030"?>` left in front makes lxml
# refuse the str and re-parse it as bytes, where the declaration would be obeyed again.
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>")


def extract_html(html: str, cfg: ExtractConfig, url: str | None = None) -> str:
    """Main text of one page ('' when none is found), title line first if asked."""
    html = _XML_DECL.sub("", html, count=1)
    if cfg.extractor == "resiliparse":
        text, title = _resiliparse(html, cfg)
    else:
        text, title = _trafilatura(html, cfg, url)
    text = (text or "").strip()
    title = " ".join((title or "").split())  # one line; NBSP and newlines from <title> become spaces
    if text and title and not text.startswith(title):
        text = f"{title}\n\n{text}"
    return text


def _trafilatura(html: str, cfg: ExtractConfig, url: str | None) -> tuple[str | None, str | None]:
    tree = load_html(html)
    if tree is None:
        return None, None
    title = extract_title(tree) if cfg.include_title else None
    text = trafilatura.extract(
        tree, url=url, fast=cfg.fast, include_comments=False, include_tables=cfg.include_tables
    )
    return text, title


def _resiliparse(html: str, cfg: ExtractConfig) -> tuple[str | None, str | None]:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    tree = HTMLTree.parse(html)
    text = extract_plain_text(
        tree,
        main_content=True,
        preserve_formatting=True,  # keep line breaks: line-based quality rules need them
        alt_texts=False,
        skip_elements=None if cfg.include_tables else ["table"],
    )
    return text, tree.title if cfg.include_title else None


def extract(batch: pa.Table, cfg: ExtractConfig) -> StepResult:
    """HTML rows → main text; drops `is_html` and leaves the DOC_COLUMNS."""
    texts = batch.column("text").to_pylist()
    is_html = batch.column("is_html").to_pylist()
    urls = batch.column("url").to_pylist()
    drops: dict[int, tuple[str, str]] = {}
    for i, (text, html) in enumerate(zip(texts, is_html, strict=True)):
        if html and text:
            try:
                texts[i] = call_with_timeout(cfg.timeout_s, extract_html, text, cfg, urls[i])
            except ExtractTimeout:
                drops[i] = ("quarantined", "extract_timeout")
                continue
            except Exception as exc:  # lxml/trafilatura edge cases: one page, not the partition
                drops[i] = ("quarantined", f"extract_error:{type(exc).__name__}")
                continue
        if not texts[i] or not texts[i].strip():
            drops[i] = ("filtered", "no_text_extracted")
    out = batch.set_column(batch.schema.get_field_index("text"), "text", pa.array(texts, pa.string()))
    return split(out.select(DOC_COLUMNS), drops, STAGE)


# --- per-page time limit ------------------------------------------------------------------


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
