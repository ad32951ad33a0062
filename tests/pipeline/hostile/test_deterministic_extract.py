"""A page's extraction outcome depends on its structure, never on the clock (issue 20, item 4).

trafilatura's time on a page grows with its element count, quadratically for sibling elements
in one paragraph, so a wall-clock limit kept or dropped the same page depending on the
machine.  Now an element budget routes such pages to resiliparse and work caps filter what
even resiliparse cannot bound; the wall-clock limit is only a net, with its own reason code.
"""

from __future__ import annotations

import time

import pyarrow as pa
import pytest
import trafilatura
from trafilatura.utils import load_html

from pipeline.config import ExtractConfig
from pipeline.steps import extract as extract_mod
from pipeline.steps.extract import NONDETERMINISTIC_REASONS, element_count, extract, nesting_work
from tests.pipeline.test_extract import html_rows

WORDS = "A perfectly ordinary sentence of page text. "
NORMAL = (
    "<html><head><title>Normal page</title></head><body><nav><a href='/'>Home</a></nav>"
    f"<article><h1>Heading</h1><p>{WORDS * 12}</p><p>{WORDS * 8}</p></article></body></html>"
)


def sibling_spans(n: int) -> str:
    """trafilatura's quadratic shape: ~3 s at 40k spans on a 2-core VM, resiliparse ~50 ms."""
    return f"<html><body><p>{'<span>Some words in a span. </span>' * n}</p></body></html>"


def wide_then_deep(n: int, depth: int) -> str:
    """Over the budget, then nested past max_depth (lxml stops at depth 256; lexbor does not)."""
    return f"<html><body><p>{'<b>x</b>' * n}</p>{'<div>deeper ' * depth}{'</div>' * depth}</body></html>"


def _outcome(batch: pa.Table, cfg: ExtractConfig) -> dict[str, tuple[str, str | None]]:
    result = extract(batch, cfg)
    out = {r["id"]: ("kept", r["extractor"]) for r in result.kept.to_pylist()}
    out.update({r["id"]: (r["decision"], r["reason"]) for r in result.dropped.to_pylist()})
    return out


@pytest.fixture(scope="module")
def hostile() -> pa.Table:
    return html_rows(NORMAL, sibling_spans(40_000), wide_then_deep(25_000, 300), "<p><b>x</b></p>" * 101_000)


EXPECTED = {
    "h-0": ("kept", "readability"),
    "h-1": ("kept", "resiliparse"),
    "h-2": ("filtered", "extract_too_complex:depth"),
    "h-3": ("filtered", "extract_too_complex:elements"),
}


def test_outcome_does_not_read_the_clock(hostile: pa.Table, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the net off, routing must not look at any clock: every clock raises."""

    def no_clock() -> float:
        raise AssertionError("extraction read the clock")

    for name in ("monotonic", "perf_counter", "process_time", "time", "thread_time"):
        monkeypatch.setattr(time, name, no_clock)
    assert _outcome(hostile, ExtractConfig(timeout_s=None)) == EXPECTED


def test_same_outcome_on_a_100x_slower_machine(hostile: pa.Table) -> None:
    """A 100x slower machine is, to the net, the same machine with a 100x smaller limit."""
    cfg = ExtractConfig()
    assert cfg.timeout_s is not None
    fast_machine = extract(hostile, cfg)
    slow_machine = extract(hostile, cfg.model_copy(update={"timeout_s": cfg.timeout_s / 100}))
    assert slow_machine.kept.equals(fast_machine.kept)
    assert slow_machine.dropped.equals(fast_machine.dropped)
    assert _outcome(hostile, cfg) == EXPECTED


def test_routed_page_keeps_its_text(hostile: pa.Table) -> None:
    text = extract(hostile.slice(1, 1), ExtractConfig()).kept.column("text")[0].as_py()
    assert text.count("Some words in a span.") == 40_000


def test_normal_page_extracted_by_trafilatura_as_before() -> None:
    cfg = ExtractConfig(extractor="trafilatura")
    kept = extract(html_rows(NORMAL), cfg).kept.to_pylist()[0]
    direct = trafilatura.extract(load_html(NORMAL), fast=True, include_comments=False, include_tables=True)
    assert (kept["extractor"], kept["text"]) == ("trafilatura", direct)
    assert "Home" not in kept["text"]  # trafilatura's main-content rules, not all visible text


def test_normal_page_by_readability() -> None:
    kept = extract(html_rows(NORMAL), ExtractConfig()).kept.to_pylist()[0]
    assert kept["extractor"] == "readability"
    assert kept["text"].startswith("Heading\n") and WORDS.strip() in kept["text"]
    assert "Home" not in kept["text"] and "Normal page" not in kept["text"]  # no nav, no <title>


def test_budget_is_an_element_count() -> None:
    """A page at the budget is extracted on its lxml tree, one element more goes to resiliparse."""
    page = sibling_spans(50)
    n = element_count(load_html(page))
    at = ExtractConfig(trafilatura_max_elements=n)
    over = ExtractConfig(trafilatura_max_elements=n - 1)
    assert _outcome(html_rows(page), at) == {"h-0": ("kept", "readability")}
    assert _outcome(html_rows(page), over) == {"h-0": ("kept", "resiliparse")}


def test_readability_budget_is_elements_times_nesting() -> None:
    """readability walks each element's ancestors: a page whose depths sum past the budget goes to
    trafilatura, whatever its element count."""
    deep = f"<html><body>{'<div>' * 60}<p>{WORDS * 10}</p>{'</div>' * 60}</body></html>"
    work = nesting_work(load_html(deep))
    assert work == sum(range(63))  # html, body, 60 divs, p: depths 0 to 62
    wide = f"<html><body>{f'<p>{WORDS}</p>' * 200}</body></html>"  # more elements, less nesting
    assert element_count(load_html(wide)) > element_count(load_html(deep))
    at, over = ExtractConfig(readability_max_work=work), ExtractConfig(readability_max_work=work - 1)
    assert _outcome(html_rows(deep), at) == {"h-0": ("kept", "readability")}
    assert _outcome(html_rows(deep, wide), over) == {
        "h-0": ("kept", "trafilatura"),
        "h-1": ("kept", "readability"),
    }


def test_resiliparse_extractor_has_the_depth_cap() -> None:
    """resiliparse's main-content pass costs elements × depth: ~5 s for 16k nested divs."""
    deep = f"<html><body>{'<div>Nested words here. ' * 300}{'</div>' * 300}</body></html>"
    cfg = ExtractConfig(extractor="resiliparse")
    assert _outcome(html_rows(deep), cfg) == {"h-0": ("filtered", "extract_too_complex:depth")}
    assert _outcome(html_rows(deep), cfg.model_copy(update={"max_depth": None})) == {
        "h-0": ("kept", "resiliparse")
    }


def test_safety_net_reason_says_nondeterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    def never_returns(*args: object, **kwargs: object) -> str:
        while True:
            time.sleep(0.005)

    monkeypatch.setattr(extract_mod, "Document", never_returns)
    result = extract(html_rows(NORMAL), ExtractConfig(timeout_s=0.1))
    (row,) = result.dropped.to_pylist()
    assert (row["decision"], row["reason"]) == ("quarantined", "extract_timeout_nondeterministic")
    assert row["reason"] in NONDETERMINISTIC_REASONS
