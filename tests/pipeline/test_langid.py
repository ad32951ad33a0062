"""Language id on sample documents (poems, handbook pages) and the keep_langs filter."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

import pipeline
from pipeline.config import CleanConfig, ExtractConfig, LangIdConfig
from pipeline.io.readers import read_partition
from pipeline.steps.clean import clean
from pipeline.steps.decode import decode
from pipeline.steps.extract import extract
from pipeline.steps.langid import detect, identify

SAMPLE = Path(pipeline.__file__).parent / "sample_data"
HANDBOOK = "https://debian-handbook.info/browse/{}/case-study.html"
LANGS = {"en-US": "en", "fr-FR": "fr", "de-DE": "de", "ru-RU": "ru", "zh-CN": "zh", "ja-JP": "ja"}


@pytest.fixture(scope="module")
def docs() -> pa.Table:
    """Handbook case-study page in six languages + the 300 sample poems, cleaned."""
    pages = decode(read_partition(str(SAMPLE / "handbook.warc.gz"), "web", "warc").batch).kept
    wanted = {HANDBOOK.format(loc) for loc in LANGS}
    pages = pages.filter(pa.array([u in wanted for u in pages.column("url").to_pylist()]))
    poems = decode(read_partition(str(SAMPLE / "poems.warc.gz"), "poems", "warc").batch).kept
    batch = extract(pa.concat_tables([pages, poems]), ExtractConfig()).kept
    return clean(batch, CleanConfig()).kept


@pytest.fixture(scope="module")
def langs(docs: pa.Table) -> dict[str, tuple[str, float]]:
    result = identify(docs, LangIdConfig())
    assert result.dropped.num_rows == 0
    rows = result.kept.to_pylist()
    return {r["url"]: (r["lang"], r["lang_score"]) for r in rows}


@pytest.mark.parametrize("locale,lang", LANGS.items())
def test_handbook_languages(langs: dict[str, tuple[str, float]], locale: str, lang: str) -> None:
    got, score = langs[HANDBOOK.format(locale)]
    assert got == lang
    assert 0.5 < score <= 1.0


def test_poems_are_chinese(langs: dict[str, tuple[str, float]]) -> None:
    tang = [v for u, v in langs.items() if "/tang300/" in u]
    assert len(tang) == 150
    assert all(lang == "zh" for lang, _ in tang)  # incl. ones the model calls yue/wuu


def test_columns(docs: pa.Table) -> None:
    out = identify(docs.slice(0, 2), LangIdConfig()).kept
    assert out.column_names == docs.column_names + ["lang", "lang_score"]
    assert out.schema.field("lang_score").type == pa.float64()


def test_keep_langs_filters(docs: pa.Table) -> None:
    result = identify(docs, LangIdConfig(keep_langs=["zh"]))
    assert set(result.kept.column("lang").to_pylist()) == {"zh"}
    dropped = result.dropped.to_pylist()
    reasons = {r["reason"] for r in dropped}
    assert {"lang_not_kept:en", "lang_not_kept:fr", "lang_not_kept:de", "lang_not_kept:ja"} <= reasons
    assert {r["stage"] for r in dropped} == {"langid"} and {r["decision"] for r in dropped} == {"filtered"}
    assert result.kept.num_rows + result.dropped.num_rows == docs.num_rows


def test_disabled(docs: pa.Table) -> None:
    result = identify(docs, LangIdConfig(enabled=False, keep_langs=["zh"]))
    assert result.dropped.num_rows == 0
    assert set(result.kept.column("lang").to_pylist()) == {"und"}
    assert set(result.kept.column("lang_score").to_pylist()) == {0.0}


def test_detect_edge_cases() -> None:
    assert detect("") == ("und", 0.0)
    assert detect("  \n ") == ("und", 0.0)
    lang, _ = detect("The quick brown fox jumps over the lazy dog. " * 500)  # only a prefix is used
    assert lang == "en"
