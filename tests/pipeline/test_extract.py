"""Extract: main text of sample pages (incl. a GB18030 one), each extractor, work and time limits."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest

import pipeline
from pipeline.config import ExtractConfig
from pipeline.io.readers import read_partition
from pipeline.steps import StepResult
from pipeline.steps import extract as extract_mod
from pipeline.steps.decode import decode
from pipeline.steps.extract import DOC_COLUMNS, TIMEOUT_REASON, extract

SAMPLE = Path(pipeline.__file__).parent / "sample_data"
PAGES = (
    "https://debian-handbook.info/browse/en-US/case-study.html",
    "https://debian-handbook.info/browse/zh-TW/case-study.html",  # GB18030, charset only in <meta>
    "https://debian-handbook.info/browse/fr-FR/case-study.html",
)


@pytest.fixture(scope="module")
def decoded() -> pa.Table:
    """A few small decoded sample pages plus three poems (trafilatura is ~10 ms a page)."""
    pages = decode(read_partition(str(SAMPLE / "handbook.warc.gz"), "web", "warc").batch).kept
    pages = pages.filter(pa.array([u in PAGES for u in pages.column("url").to_pylist()]))
    poems = decode(read_partition(str(SAMPLE / "poems.warc.gz"), "poems", "warc").batch).kept.slice(0, 3)
    return pa.concat_tables([pages, poems])


@pytest.fixture(scope="module")
def extracted(decoded: pa.Table) -> dict[str, dict]:
    result = extract(decoded, ExtractConfig())
    assert result.dropped.num_rows == 0
    return {row["url"]: row for row in result.kept.to_pylist()}


def test_columns(decoded: pa.Table) -> None:
    kept = extract(decoded, ExtractConfig()).kept
    assert kept.column_names == DOC_COLUMNS
    by_kind = {(r["content_type"] or "").startswith("text/html"): r["extractor"] for r in kept.to_pylist()}
    assert by_kind == {True: "readability", False: None}  # null: plain text, no extractor ran


def test_english_page(extracted: dict[str, dict]) -> None:
    text = extracted[PAGES[0]]["text"]
    assert "Falcot Corp is a manufacturer of high quality audio equipment" in text
    assert "<" not in text and "</p>" not in text
    assert not text.startswith("Chapter 2. Presenting the Case Study\n\n")  # no <title> line unless asked


def test_gb18030_page(extracted: dict[str, dict]) -> None:
    row = extracted[PAGES[1]]
    assert row["charset"] == "gb18030"
    assert "高品質揚聲器材的製造商" in row["text"] and "\ufffd" not in row["text"]
    assert "<meta" not in row["text"]


@pytest.mark.parametrize("extractor", ["auto", "trafilatura", "resiliparse"])
def test_title_first_when_asked(decoded: pa.Table, extractor: str) -> None:
    one = decoded.filter(pa.array([u == PAGES[0] for u in decoded.column("url").to_pylist()]))
    text = extract(one, ExtractConfig(extractor=extractor, include_title=True)).kept.column("text")[0].as_py()
    assert text.startswith("Chapter 2. Presenting the Case Study\n")
    assert "Falcot Corp" in text


def test_plain_text_passes_through(decoded: pa.Table, extracted: dict[str, dict]) -> None:
    for row in decoded.to_pylist():
        if not row["is_html"]:
            assert extracted[row["url"]]["text"] == row["text"]


def test_rows_balance(decoded: pa.Table) -> None:
    result = extract(decoded, ExtractConfig())
    assert result.kept.num_rows + result.dropped.num_rows == decoded.num_rows


def html_rows(*texts: str) -> pa.Table:
    n = len(texts)
    return pa.table(
        {
            "id": [f"h-{i}" for i in range(n)],
            "source": ["h"] * n,
            "url": [None] * n,
            "content_type": ["text/html"] * n,
            "text": list(texts),
            "input": ["mem"] * n,
            "offset": list(range(n)),
            "digest": [f"{i:016x}" for i in range(n)],
            "bytes": [len(t) for t in texts],
            "charset": ["utf-8"] * n,
            "is_html": [True] * n,
        }
    )


def test_empty_page_filtered() -> None:
    result = extract(
        html_rows("<html><head><title>x</title></head><body></body></html>", ""), ExtractConfig()
    )
    assert result.kept.num_rows == 0
    assert result.dropped.column("reason").to_pylist() == ["no_text_extracted"] * 2
    assert set(result.dropped.column("stage").to_pylist()) == {"extract"}


@pytest.mark.parametrize(("extractor", "target"), [("auto", "Document"), ("trafilatura", "trafilatura")])
def test_extract_error_quarantined(monkeypatch: pytest.MonkeyPatch, extractor: str, target: str) -> None:
    class Boom:
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise ValueError("lxml says no")

        extract = __init__

    monkeypatch.setattr(extract_mod, target, Boom)
    page = "<html><body><p>" + "text " * 50 + "</p></body></html>"
    result = extract(html_rows(page), ExtractConfig(extractor=extractor))
    row = result.dropped.to_pylist()[0]
    assert (row["decision"], row["reason"]) == ("quarantined", "extract_error:ValueError")


# --- resiliparse, trafilatura modes ---------------------------------------------------------


def test_resiliparse_extractor(decoded: pa.Table) -> None:
    result = extract(decoded, ExtractConfig(extractor="resiliparse"))
    assert result.kept.num_rows + result.dropped.num_rows == decoded.num_rows
    rows = {r["url"]: r for r in result.kept.to_pylist()}
    english = rows[PAGES[0]]["text"]
    assert "Falcot Corp is a manufacturer of high quality audio equipment" in english
    assert "<p>" not in english and "\n" in english  # formatting kept as line breaks
    assert " ".join(english.split()).startswith("Chapter 2. Presenting the Case Study")  # its own h1
    assert "個案呈現" in rows[PAGES[1]]["text"]
    for row in decoded.to_pylist():  # plain text is not touched by either extractor
        if not row["is_html"]:
            assert rows[row["url"]]["text"] == row["text"]


@pytest.mark.parametrize("extractor", ["auto", "trafilatura", "resiliparse"])
def test_tables_can_be_left_out(extractor: str) -> None:
    para = "<p>" + "This paragraph is the main content of the page and it is long enough. " * 4 + "</p>"
    table = "<table><tr><td>TABLECELL alpha</td><td>TABLECELL beta</td></tr></table>"
    html = f"<html><body><article>{para}{table}{para}</article></body></html>"
    with_tables = extract_mod.extract_html(html, ExtractConfig(extractor=extractor))
    without = extract_mod.extract_html(html, ExtractConfig(extractor=extractor, include_tables=False))
    assert "TABLECELL" in with_tables and "TABLECELL" not in without
    assert "main content" in without


def test_trafilatura_full_mode(decoded: pa.Table, extracted: dict[str, dict]) -> None:
    one = decoded.filter(pa.array([u == PAGES[2] for u in decoded.column("url").to_pylist()]))
    text = extract(one, ExtractConfig(extractor="trafilatura", fast=False)).kept.column("text")[0].as_py()
    assert "Falcot" in text and text.startswith(extracted[PAGES[2]]["text"].split("\n", 1)[0])


def test_config_validation() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="extractor"):
        ExtractConfig(extractor="boilerpipe")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="timeout_s"):
        ExtractConfig(timeout_s=0)
    assert ExtractConfig(timeout_s=None).timeout_s is None
    with pytest.raises(
        ValidationError, match=r"trafilatura_max_elements \(300\) must be at most.*max_elements \(200\)"
    ):
        ExtractConfig(trafilatura_max_elements=300, max_elements=200)
    with pytest.raises(ValidationError, match="trafilatura_max_elements"):
        ExtractConfig(trafilatura_max_elements=None)  # unlimited only with no element cap either
    assert ExtractConfig(trafilatura_max_elements=None, max_elements=None).max_elements is None


# --- last-resort wall-clock limit -----------------------------------------------------------


def _slow_on_marker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages containing SLOW never finish (a Python loop, as a pathological page would)."""
    real = extract_mod._readability

    def fake(tree, cfg: ExtractConfig):
        while "SLOW" in tree.text_content():
            time.sleep(0.005)
        return real(tree, cfg)

    monkeypatch.setattr(extract_mod, "_readability", fake)


def _timed_extract(batch: pa.Table, cfg: ExtractConfig) -> tuple[StepResult, float]:
    t0 = time.perf_counter()
    result = extract(batch, cfg)
    return result, time.perf_counter() - t0


PAGE = "<html><body><p>" + "A perfectly ordinary page of text. " * 20 + "</p></body></html>"


def test_timeout_quarantines_the_slow_page(monkeypatch: pytest.MonkeyPatch) -> None:
    _slow_on_marker(monkeypatch)
    batch = html_rows(PAGE, PAGE.replace("ordinary", "SLOW"), PAGE.replace("page", "page too"))
    result, seconds = _timed_extract(batch, ExtractConfig(timeout_s=0.2))
    assert seconds < 2
    assert result.kept.column("id").to_pylist() == ["h-0", "h-2"]
    (row,) = result.dropped.to_pylist()
    assert (row["id"], row["decision"], row["reason"]) == ("h-1", "quarantined", TIMEOUT_REASON)
    time.sleep(0.6)  # past the watchdog's re-raise interval: nothing fires late in this thread
    assert extract_mod._WATCHDOG._deadlines == {} and extract_mod._WATCHDOG._fired == set()


def test_timeout_works_in_a_worker_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dask runs tasks in executor threads, where SIGALRM cannot reach: the watchdog can."""
    _slow_on_marker(monkeypatch)
    batch = html_rows(PAGE.replace("ordinary", "SLOW"), PAGE)
    results: list[tuple[StepResult, float]] = []
    workers = [
        threading.Thread(target=lambda: results.append(_timed_extract(batch, ExtractConfig(timeout_s=0.2))))
        for _ in range(2)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(10)
    assert len(results) == 2
    for result, seconds in results:
        assert seconds < 2
        assert result.dropped.column("reason").to_pylist() == [TIMEOUT_REASON]
        assert result.kept.column("id").to_pylist() == ["h-1"]


@pytest.fixture(scope="module")
def contents_page() -> pa.Table:
    """python-docs' 2.5 MB contents page: ~49k elements, seconds of trafilatura."""
    docs = decode(read_partition(str(SAMPLE / "python-docs.warc.gz"), "py", "warc").batch).kept
    return docs.filter(pa.array([u.endswith("/contents.html") for u in docs.column("url").to_pylist()]))


def test_pathological_sample_page_goes_to_resiliparse(contents_page: pa.Table) -> None:
    result = extract(contents_page, ExtractConfig())
    assert result.dropped.num_rows == 0
    assert result.kept.column("extractor").to_pylist() == ["resiliparse"]
    assert result.kept.column("text")[0].as_py().startswith("Python Documentation contents")


def test_safety_net_still_stops_a_real_stall(contents_page: pa.Table) -> None:
    """With the work limits lifted, trafilatura's seconds on it are cut short by the watchdog."""
    cfg = ExtractConfig(trafilatura_max_elements=None, max_elements=None, timeout_s=0.3)
    result, seconds = _timed_extract(contents_page, cfg)
    assert result.dropped.column("reason").to_pylist() == [TIMEOUT_REASON]
    assert seconds < 3  # the limit, plus one uninterruptible lxml parse


def test_no_limit_means_no_watchdog(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(seconds: float) -> int:
        raise AssertionError("armed without a limit")

    monkeypatch.setattr(extract_mod._WATCHDOG, "arm", refuse)
    result = extract(html_rows(PAGE), ExtractConfig(timeout_s=None))
    assert result.kept.num_rows == 1
