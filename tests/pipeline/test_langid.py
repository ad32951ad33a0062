"""Language id: sample documents (poems, handbook pages), scripts, shares and the filters."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pydantic
import pytest

import pipeline
from pipeline.config import CleanConfig, ExtractConfig, LangIdConfig
from pipeline.io.readers import read_partition
from pipeline.steps import script
from pipeline.steps.clean import clean
from pipeline.steps.decode import decode
from pipeline.steps.extract import extract
from pipeline.steps.langid import SHARES_TYPE, analyze, detect, identify, paragraphs, sample, shares_of

SAMPLE = Path(pipeline.__file__).parent / "sample_data"
HANDBOOK = "https://debian-handbook.info/browse/{}/{}.html"
LANGS = {
    "en-US": ("en", "Latn"),
    "fr-FR": ("fr", "Latn"),
    "de-DE": ("de", "Latn"),
    "ru-RU": ("ru", "Cyrl"),
    "zh-CN": ("zh", "Hans"),
    "zh-TW": ("zh", "Hant"),
    "ja-JP": ("ja", "Jpan"),
}
# one page per locale; the zh-TW case study is mostly untranslated English once the extractor
# leaves the Chinese table of contents out, so zh-TW uses a translated page
PAGE = {"zh-TW": "sect.administration-interfaces"}
ZH_MANUAL = HANDBOOK.format("zh-CN", "apt")  # a zh-CN page that is mostly untranslated English

ZH_HANS = (
    "这是一个用简体中文写的段落，我们需要确认它会被识别为中文，并且判断为简体字。软件包管理系统非常重要。"
)
ZH_HANT = (
    "這是一個用繁體中文寫的段落，我們需要確認它會被識別為中文，並且判斷為繁體字。軟體套件管理系統非常重要。"
)
EN = "This paragraph is written in plain English so that the detector has enough words to decide with confidence."
FR = "Ce paragraphe est écrit en français courant afin que le détecteur dispose de suffisamment de mots pour décider."
CODE = "\n".join(
    [
        "root   71  0.0  0.1  99800  5724 ?  Ssl  01:37  0:00 /sbin/dhclient -4 -v -i -pf /run/dhclient.eth0.pid",
        'KERNEL=="sd?[0-9]", SUBSYSTEM=="block", ATTRS{serial}=="07032998B60AB777", SYMLINK+="usb_key/part%n"',
        "lrwxrwxrwx 1 root root 10 23 jul. 08:58 ata-WDC_WD5001AALS-00L3B2_WD-WCAT00241697-part2 -> ../../sdb2",
    ]
)


@pytest.fixture(scope="module")
def docs() -> pa.Table:
    """Handbook pages in seven locales + the 300 sample poems, cleaned."""
    pages = decode(read_partition(str(SAMPLE / "handbook.warc.gz"), "web", "warc").batch).kept
    wanted = {HANDBOOK.format(loc, PAGE.get(loc, "case-study")) for loc in LANGS} | {ZH_MANUAL}
    pages = pages.filter(pa.array([u in wanted for u in pages.column("url").to_pylist()]))
    poems = decode(read_partition(str(SAMPLE / "poems.warc.gz"), "poems", "warc").batch).kept
    batch = extract(pa.concat_tables([pages, poems]), ExtractConfig()).kept
    return clean(batch, CleanConfig()).kept


@pytest.fixture(scope="module")
def rows(docs: pa.Table) -> dict[str, dict]:
    result = identify(docs, LangIdConfig())
    assert result.dropped.num_rows == 0
    return {r["url"]: r for r in result.kept.to_pylist()}


@pytest.mark.parametrize("locale,expected", LANGS.items())
def test_handbook_languages(rows: dict[str, dict], locale: str, expected: tuple[str, str]) -> None:
    row = rows[HANDBOOK.format(locale, PAGE.get(locale, "case-study"))]
    assert (row["lang"], row["script"]) == expected
    assert 0.5 < row["lang_score"] <= 1.0
    shares = shares_of(row["lang_shares"])
    assert shares[expected[0]] == max(shares.values())
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-3)


def test_poems_are_chinese(rows: dict[str, dict]) -> None:
    tang = [r for u, r in rows.items() if "/tang300/" in u]
    assert len(tang) == 150
    assert {(r["lang"], r["script"]) for r in tang} == {("zh", "Hans")}


def test_mixed_chinese_manual_shares(rows: dict[str, dict]) -> None:
    """A Chinese page that is mostly untranslated English: en leads, zh keeps a real share."""
    shares = shares_of(rows[ZH_MANUAL]["lang_shares"])
    assert rows[ZH_MANUAL]["lang"] == "en"
    assert 0.15 < shares["zh"] < 0.5


def test_columns(docs: pa.Table) -> None:
    out = identify(docs.slice(0, 2), LangIdConfig()).kept
    assert out.column_names == docs.column_names + ["lang", "lang_score", "script", "lang_shares"]
    assert out.schema.field("lang_score").type == pa.float64()
    assert out.schema.field("lang_shares").type == SHARES_TYPE
    shares = out.column("lang_shares").to_pylist()[0]
    assert [s["share"] for s in shares] == sorted((s["share"] for s in shares), reverse=True)


def test_original_script_survives_t2s() -> None:
    """clean.t2s turns Traditional text into Simplified; `script` still says Hant."""
    texts = [ZH_HANT, ZH_HANS, EN]
    batch = clean(_batch(texts), CleanConfig(t2s=True)).kept
    assert batch.column("text").to_pylist()[0] != ZH_HANT  # converted
    out = identify(batch, LangIdConfig()).kept
    assert out.column("script").to_pylist() == ["Hant", "Hans", "Latn"]


def test_keep_langs_filters(docs: pa.Table) -> None:
    result = identify(docs, LangIdConfig(keep_langs=["zh"]))
    assert set(result.kept.column("lang").to_pylist()) == {"zh"}
    dropped = result.dropped.to_pylist()
    reasons = {r["reason"] for r in dropped}
    assert {"lang_not_kept:en", "lang_not_kept:fr", "lang_not_kept:de", "lang_not_kept:ja"} <= reasons
    assert {r["stage"] for r in dropped} == {"langid"} and {r["decision"] for r in dropped} == {"filtered"}
    assert result.kept.num_rows + result.dropped.num_rows == docs.num_rows


def test_min_share_keeps_chinese_with_english(docs: pa.Table) -> None:
    manual = docs.filter(pa.array([u == ZH_MANUAL for u in docs.column("url").to_pylist()]))
    kept = identify(manual, LangIdConfig(keep_langs=["zh"], min_share=0.15))
    assert kept.kept.num_rows == 1 and kept.kept.column("lang").to_pylist() == ["en"]
    dropped = identify(manual, LangIdConfig(keep_langs=["zh"], min_share=0.6)).dropped
    assert dropped.column("reason").to_pylist() == ["lang_not_kept:en"]


def _batch(texts: list[str]) -> pa.Table:
    n = len(texts)
    return pa.table(
        {
            "id": [str(i) for i in range(n)],
            "source": ["s"] * n,
            "bytes": [len(t) for t in texts],
            "text": texts,
        }
    )


def test_share_below_and_low_score() -> None:
    mostly_code = ZH_HANS + "\n" + "\n".join([CODE] * 4)
    doc = analyze(mostly_code, LangIdConfig())
    assert doc.lang == "zh" and doc.shares["und"] > 0.8  # code is nobody's language
    result = identify(_batch([mostly_code, ZH_HANS]), LangIdConfig(keep_langs=["zh"], min_share=0.3))
    assert result.dropped.column("reason").to_pylist() == ["lang_share_below:zh"]
    assert result.kept.column("text").to_pylist() == [ZH_HANS]
    result = identify(_batch([CODE, EN]), LangIdConfig(min_lang_score=0.5))
    assert result.dropped.column("reason").to_pylist() == ["lang_low_score"]


def test_disabled(docs: pa.Table) -> None:
    result = identify(docs, LangIdConfig(enabled=False, keep_langs=["zh"]))
    assert result.dropped.num_rows == 0
    assert set(result.kept.column("lang").to_pylist()) == {"und"}
    assert set(result.kept.column("lang_score").to_pylist()) == {0.0}
    assert set(result.kept.column("lang_shares").to_pylist()) == {None}


def test_detect_edge_cases() -> None:
    assert detect("") == ("und", 0.0)
    assert detect("  \n ") == ("und", 0.0)
    assert detect("12345 67 -- 89") == ("und", 0.0)
    lang, _ = detect("The quick brown fox jumps over the lazy dog. " * 5000)  # sampled, not read whole
    assert lang == "en"


def test_code_only_documents() -> None:
    assert detect(CODE) == ("en", 0.0)  # labelled by convention, with no evidence behind it
    assert detect(CODE, LangIdConfig(code_lang="und")) == ("und", 0.0)
    assert analyze(CODE, LangIdConfig()).shares == {"und": 1.0}


def test_scripts_decide_without_a_model() -> None:
    cases = {
        ZH_HANS: ("zh", "Hans"),
        ZH_HANT: ("zh", "Hant"),
        "日本語の文章です。これは漢字とひらがなとカタカナを含む、ごく普通の日本語の段落になります。": (
            "ja",
            "Jpan",
        ),
        "이 문단은 한국어로 작성되었으며 한글만으로도 언어를 판별할 수 있어야 합니다.": ("ko", "Kore"),
        "Αυτή η παράγραφος είναι γραμμένη στα ελληνικά και πρέπει να αναγνωριστεί σωστά.": ("el", "Grek"),
    }
    for text, expected in cases.items():
        doc = analyze(text, LangIdConfig())
        assert (doc.lang, doc.script, doc.score) == (*expected, 1.0), text


def test_script_narrows_the_model() -> None:
    ru = "Этот абзац написан на русском языке, чтобы детектор мог уверенно определить язык текста."
    ar = "هذه الفقرة مكتوبة باللغة العربية حتى يتمكن الكاشف من تحديد لغة النص بثقة كافية."
    assert analyze(ru, LangIdConfig()).lang == "ru" and analyze(ru, LangIdConfig()).script == "Cyrl"
    assert analyze(ar, LangIdConfig()).lang == "ar" and analyze(ar, LangIdConfig()).script == "Arab"


def test_chinese_with_inline_commands_is_chinese() -> None:
    text = "文件 /etc/apt/preferences 和 /etc/apt/preferences.d/ 的参考文档在手册的 apt_preferences(5)，使用 man apt_preferences 命令就可看到。"
    assert analyze(text, LangIdConfig()).lang == "zh"


def test_mixed_document_shares() -> None:
    doc = analyze("\n".join([ZH_HANT, EN, EN, FR]), LangIdConfig())
    assert doc.lang == "en"
    assert set(doc.shares) == {"en", "fr", "zh"}
    assert doc.shares["en"] == pytest.approx(2 * len(EN) / (len(ZH_HANT) + 2 * len(EN) + len(FR)), abs=1e-3)
    assert doc.script == "Latn"


def test_japanese_is_not_chinese() -> None:
    kanji_heavy = "東京都庁の職員は毎日多くの書類を処理している。会議は午後三時から開催される予定だ。"
    assert analyze(kanji_heavy, LangIdConfig()).lang == "ja"
    assert (
        script.dominant(script.letter_counts("中文里偶尔出现の字符，但这仍然是一段中文文本内容。")) == "Hani"
    )


def test_lingua_decides_without_fast_path() -> None:
    cfg = LangIdConfig(languages=["en", "fr", "de", "zh"], fast_min_prob=None, accurate_model="lingua")
    de = "Dieser Absatz ist auf Deutsch geschrieben, damit der Detektor genug Wörter hat."
    assert [detect(t, cfg)[0] for t in (EN, FR, de)] == ["en", "fr", "de"]
    assert 0.5 < detect(FR, cfg)[1] <= 1.0


def test_languages_outside_the_set_are_und() -> None:
    hebrew = "פסקה זו כתובה בעברית כדי לבדוק שהשפה אינה מזוהה כאשר היא לא ברשימה."
    assert detect(hebrew)[0] == "he"
    assert detect(hebrew, LangIdConfig(languages=["en", "zh"])) == ("und", 0.0)


def test_han_variant_by_characters() -> None:
    assert script.han_variant(ZH_HANS) == "Hans"
    assert script.han_variant(ZH_HANT) == "Hant"
    assert script.han_variant("中文") == "Hans"  # no evidence either way
    assert script.han_variant("台灣的軟體") == "Hant"  # 台 is shared, 灣/軟/體 are not


def test_prose_drops_code_tokens() -> None:
    text, share = script.prose("Edit /etc/hosts and run apt-get -y install foo_bar with DNS set up")
    assert text == "Edit and run apt-get install with set up"
    assert share == pytest.approx(8 / 12)  # 12 tokens, 8 kept


def test_paragraphs_join_short_lines() -> None:
    pars = paragraphs(["Short line.", "Another one.", EN, "tail"], min_letters=40)
    assert [p.text.count("\n") + 1 for p in pars] == [3, 1] or [p.text.count("\n") + 1 for p in pars] == [4]
    assert sum(p.chars for p in pars) == sum(map(len, ["Short line.", "Another one.", EN, "tail"]))
    assert len(paragraphs(["hi"], min_letters=40)) == 1  # a short document is still one paragraph


def test_sample_bounds_long_documents() -> None:
    lines = [f"line {i} " + "x" * 90 for i in range(1000)]
    picked = sample("\n".join(lines), 10_000)
    assert sum(map(len, picked)) <= 10_000 + 100
    assert picked[0] == lines[0] and any(p.startswith("line 9") and len(p.split()[1]) == 3 for p in picked)
    assert sample("a\n\n b \n", 10_000) == ["a", "b"]


def test_config_validation() -> None:
    with pytest.raises(pydantic.ValidationError, match="not supported by lingua"):
        LangIdConfig(languages=["en", "xx"])
    with pytest.raises(pydantic.ValidationError, match="can never be detected"):
        LangIdConfig(keep_langs=["ms"])
    with pytest.raises(pydantic.ValidationError, match="min_share"):
        LangIdConfig(min_share=0.3)
    with pytest.raises(pydantic.ValidationError, match="code_lang"):
        LangIdConfig(code_lang="code")
    with pytest.raises(pydantic.ValidationError, match="accurate_model"):
        LangIdConfig(accurate_model="cld2")
    with pytest.raises(pydantic.ValidationError, match="fast_min_prob_short"):
        LangIdConfig(fast_min_prob=0.9, fast_min_prob_short=0.8)
    assert LangIdConfig(languages=["id", "ms"], keep_langs=["ms"]).keep_langs == ["ms"]


def test_first_look_settles_monolingual_pages_and_rereads_mixed_ones(monkeypatch) -> None:
    import pipeline.steps.langid as lid
    from pipeline.config import LangIdConfig

    calls: list[int] = []
    real = lid._analyze

    def counting(lines, cfg):
        calls.append(sum(len(x) for x in lines))
        return real(lines, cfg)

    monkeypatch.setattr(lid, "_analyze", counting)
    cfg = LangIdConfig()
    zh = "长城是中国古代的军事防御工程，修筑历史可上溯到西周时期，绵延万里。\n" * 200
    en = "The wall was built over many centuries to protect the northern borders.\n" * 200
    one = lid.analyze(zh, cfg)
    assert one.lang == "zh" and len(calls) == 1 and calls[0] <= cfg.quick_chars
    calls.clear()
    mixed = lid.analyze(zh[: len(zh) // 2] + en[: len(en) // 2], cfg)
    assert len(calls) == 2 and calls[1] > cfg.quick_chars  # re-read at max_chars
    assert 0.3 < mixed.shares["zh"] < 0.7 and 0.3 < mixed.shares["en"] < 0.7


# Debian Administrator's Handbook lines (CC-BY-SA 3.0 / GPL-2+), one per language, each
# monolingual prose: where fastText and the accurate model are both sure, they must agree.
HANDBOOK_LINES = {
    "en": "suites can be more risky, package maintainers sometimes voluntarily offer recompilations of recent "
    "software applications for",
    "fr": "semodule. En outre, il faut pouvoir définir les rôles accessibles à chaque utilisateur ; pour cela "
    "c'est la commande semanage qu'il faudra utiliser.",
    "de": "und wieder andere kommen von der Befehlszeile ausgelöst durch Paket-Konfigurationsskripte (manchmal von",
    "es": "Para efectivamente tomar el control de su mantenimiento, uno podría analizar un equipo que ya ejecuta Debian.",
    "pt": "(Session Initiation Protocol), um aplicativo cliente ou dispositivo também é conhecido como agente do usuário.",
    "it": "Prima di gettarsi a capofitto, è fortemente consigliato leggere il resto di questo libro. Dopo di che "
    "si capirà meglio come configurare i servizi previsti.",
    "nb": "Vi ønsker å takke alle som har bidratt i disse innsamlingsaksjonene, enten ved å garantere, eller ved "
    "å formidle budskapet videre. Vi kunne ikke klart det uten deg.",
    "sv": "Detta verktyg används mest för teknisk assistans; administratören kan se felen som användare möter, "
    "och visa dem den rätta åtgärden utan att vara fysiskt närvarande.",
    "pl": "System informatyczny napotkał trudności w nadążaniu za rozwojem firmy, dlatego zdecydowano się na "
    "całkowitą jego zmianę, aby osiągnąć różne cele postawione przez zarząd:",
    "cs": "apt-cache umožňuje pouze prohledávání jmen balíčků a popisů, což je velmi pohodlné, když vyhledáváte "
    "určitý balíček, který odpovídá málu cílovým klíčovým slovům.",
    "ru": "указывает версию политики Debian, которой соответствует пакет. Сопровождающие должны обеспечивать "
    "соответствие последней версии политики Debian.",
    "ar": "إذا واجهتهم مشاكل، سوف يبلغون عنها إلى مشرف الحزمة. بعدها يحضر المشرف نسخاً مصححة بانتظام، التي "
    "يرفعها إلى المخدم.",
}


@pytest.mark.parametrize("accurate_model", ["py3langid", "lingua"])
def test_cascade_agrees_with_the_accurate_model_where_both_are_sure(accurate_model: str) -> None:
    from pipeline.steps.langid import SCRIPT_CANDIDATES, accurate_label, fast_label

    # lingua over a few languages only: its models for all defaults take ~650 MB and seconds
    languages = list(HANDBOOK_LINES) if accurate_model == "py3langid" else ["en", "fr", "de", "es", "it"]
    cfg = LangIdConfig(languages=languages, accurate_model=accurate_model)
    sure = 0
    for lang, line in HANDBOOK_LINES.items():
        if lang not in languages:
            continue
        script_ = script.dominant(script.letter_counts(line))
        candidates = SCRIPT_CANDIDATES[script_] & frozenset(languages)
        text = script.prose(line)[0] if script_ == "Latn" else script.in_script(line, script_)
        fast, accurate = fast_label(text, candidates), accurate_label(text, candidates, accurate_model)
        doc = analyze(line, cfg)
        assert doc.lang == lang, line
        if fast is not None and fast.score >= cfg.fast_min_prob and accurate.score >= 0.9:
            sure += 1
            assert doc.lang == accurate.lang
            assert doc.score == pytest.approx(
                fast.score, abs=1e-4
            )  # fastText decided, not the accurate model
    assert sure >= len(languages) - 1  # the comparison covered (nearly) every language


def test_short_or_unsure_paragraphs_go_to_the_accurate_model() -> None:
    from pipeline.steps.langid import SCRIPT_CANDIDATES, accurate_label, fast_label

    cfg = LangIdConfig()
    candidates = SCRIPT_CANDIDATES["Latn"] & frozenset(cfg.languages)
    short = "Lisez la documentation du paquet."  # fewer letters than fast_min_letters
    assert script.letter_counts(short)["Latn"] < cfg.fast_min_letters
    fast = fast_label(short, candidates)
    assert cfg.fast_min_prob <= fast.score < cfg.fast_min_prob_short  # sure enough only for a long one
    expected = accurate_label(short, candidates, "py3langid")
    assert detect(short, cfg) == (expected.lang, pytest.approx(round(expected.score, 4)))
    as_long = LangIdConfig(fast_min_letters=10)
    assert detect(short, as_long) == (fast.lang, pytest.approx(round(fast.score, 4)))
    # long enough for fastText, but it must be at least `fast_min_prob` sure to decide alone
    line = HANDBOOK_LINES["nb"]
    fast = fast_label(line, candidates)
    above = min(1.0, fast.score + 0.01)
    strict = LangIdConfig(fast_min_prob=above, fast_min_prob_short=max(above, cfg.fast_min_prob_short))
    expected = accurate_label(line, candidates, "py3langid")
    assert detect(line, strict) == (expected.lang, pytest.approx(round(expected.score, 4)))
    assert detect(line, cfg) == ("nb", pytest.approx(round(fast.score, 4)))


def test_candidates_fasttext_does_not_know_go_to_the_accurate_model() -> None:
    """lid.176 has no Zulu: among en and zu it would never say zu, so it does not decide."""
    from pipeline.steps.langid import accurate_label

    cfg = LangIdConfig(languages=["en", "zu"])
    line = "Ngiyabonga kakhulu for the packages, the mirror in Johannesburg is fast again today."
    expected = accurate_label(script.prose(line)[0], frozenset({"en", "zu"}), "py3langid")
    assert expected.score < 0.99  # fastText, knowing no Zulu, would say en with certainty 1.0
    assert detect(line, cfg) == (expected.lang, pytest.approx(round(expected.score, 4)))


def test_fasttext_model_loads_from_the_wheel_without_network(tmp_path: Path) -> None:
    """The shipped lid.176.ftz loads and predicts with every socket call refused."""
    import subprocess
    import sys

    code = (
        "import os, socket, sys\n"
        "def refuse(*a, **k):\n"
        "    os._exit(97)\n"
        "socket.getaddrinfo = socket.create_connection = socket.socket.connect = refuse\n"
        "from pipeline.steps.langid import fasttext_model\n"
        "print(fasttext_model().predict('Dies ist ein deutscher Satz über Pakete.', k=1)[0][0])\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(Path(pipeline.__file__).parents[1]),
        "HOME": str(tmp_path),
    }
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "__label__de"


# A zh-TW release note that is mostly English: its few Chinese lines write 台 and 群 as Taiwan
# does (OpenCC's s2t "converts" both, so counting s2t's changes called such pages Hans).
TW_MOSTLY_ENGLISH = "\n".join(
    [
        "Debian 12 bookworm release notes",
        "由台灣社群翻譯",
        "This release ships with the Linux kernel 6.1 and over 11,000 new packages. Upgrades from "
        "Debian 11 bullseye are supported; read the chapter on upgrading before you start.",
        "台灣 Debian 使用者群組",
        "Report translation problems to the localization team mailing list, and mention the page "
        "and the paragraph so that the translators can find them quickly.",
        "把套件上傳到平台",
    ]
)
CN_MOSTLY_ENGLISH = "\n".join(
    [
        "Debian 12 bookworm release notes",
        "由中国社区翻译",
        "This release ships with the Linux kernel 6.1 and over 11,000 new packages. Upgrades from "
        "Debian 11 bullseye are supported; read the chapter on upgrading before you start.",
        "把软件包上传到平台",
    ]
)


def test_han_variant_of_a_mostly_english_page() -> None:
    assert script.han_variant(TW_MOSTLY_ENGLISH) == "Hant"
    assert script.han_variant(CN_MOSTLY_ENGLISH) == "Hans"
    assert script.han_evidence(TW_MOSTLY_ENGLISH) == (5, 0)  # 灣 翻 譯 組 傳; 台 and 群 are shared
    doc = analyze(TW_MOSTLY_ENGLISH, LangIdConfig())
    assert (doc.lang, doc.script) == ("en", "Latn")  # `script` stays the script of the page's language


def test_script_column_of_a_chinese_page_with_much_english() -> None:
    """Chinese leads by a little; its Taiwan forms (台, 群) are not simplified evidence."""
    page = "\n".join(
        [
            "台中與台南的社群成員",
            "在平台上建立新的群組",
            "Please read the release notes before you upgrade the system.",
            "台灣使用者社群",
            "歡迎加入台灣 Debian 使用者群組",
            "由台灣社群翻譯",
            "把套件上傳到平台",
            "台北社群聚會",
        ]
    )
    doc = analyze(page, LangIdConfig())
    assert doc.lang == "zh" and doc.shares["en"] > 0.4
    assert doc.script == "Hant"
