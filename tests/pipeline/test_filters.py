"""Quality rules: basic rules, Gopher, C4 and FineWeb families, order, language scoping, ledger."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from pydantic import ValidationError

import pipeline
from pipeline.config import CleanConfig, FilterConfig
from pipeline.config.filters import C4Config, FineWebConfig, GopherQualityConfig, GopherRepetitionConfig
from pipeline.io.readers import read_partition
from pipeline.steps.clean import clean
from pipeline.steps.decode import decode
from pipeline.steps.filters import first_failure, quality_filter
from pipeline.steps.filters.base import Doc
from pipeline.steps.filters.basic import duplicate_lines, low_letter_ratio, too_long, too_short
from pipeline.steps.filters.c4 import c4, counted_sentences
from pipeline.steps.filters.fineweb import fineweb
from pipeline.steps.filters.gopher import (
    duplicated_ngram_chars,
    gopher_quality,
    gopher_repetition,
    ngram_hashes,
    top_ngram_chars,
)

SAMPLE = Path(pipeline.__file__).parent / "sample_data"
CFG = FilterConfig()
OFF = {"enabled": False}
# only the basic rules: the families switched off
BASIC = {
    "gopher": {"quality": OFF, "repetition": OFF},
    "c4": OFF,
    "fineweb": OFF,
    "chinese": OFF,
}
GOOD_EN = (
    "Falcot Corp is a manufacturer of high quality audio equipment.\n"
    "The company is growing strongly, and has two facilities.\n\n"
    "The Montpellier site is smaller, with only about 50 workers."
)
# ~90 words of ordinary prose: passes every family
PROSE = (
    "Falcot Corp is a manufacturer of high quality audio equipment, and it has grown strongly "
    "over the last ten years.\n"
    "The company has two facilities: the larger one is in Saint-Étienne, and the smaller one, "
    "with only about fifty workers, is in Montpellier.\n"
    "The administrators chose Debian for its servers because of the quality of its packages "
    "and the stability of its releases.\n"
    "They also wanted to be able to upgrade every machine with the same tools, so that each "
    "of them could help the others when a problem came up.\n"
    "This book follows them as they migrate the whole network to the new system."
)
NO_STOP = " ".join(
    w for w in PROSE.split(" ") if w.lower() not in {"the", "be", "to", "of", "and", "that", "have", "with"}
)
POEM = "《静夜思》\n作者:李白\n床前明月光,疑是地上霜。\n举头望明月,低头思故乡。"


def basic_cfg(**kw: object) -> FilterConfig:
    return FilterConfig(**BASIC, **kw)


def batch_of(texts: list[str], lang: str = "en") -> pa.Table:
    n = len(texts)
    return pa.table(
        {
            "id": [f"f-{i}" for i in range(n)],
            "source": ["s"] * n,
            "text": texts,
            "bytes": [len(t.encode()) for t in texts],
            "lang": [lang] * n,
        }
    )


# --- basic rules -------------------------------------------------------------------------


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
def test_basic_first_failure(text: str, reason: str | None) -> None:
    assert first_failure(text, basic_cfg(max_chars=1000), "en") == reason


def test_short_doc_reports_too_short_not_later_rules() -> None:
    assert first_failure("1 2 3", CFG) == "too_short"  # also a low letter ratio: first rule wins


def test_basic_rules_are_pure_pairs() -> None:
    assert too_short(Doc(GOOD_EN), CFG) == (True, None)
    assert too_short(Doc("abc"), CFG) == (False, "too_short")
    assert too_long(Doc("abc"), FilterConfig(max_chars=2)) == (False, "too_long")
    assert too_long(Doc("a b"), FilterConfig(max_chars=2)) == (True, None)  # spaces are not counted
    assert low_letter_ratio(Doc("漢字漢字" + "1" * 3), CFG) == (True, None)  # Han characters are letters


def test_duplicate_lines_needs_enough_lines() -> None:
    cfg = FilterConfig(min_lines_for_duplicate_rule=4, max_duplicate_line_fraction=0.3)
    assert duplicate_lines(Doc("same line here\nsame line here\nsame line here"), cfg) == (True, None)
    assert duplicate_lines(Doc("a line\nb line\na line\nc line"), cfg) == (True, None)  # 1/4 = 0.25
    assert duplicate_lines(Doc("a line\nb line\na line\nb line"), cfg) == (False, "duplicate_lines")
    assert duplicate_lines(Doc("a line\n\n\nb line\n\n  a line  \nc line\n"), cfg) == (True, None)


# --- Gopher --------------------------------------------------------------------------------


def test_prose_passes_every_family() -> None:
    assert first_failure(PROSE, CFG, "en") is None


@pytest.mark.parametrize(
    "text,reason",
    [
        (GOOD_EN, "gopher_too_few_words"),
        (PROSE + "\n" + " ".join(["word"] * 100_001), "gopher_too_many_words"),
        (" ".join(["an ox is by me"] * 20), "gopher_short_words"),
        (" ".join(["internationalisation-considerations"] * 60), "gopher_long_words"),
        (PROSE + "\n" + "#tag " * 12, "gopher_hash_ratio"),
        (PROSE + "\n" + "and so on... " * 20, "gopher_ellipsis_ratio"),
        ("\n".join(f"- item number {i} of the list with the things" for i in range(12)), "gopher_bullet_lines"),
        ("\n".join(f"line {i} has quite a few words in it before it finally trails off…" for i in range(12)),
         "gopher_ellipsis_lines"),
        (PROSE + "\n" + " ".join(str(i) for i in range(200)), "gopher_alpha_words"),
        (NO_STOP, "gopher_stop_words"),
    ],
)  # fmt: skip
def test_gopher_quality_reasons(text: str, reason: str) -> None:
    assert gopher_quality(Doc(text, "en"), CFG.gopher.quality) == (False, reason)


def test_gopher_stop_words_are_per_language() -> None:
    no_stop = NO_STOP
    cfg = CFG.gopher.quality
    assert gopher_quality(Doc(no_stop, "en"), cfg)[1] == "gopher_stop_words"
    assert gopher_quality(Doc(no_stop, "fr"), cfg) == (True, None)  # no French list configured
    french = GopherQualityConfig(stop_words={"fr": ["le", "la", "et"]})
    assert gopher_quality(Doc(no_stop, "fr"), french)[1] == "gopher_stop_words"
    assert gopher_quality(Doc(PROSE.replace("The ", "the "), "en"), cfg) == (True, None)


def _top_reference(words: list[str], n: int) -> int:
    """datatrove's find_top_duplicate, n-grams measured without separators, repeats only."""
    grams = ["".join(words[i : i + n]) for i in range(len(words) - n + 1)]
    gram, count = Counter(grams).most_common(1)[0]
    return len(gram) * count if count > 1 else 0


def _dup_reference(words: list[str], n: int) -> int:
    """datatrove's find_all_duplicate."""
    seen: set[tuple[str, ...]] = set()
    chars = i = 0
    while i < len(words) - n + 1:
        gram = tuple(words[i : i + n])
        if gram in seen:
            chars += len("".join(gram))
            i += n
        else:
            seen.add(gram)
            i += 1
    return chars


@pytest.mark.parametrize("seed", range(5))
def test_ngram_counts_match_datatrove_reference(seed: int) -> None:
    rng = random.Random(seed)
    vocab = ["a", "bb", "ccc", "dddd", "的", "中国人", "x"]
    words = [rng.choice(vocab[: rng.randint(2, 7)]) for _ in range(rng.randint(12, 300))]
    index: dict[str, int] = {}
    ids = np.array([index.setdefault(w, len(index)) + 1 for w in words], dtype=np.uint64)
    cum = np.concatenate([[0], np.cumsum([len(w) for w in words])])
    for n in (2, 3, 4):
        assert top_ngram_chars(ngram_hashes(ids, n), cum, n) == _top_reference(words, n)
    for n in range(5, 11):
        assert duplicated_ngram_chars(ngram_hashes(ids, n), cum, n) == _dup_reference(words, n)


@pytest.mark.parametrize(
    "text,reason",
    [
        ("A first paragraph here.\n\nThe same words again.\n\nThe same words again.", "gopher_dup_para_frac"),
        ("\n\n".join(["A paragraph that is long enough to matter."] * 2 + ["short", "also", "more"]),
         "gopher_dup_para_char_frac"),
        ("one line\ntwo line\none line\none line", "gopher_dup_line_frac"),
        ("\n".join(["A long line that repeats itself many times."] * 2 + [f"x{i}" for i in range(6)]),
         "gopher_dup_line_char_frac"),
        (PROSE + " " + "buy now " * 80, "gopher_top_2_gram"),
        # the 3-gram covers 31% of the text, its first 2-gram only 18.5%
        (PROSE + " " + " ".join(f"alpha bravo charlie w{i:02d}" for i in range(20)), "gopher_top_3_gram"),
        (" ".join(PROSE.split()[:40]) + " " + " ".join(PROSE.split()[:40]), "gopher_dup_5_gram"),
    ],
)  # fmt: skip
def test_gopher_repetition_reasons(text: str, reason: str) -> None:
    assert gopher_repetition(Doc(text, "en"), GopherRepetitionConfig()) == (False, reason)


def test_gopher_repetition_passes_prose_and_poem() -> None:
    assert gopher_repetition(Doc(PROSE, "en"), GopherRepetitionConfig()) == (True, None)
    assert gopher_repetition(Doc(POEM, "zh"), GopherRepetitionConfig()) == (True, None)


# --- C4 and FineWeb ------------------------------------------------------------------------


def test_c4_rules() -> None:
    cfg = C4Config()
    assert c4(Doc(PROSE, "en"), cfg) == (True, None)
    assert c4(Doc(PROSE + "\nLorem Ipsum dolor sit amet.", "en"), cfg) == (False, "c4_lorem_ipsum")
    code = PROSE + "\nint main() { return 0; }"
    assert c4(Doc(code, "en"), cfg) == (True, None)  # curly-bracket rule is off by default
    assert c4(Doc(code, "en"), C4Config(curly_bracket=True)) == (False, "c4_curly_bracket")
    menu = "Home\nProducts and services we sell\nAbout our company and team\nContact us today."
    assert c4(Doc(menu, "en"), cfg) == (False, "c4_too_few_sentences")


def test_c4_sentence_counting_follows_its_line_rules() -> None:
    assert counted_sentences("This line has enough words. And a second sentence here.", 5) == 2
    assert counted_sentences("Too few words here.", 5) == 0  # 4 words
    assert counted_sentences("This line has no terminal punctuation at all", 5) == 0
    assert counted_sentences("This line ends with an ellipsis like that...", 5) == 0
    assert counted_sentences("Please enable JavaScript to view this page properly.", 5) == 0
    assert counted_sentences("By using this site you accept our privacy policy.", 5) == 0
    assert counted_sentences("He said that this is a “quoted” ending.”", 5) == 1
    three_js = "\n".join(["Please enable JavaScript in your browser to continue."] * 3)
    assert c4(Doc(three_js + "\nOne real sentence with enough words.", "en"), C4Config()) == (
        False,
        "c4_too_few_sentences",
    )


@pytest.mark.parametrize(
    "text,reason",
    [
        ("\n".join(f"Heading number {i} without any final mark at the end" for i in range(10)),
         "fineweb_line_punct_ratio"),
        ("\n".join([f"Short line {i}." for i in range(12)] + [PROSE]), "fineweb_short_line_ratio"),
        (PROSE + "\n" + "\n".join(["This sentence is repeated on purpose here."] * 3), "fineweb_dup_line_char_ratio"),
        ("\n".join(f"Item{i}." for i in range(40)) + "\n" + PROSE, "fineweb_list_ratio"),
    ],
)  # fmt: skip
def test_fineweb_reasons(text: str, reason: str) -> None:
    cfg = FineWebConfig(max_short_line_ratio=0.67 if reason != "fineweb_list_ratio" else 1.0)
    assert fineweb(Doc(text, "en"), cfg) == (False, reason)


def test_fineweb_passes_prose() -> None:
    assert fineweb(Doc(PROSE, "en"), FineWebConfig()) == (True, None)


# --- order, scoping, config ----------------------------------------------------------------


def test_language_scoping() -> None:
    assert first_failure(GOOD_EN, CFG, "en") == "gopher_too_few_words"
    assert first_failure(POEM, CFG, "zh") is None  # Chinese pack instead of the word families
    assert first_failure(POEM, CFG, "en") == "gopher_too_few_words"  # mislabelled: judged as English
    only_de = FilterConfig(gopher={"quality": {"langs": ["de"]}})
    assert first_failure(GOOD_EN, only_de, "en") is None  # Gopher skipped; 3 sentences pass C4
    assert first_failure(GOOD_EN, only_de, "de") == "gopher_too_few_words"
    assert CFG.gopher.quality.applies("en") and not CFG.gopher.quality.applies("zh")
    assert CFG.chinese.applies("zh") and not CFG.chinese.applies("en")
    assert CFG.gopher.repetition.applies("zh")  # script-neutral


def test_first_failure_wins_in_family_order() -> None:
    # passes the basic rules (3 lines), fails Gopher repetition, Gopher quality and C4
    text = "Buy cheap pills now.\n\nBuy cheap pills now.\n\nBest prices here."
    assert first_failure(text, CFG, "en") == "gopher_dup_para_frac"
    cfg = FilterConfig(gopher={"repetition": OFF})
    assert first_failure(text, cfg, "en") == "gopher_too_few_words"
    cfg = FilterConfig(gopher={"repetition": OFF, "quality": OFF})
    assert first_failure(text, cfg, "en") == "c4_too_few_sentences"


def test_config_from_yaml_shape_and_unknown_fields() -> None:
    cfg = FilterConfig.model_validate(
        {
            "min_chars": 20,
            "gopher": {"repetition": {"top_ngram_char_frac": {"2": 0.25}}},
            "c4": {"enabled": False},
            "chinese": {"min_han_chars": 200},
        }
    )
    assert cfg.gopher.repetition.top_ngram_char_frac == {2: 0.25}
    assert cfg.gopher.quality.min_words == 50 and not cfg.c4.enabled and cfg.chinese.min_han_chars == 200
    with pytest.raises(ValidationError, match="min_wordz"):
        FilterConfig.model_validate({"gopher": {"quality": {"min_wordz": 3}}})
    with pytest.raises(ValidationError):
        FilterConfig.model_validate({"fineweb": {"min_line_punct_ratio": 1.5}})


# --- the step ------------------------------------------------------------------------------


def test_batch_ledger() -> None:
    texts = [PROSE, "tiny", "x" * 1001, "1234567890 " * 5, "dup line\n" * 6, GOOD_EN]
    result = quality_filter(batch_of(texts), FilterConfig(max_chars=1000))
    assert result.kept.column("id").to_pylist() == ["f-0"]
    assert result.kept.column_names == ["id", "source", "text", "bytes", "lang"]
    dropped = result.dropped.to_pylist()
    assert [(r["id"], r["reason"]) for r in dropped] == [
        ("f-1", "too_short"),
        ("f-2", "too_long"),
        ("f-3", "low_letter_ratio"),
        ("f-4", "duplicate_lines"),
        ("f-5", "gopher_too_few_words"),
    ]
    assert {(r["stage"], r["decision"]) for r in dropped} == {("filter", "filtered")}
    assert [r["bytes"] for r in dropped] == [len(texts[i].encode()) for i in (1, 2, 3, 4, 5)]
    assert result.kept.num_rows + result.dropped.num_rows == len(texts)


def test_batch_without_lang_column_is_judged_as_und() -> None:
    batch = batch_of([PROSE, POEM]).drop_columns(["lang"])
    result = quality_filter(batch, CFG)
    assert result.kept.column("id").to_pylist() == ["f-0"]
    assert result.dropped.column("reason").to_pylist() == ["gopher_too_few_words"]


def test_sample_poems_pass_defaults() -> None:
    batch = decode(read_partition(str(SAMPLE / "poems.warc.gz"), "poems", "warc").batch).kept
    batch = clean(batch, CleanConfig()).kept
    poems = batch.filter(
        pa.array(["/tang300/" in u or "/song100/" in u for u in batch.column("url").to_pylist()])
    )
    assert poems.num_rows >= 150
    poems = poems.append_column("lang", pa.array(["zh"] * poems.num_rows))  # what langid says
    result = quality_filter(poems, CFG)
    assert result.dropped.num_rows == 0, result.dropped.to_pylist()[:3]


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
    assert {"lang", "lang_score"} <= set(result.kept.column_names)
