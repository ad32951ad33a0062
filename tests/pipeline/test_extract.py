"""Extract: main text of sample pages (incl. a GB18030 one), pass-through, failures."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

import pipeline
from pipeline.config import ExtractConfig
from pipeline.io.readers import read_partition
from pipeline.steps import extract as extract_mod
from pipeline.steps.decode import decode
from pipeline.steps.extract import DOC_COLUMNS, extract

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
    assert extract(decoded, ExtractConfig()).kept.column_names == DOC_COLUMNS


def test_english_page(extracted: dict[str, dict]) -> None:
    text = extracted[PAGES[0]]["text"]
    assert "Falcot Corp is a manufacturer of high quality audio equipment" in text
    assert "<" not in text and "</p>" not in text
    assert text.startswith("Chapter 2. Presenting the Case Study\n\n")  # title line


def test_gb18030_page(extracted: dict[str, dict]) -> None:
    row = extracted[PAGES[1]]
    assert row["charset"] == "gb18030"
    assert "個案呈現" in row["text"] and "\ufffd" not in row["text"]
    assert "<meta" not in row["text"]


def test_title_can_be_left_out(decoded: pa.Table) -> None:
    one = decoded.filter(pa.array([u == PAGES[0] for u in decoded.column("url").to_pylist()]))
    text = extract(one, ExtractConfig(include_title=False)).kept.column("text")[0].as_py()
    assert not text.startswith("Chapter 2. Presenting the Case Study\n\n")
    assert "Falcot Corp" in text


def test_plain_text_passes_through(decoded: pa.Table, extracted: dict[str, dict]) -> None:
    for row in decoded.to_pylist():
        if not row["is_html"]:
            assert extracted[row["url"]]["text"] == row["text"]


def test_rows_balance(decoded: pa.Table) -> None:
    result = extract(decoded, ExtractConfig())
    assert result.kept.num_rows + result.dropped.num_rows == decoded.num_rows


def _html_rows(*texts: str) -> pa.Table:
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
            "bytes": [len(t) for t in texts],
            "charset": ["utf-8"] * n,
            "is_html": [True] * n,
        }
    )


def test_empty_page_filtered() -> None:
    result = extract(
        _html_rows("<html><head><title>x</title></head><body></body></html>", ""), ExtractConfig()
    )
    assert result.kept.num_rows == 0
    assert result.dropped.column("reason").to_pylist() == ["no_text_extracted"] * 2
    assert set(result.dropped.column("stage").to_pylist()) == {"extract"}


def test_extract_error_quarantined(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> str:
        raise ValueError("lxml says no")

    monkeypatch.setattr(extract_mod.trafilatura, "extract", boom)
    result = extract(_html_rows("<html><body><p>" + "text " * 50 + "</p></body></html>"), ExtractConfig())
    row = result.dropped.to_pylist()[0]
    assert (row["decision"], row["reason"]) == ("quarantined", "extract_error:ValueError")
