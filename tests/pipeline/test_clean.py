"""Clean: mojibake, invisible characters, NFKC, CJK punctuation width, whitespace, t2s."""

from __future__ import annotations

import pyarrow as pa
import pytest

import pipeline.steps.clean as clean_mod
from pipeline.config.clean import CleanConfig
from pipeline.steps.clean import clean, clean_text, fix_mojibake, han_script, to_simplified

CFG = CleanConfig()


def _batch(texts: list[str]) -> pa.Table:
    return pa.table(
        {
            "id": [f"c-{i}" for i in range(len(texts))],
            "source": ["s"] * len(texts),
            "text": texts,
            "bytes": [len(t.encode()) for t in texts],
        }
    )


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("zero\u200bwidth\u200c join\u200d", "zerowidth join"),
        ("\ufeffBOM at start", "BOM at start"),
        ("word\u2060joiner", "wordjoiner"),
        ("\u202eevil\u202c \u2066iso\u2069 \u200fmark", "evil iso mark"),
        ("ＡＢＣ１２３", "ABC123"),
        ("ｶﾀｶﾅ", "カタカナ"),
        ("tab\tand   spaces\u3000ideographic\u00a0nbsp", "tab and spaces ideographic nbsp"),
        ("  line one  \n\tline two\t\n", "line one\nline two"),
        ("para one\n\n\n\n\npara two\r\n\r\n\r\npara three", "para one\n\npara two\n\npara three"),
        ("one\n \n \ntwo", "one\n\ntwo"),
        ("old mac\rline", "old mac\nline"),
        ("\x1b[31mred\x1b[0m text", "red text"),  # terminal colour codes, whole sequence
    ],
)
def test_clean_text(raw: str, expected: str) -> None:
    assert clean_text(raw, CFG) == expected


def test_control_chars_without_mojibake_repair() -> None:
    cfg = CleanConfig(fix_mojibake=False)
    assert clean_text("bell\x07 null\x00 esc\x1b del\x7f c1\x9b", cfg) == "bell null esc del c1"


def test_paragraph_breaks_survive() -> None:
    text = "First paragraph, line 1.\nLine 2.\n\nSecond paragraph."
    assert clean_text(text, CFG) == text


def test_options_off() -> None:
    cfg = CleanConfig(
        fix_mojibake=False,
        unicode_form="none",
        strip_control_chars=False,
        punctuation="keep",
        normalize_whitespace=False,
    )
    assert clean_text(" ＡＢＣ\u200b  x，y ", cfg) == "ＡＢＣ\u200b  x，y"
    assert clean_text("ﬁ", CleanConfig(unicode_form="NFC")) == "ﬁ"
    assert clean_text("ﬁ", CFG) == "fi"


# --- mojibake -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "broken,fixed",
    [
        ("cafÃ©", "café"),
        ("Ã©tÃ© â€” dÃ©jÃ  vu", "été — déjà vu"),
        ("â€œquotedâ€\x9d", "“quoted”"),  # curly quotes stay curly
        ("\x93smart\x94 quotes", "“smart” quotes"),  # C1 controls from Windows-1252
        ("The Mona Lisa doesnÃƒÂ¢Ã¢â€šÂ¬Ã¢â€žÂ¢t have eyebrows.", "The Mona Lisa doesn’t have eyebrows."),
        ("“你好”，世界！".encode().decode("latin-1"), "“你好”，世界！"),  # UTF-8 Chinese read as Latin-1
        ("中文".encode().decode("cp1252"), "中文"),  # ... as Windows-1252: "ä¸­æ–‡"
    ],
)
def test_mojibake_repaired(broken: str, fixed: str) -> None:
    assert clean_text(broken, CFG) == fixed


@pytest.mark.parametrize(
    "text",
    [
        "数据库（database）的“事务”——即一组操作……",
        "「這是引號」，『書名』。全角：ＡＢＣ",
        "naïve café résumé Zürich — “quotes” ‘single’",
        "Привет, мир",
    ],
)
def test_mojibake_repair_leaves_good_text_alone(text: str) -> None:
    assert fix_mojibake(text) == text


def test_gbk_read_as_latin1_is_beyond_ftfy() -> None:
    """ftfy only undoes UTF-8 mis-decoding; GBK mojibake is left for the decode step to prevent."""
    gbk = "你好，世界".encode("gbk").decode("latin-1")
    assert fix_mojibake(gbk) == gbk


def test_mojibake_repair_by_line_equals_ftfy_on_the_whole_text() -> None:
    """Only lines that can hold mojibake go through ftfy; the result is ftfy's on the whole text."""
    import random

    import ftfy

    pieces = [
        "cafÃ©", "â€œquotedâ€\x9d", "plain ascii line", "naïve résumé", "中文".encode().decode("cp1252"),
        "\x93smart\x94", "Ã ", "line ending œ", "Ã\xa0la", "\x1b[1mbold\x1b[0m", "", "  ", "数据库",
    ]  # fmt: skip
    rng = random.Random(0)
    for _ in range(300):
        text = "\n".join(rng.choice(pieces) for _ in range(rng.randint(1, 8)))
        assert fix_mojibake(text) == ftfy.fix_text(text, clean_mod._FTFY), repr(text)


def _reference_whitespace(text: str) -> str:
    """The plain regex form of the whitespace rules, as an oracle for the faster one."""
    import re

    text = re.sub(r"[^\S\n]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def test_whitespace_normalisation_matches_its_reference() -> None:
    import random

    cfg = CleanConfig(fix_mojibake=False, unicode_form="none", strip_control_chars=False, punctuation="keep")
    alphabet = ["a", "b", " ", " ", "\n", "\t", "\u00a0", "\u3000", "\u2029", "\r", "\x85"]
    rng = random.Random(1)
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 24)))
        newlines = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x85", "\n")
        expected = _reference_whitespace(newlines.replace("\u2029", "\n\n"))
        assert clean_text(text, cfg) == expected, repr(text)


# --- punctuation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("你好,世界", "你好，世界"),
        ("床前明月光，疑是地上霜。", "床前明月光，疑是地上霜。"),  # NFKC's ASCII comma restored
        ("注意：请先备份数据；否则？！", "注意：请先备份数据；否则？！"),
        ("什么?!真的吗", "什么？！真的吗"),
        ("时间:12:30", "时间：12:30"),  # the clock keeps its ASCII colon
        ("他说……然后…", "他说……然后…"),  # NFKC's "......" and "..." restored
        ("参考手册（版本 2.73）", "参考手册（版本 2.73）"),
        ("中文(English)是", "中文（English）是"),
        ("（1）第一点", "（1）第一点"),
        ("使用变量x,然后", "使用变量x，然后"),
        ("日本語です,はい", "日本語です，はい"),
        # untouched: no CJK neighbour, calls, code strings, URLs, Korean
        ("a, b and c: d; e? f!", "a, b and c: d; e? f!"),
        ("共 3,000 元", "共 3,000 元"),
        ("Wait... what", "Wait... what"),
        ("调用foo(x)返回结果", "调用foo(x)返回结果"),
        ('print("你好")', 'print("你好")'),
        ('d = {"键":"值"}', 'd = {"键":"值"}'),
        ("Beijing (北京) is big", "Beijing (北京) is big"),
        ("见http://a.cn/s?q=1&p=2,然后", "见http://a.cn/s?q=1&p=2，然后"),
        ("한국어, 테스트", "한국어, 테스트"),
    ],
)
def test_cjk_fullwidth(raw: str, expected: str) -> None:
    assert clean_text(raw, CFG) == expected


def test_halfwidth_forces_ascii_even_without_nfkc() -> None:
    cfg = CleanConfig(unicode_form="NFC", punctuation="halfwidth")
    assert clean_text("你好，世界！（测试）……", cfg) == "你好,世界!(测试)......"
    assert clean_text("句号。顿号、引号「」", cfg) == "句号。顿号、引号「」"  # no ASCII twin
    assert clean_text("ＡＢＣ", cfg) == "ＡＢＣ"  # letters are unicode_form's business


def test_keep_leaves_nfkc_output() -> None:
    assert clean_text("你好，世界！", CleanConfig(punctuation="keep")) == "你好,世界!"
    assert clean_text("你好，世界！", CleanConfig(unicode_form="NFC", punctuation="keep")) == "你好，世界！"


# --- Traditional → Simplified -------------------------------------------------------------


@pytest.mark.parametrize(
    "text,script",
    [
        ("這是一個關於資料庫與軟體開發的說明文件。", "hant"),
        ("这是一个关于数据库与软件开发的说明文件。", "hans"),
        ("台湾的乾隆皇帝著作", "hans"),  # shared characters s2t rewrites are not evidence
        ("日本語の説明書です。國語を参照してください。", None),  # Japanese
        ("Plain English text", None),
    ],
)
def test_han_script(text: str, script: str | None) -> None:
    assert han_script(text) == script


def test_to_simplified_converts_only_traditional() -> None:
    assert to_simplified("這是臺灣的軟體。") == ("这是台湾的软体。", "hant")
    assert to_simplified("這是臺灣的軟體。", "tw2sp") == ("这是台湾的软件。", "hant")
    simplified = "乾隆年间的著作，后来在台湾出版。"
    assert to_simplified(simplified) == (simplified, "hans")
    japanese = "國語の説明書"
    assert to_simplified(japanese) == (japanese, None)


def test_batch_t2s_column() -> None:
    batch = _batch(["這是一個測試，關於網路。", "这是简体。", "English only"])
    result = clean(batch, CleanConfig(t2s=True))
    assert result.kept.column("text").to_pylist() == [
        "这是一个测试，关于网路。",
        "这是简体。",
        "English only",
    ]
    assert result.kept.column("text_original_script").to_pylist() == ["hant", "hans", None]
    assert "text_original_script" not in clean(batch, CFG).kept.column_names  # off by default


def test_defaults() -> None:
    assert CFG.punctuation == "cjk_fullwidth"
    assert CFG.unicode_form == "NFKC"
    assert CFG.fix_mojibake and not CFG.t2s


# --- the step -----------------------------------------------------------------------------


def test_batch_filters_empty_and_balances() -> None:
    batch = _batch(["kept  text", "\u200b\u200b \n\t", "", "ＡＢＣ"])
    result = clean(batch, CFG)
    assert result.kept.column("text").to_pylist() == ["kept text", "ABC"]
    assert result.kept.column_names == batch.column_names
    dropped = result.dropped.to_pylist()
    assert [r["id"] for r in dropped] == ["c-1", "c-2"]
    assert {(r["stage"], r["decision"], r["reason"]) for r in dropped} == {
        ("clean", "filtered", "empty_after_clean")
    }
    assert result.kept.num_rows + result.dropped.num_rows == batch.num_rows


def test_bad_record_is_quarantined_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    real = clean_mod.clean_text

    def flaky(text: str, cfg: CleanConfig) -> str:
        if "boom" in text:
            raise RecursionError("deep")
        return real(text, cfg)

    monkeypatch.setattr(clean_mod, "clean_text", flaky)
    result = clean(_batch(["fine", "boom", "也好,谢谢"]), CFG)
    assert result.kept.column("text").to_pylist() == ["fine", "也好，谢谢"]
    assert [(r["id"], r["decision"], r["reason"]) for r in result.dropped.to_pylist()] == [
        ("c-1", "quarantined", "clean_error:RecursionError")
    ]
