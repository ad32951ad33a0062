"""Quality rules: each reason code, rule order, and the sample poems passing defaults."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

import pipeline
from pipeline.config import CleanConfig, FilterConfig
from pipeline.io.readers import read_partition
from pipeline.steps.clean import clean
from pipeline.steps.decode import decode
from pipeline.steps.filters import (
    RULES,
    duplicate_lines,
    first_failure,
    low_letter_ratio,
    quality_filter,
    too_long,
    too_short,
)

SAMPLE = Path(pipeline.__file__).parent / "sample_data"
CFG = FilterConfig()
GOOD_EN = (
    "Falcot Corp is a manufacturer of high quality audio equipment.\n"
    "The company is growing strongly, and has two facilities.\n\n"
    "The Montpellier site is smaller, with only about 50 workers."
)
POEM = "《静夜思》\n作者:李白\n床前明月光,疑是地上霜。\n举头望明月,低头思故乡。"


def batch_of(texts: list[str]) -> pa.Table:
    n = len(texts)
    return pa.table(
        {
            "id": [f"f-{i}" for i in range(n)],
            "source": ["s"] * n,
            "text": texts,
            "bytes": [len(t.encode()) for t in texts],
            "lang": ["en"] * n,
        }
    )


def test_rule_order() -> None:
    assert (too_short, too_long, low_letter_ratio, duplicate_lines) == RULES


@pytest.mark.parametrize(
    "text,reason",
    [
        (GOOD_EN, None),
        (POEM, None),
        ("too short", "too_short"),
        ("  a \n b  c \t d  " * 2, "too_short"),  # 8 visible chars, lots of spaces
        ("x" * 1001, "too_long"),
        ("12345 67890 !!!! ???? ---- ==== ++++ $$$$ %%%%", "low_letter_ratio"),
        ("│ 1 │ 2 │ 3 │ 4 │ 5 │ 6 │ 7 │ 8 │ 9 │ 10 │ 设备 │", "low_letter_ratio"),
        ("Home\nAbout us\nHome\nAbout us\nHome\nAbout us\nContact page", "duplicate_lines"),
        ("    \n\n", "too_short"),
    ],
)
def test_first_failure(text: str, reason: str | None) -> None:
    cfg = FilterConfig(max_chars=1000)
    assert first_failure(text, cfg) == reason


def test_short_doc_reports_too_short_not_later_rules() -> None:
    assert first_failure("1 2 3", CFG) == "too_short"  # also a low letter ratio: first rule wins


def test_rules_are_pure_pairs() -> None:
    assert too_short(GOOD_EN, CFG) == (True, None)
    assert too_short("abc", CFG) == (False, "too_short")
    assert too_long("abc", FilterConfig(max_chars=2)) == (False, "too_long")
    assert too_long("a b", FilterConfig(max_chars=2)) == (True, None)  # spaces are not counted
    assert low_letter_ratio("漢字漢字" + "1" * 3, CFG) == (True, None)  # Han characters are letters


def test_duplicate_lines_needs_enough_lines() -> None:
    cfg = FilterConfig(min_lines_for_duplicate_rule=4, max_duplicate_line_fraction=0.3)
    assert duplicate_lines("same line here\nsame line here\nsame line here", cfg) == (True, None)  # 3 lines
    assert duplicate_lines("a line\nb line\na line\nc line", cfg) == (True, None)  # 1/4 = 0.25
    assert duplicate_lines("a line\nb line\na line\nb line", cfg) == (False, "duplicate_lines")  # 2/4
    assert duplicate_lines("a line\n\n\nb line\n\n  a line  \nc line\n", cfg) == (
        True,
        None,
    )  # blanks ignored


def test_sample_poems_pass_defaults() -> None:
    batch = decode(read_partition(str(SAMPLE / "poems.warc.gz"), "poems", "warc").batch).kept
    batch = clean(batch, CleanConfig()).kept
    poems = batch.filter(
        pa.array(["/tang300/" in u or "/song100/" in u for u in batch.column("url").to_pylist()])
    )
    assert poems.num_rows >= 150
    result = quality_filter(poems, CFG)
    assert result.dropped.num_rows == 0, result.dropped.to_pylist()[:3]


def test_batch_ledger() -> None:
    texts = [GOOD_EN, "tiny", "x" * 1001, "1234567890 " * 5, "dup line\n" * 6, POEM]
    result = quality_filter(batch_of(texts), FilterConfig(max_chars=1000))
    assert result.kept.column("id").to_pylist() == ["f-0", "f-5"]
    assert result.kept.column_names == ["id", "source", "text", "bytes", "lang"]
    dropped = result.dropped.to_pylist()
    assert [(r["id"], r["reason"]) for r in dropped] == [
        ("f-1", "too_short"),
        ("f-2", "too_long"),
        ("f-3", "low_letter_ratio"),
        ("f-4", "duplicate_lines"),
    ]
    assert {(r["stage"], r["decision"]) for r in dropped} == {("filter", "filtered")}
    assert [r["bytes"] for r in dropped] == [len(texts[i].encode()) for i in (1, 2, 3, 4)]
    assert result.kept.num_rows + result.dropped.num_rows == len(texts)


def test_empty_batch_through_all_steps() -> None:
    from pipeline.config import ExtractConfig, LangIdConfig
    from pipeline.io.readers import RAW_SCHEMA
    from pipeline.steps.extract import extract
    from pipeline.steps.langid import identify

    batch = decode(RAW_SCHEMA.empty_table()).kept
    batch = extract(batch, ExtractConfig()).kept
    batch = clean(batch, CleanConfig()).kept
    batch = identify(batch, LangIdConfig(keep_langs=["zh"])).kept
    result = quality_filter(batch, CFG)
    assert result.kept.num_rows == 0 and result.dropped.num_rows == 0
    assert result.kept.column_names[-2:] == ["lang", "lang_score"]
