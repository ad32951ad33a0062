"""Clean: invisible characters, NFKC, whitespace that keeps paragraphs."""

from __future__ import annotations

import pyarrow as pa
import pytest

from pipeline.config import CleanConfig
from pipeline.steps.clean import clean, clean_text

CFG = CleanConfig()


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("zero\u200bwidth\u200c join\u200d", "zerowidth join"),
        ("\ufeffBOM at start", "BOM at start"),
        ("word\u2060joiner", "wordjoiner"),
        ("\u202eevil\u202c \u2066iso\u2069 \u200fmark", "evil iso mark"),
        ("bell\x07 null\x00 esc\x1b del\x7f c1\x9b", "bell null esc del c1"),
        ("ＡＢＣ１２３", "ABC123"),
        ("ｶﾀｶﾅ", "カタカナ"),
        ("tab\tand   spaces\u3000ideographic\u00a0nbsp", "tab and spaces ideographic nbsp"),
        ("  line one  \n\tline two\t\n", "line one\nline two"),
        ("para one\n\n\n\n\npara two\r\n\r\n\r\npara three", "para one\n\npara two\n\npara three"),
        ("one\n \n \ntwo", "one\n\ntwo"),
        ("old mac\rline", "old mac\nline"),
        ("床前明月光，疑是地上霜。", "床前明月光,疑是地上霜。"),  # NFKC folds full-width comma
    ],
)
def test_clean_text(raw: str, expected: str) -> None:
    assert clean_text(raw, CFG) == expected


def test_paragraph_breaks_survive() -> None:
    text = "First paragraph, line 1.\nLine 2.\n\nSecond paragraph."
    assert clean_text(text, CFG) == text


def test_options_off() -> None:
    cfg = CleanConfig(unicode_form="none", strip_control_chars=False, normalize_whitespace=False)
    assert clean_text(" ＡＢＣ\u200b  x ", cfg) == "ＡＢＣ\u200b  x"
    assert clean_text("ﬁ", CleanConfig(unicode_form="NFC")) == "ﬁ"
    assert clean_text("ﬁ", CFG) == "fi"


def test_batch_filters_empty_and_balances() -> None:
    texts = ["kept  text", "\u200b\u200b \n\t", "", "ＡＢＣ"]
    batch = pa.table(
        {
            "id": [f"c-{i}" for i in range(4)],
            "source": ["s"] * 4,
            "text": texts,
            "bytes": [len(t.encode()) for t in texts],
        }
    )
    result = clean(batch, CFG)
    assert result.kept.column("text").to_pylist() == ["kept text", "ABC"]
    assert result.kept.column_names == batch.column_names
    dropped = result.dropped.to_pylist()
    assert [r["id"] for r in dropped] == ["c-1", "c-2"]
    assert {(r["stage"], r["decision"], r["reason"]) for r in dropped} == {
        ("clean", "filtered", "empty_after_clean")
    }
    assert result.kept.num_rows + result.dropped.num_rows == batch.num_rows
