"""Quality filter thresholds: basic rules plus one nested model per rule family.

Every family can be switched off (`enabled`) and scoped to languages: `langs` (None = every
language) minus `skip_langs`.  The `lang` column comes from the langid step.  Defaults are
the published values; each field's description names its source.  The word-based families
(Gopher quality, C4, FineWeb) skip unsegmented Chinese and Japanese by default: their word,
line-length and sentence rules were tuned on English and misfire there (a 28-character
quatrain is "too few words", every poem line is a "short line"); Chinese documents get the
Chinese pack instead.  Gopher repetition is script-neutral and runs on every language.
"""

from __future__ import annotations

from pydantic import Field

from pipeline.config.base import Strict

UNSEGMENTED = ["zh", "ja"]


class Family(Strict):
    """What every rule family shares: on/off and the languages it judges."""

    enabled: bool = True
    langs: list[str] | None = Field(default=None, description="languages judged; None = all")
    skip_langs: list[str] = Field(default_factory=list, description="languages never judged")

    def applies(self, lang: str | None) -> bool:
        if not self.enabled or (lang or "und") in self.skip_langs:
            return False
        return self.langs is None or (lang or "und") in self.langs


class GopherQualityConfig(Family):
    """Rae et al. 2021 (Gopher / MassiveText), App. A; defaults as datatrove GopherQualityFilter."""

    skip_langs: list[str] = Field(default_factory=lambda: list(UNSEGMENTED))
    min_words: int = Field(default=50, ge=0, description="Gopher: 50 non-symbol words")
    max_words: int = Field(default=100_000, gt=0, description="Gopher: 100,000 words")
    min_mean_word_length: float = Field(default=3, ge=0, description="Gopher: 3 characters")
    max_mean_word_length: float = Field(default=10, gt=0, description="Gopher: 10 characters")
    max_symbol_word_ratio: float = Field(
        default=0.1, ge=0, description="Gopher: '#' and ellipsis, each, per word"
    )
    max_bullet_line_ratio: float = Field(default=0.9, ge=0, le=1, description="Gopher: 90% of lines")
    max_ellipsis_line_ratio: float = Field(default=0.3, ge=0, le=1, description="Gopher: 30% of lines")
    min_alpha_word_ratio: float = Field(
        default=0.8, ge=0, le=1, description="Gopher: 80% of words contain an alphabetic character"
    )
    min_stop_words: int = Field(default=2, ge=0, description="Gopher: at least 2 of the stop words")
    stop_words: dict[str, list[str]] = Field(
        default_factory=lambda: {"en": ["the", "be", "to", "of", "and", "that", "have", "with"]},
        description="per language; the stop-word rule runs only for languages listed here "
        "(FineWeb-2 publishes lists for others, e.g. configs/cmn_Hani.yml)",
    )


class GopherRepetitionConfig(Family):
    """Rae et al. 2021, Table A1; defaults as datatrove GopherRepetitionFilter."""

    max_dup_line_frac: float = Field(default=0.3, ge=0, le=1, description="Gopher Table A1: 0.30")
    max_dup_para_frac: float = Field(default=0.3, ge=0, le=1, description="Gopher Table A1: 0.30")
    max_dup_line_char_frac: float = Field(default=0.2, ge=0, le=1, description="Gopher Table A1: 0.20")
    max_dup_para_char_frac: float = Field(default=0.2, ge=0, le=1, description="Gopher Table A1: 0.20")
    top_ngram_char_frac: dict[int, float] = Field(
        default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16},
        description="Gopher Table A1: most frequent n-gram's share of characters",
    )
    dup_ngram_char_frac: dict[int, float] = Field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10},
        description="Gopher Table A1: share of characters in repeated n-grams",
    )


class GopherConfig(Strict):
    quality: GopherQualityConfig = GopherQualityConfig()
    repetition: GopherRepetitionConfig = GopherRepetitionConfig()


class C4Config(Family):
    """Raffel et al. 2020 (C4), §2.2, document-level rules only.

    Line removal (javascript, policy, no terminal punctuation) belongs to the boilerplate
    step; here those lines merely do not count as sentences.  Values as TFDS `c4_utils`
    (_MIN_NUM_SENTENCES = 3, _MIN_WORDS_PER_LINE = 5); datatrove swaps them (5 and 3).
    """

    skip_langs: list[str] = Field(default_factory=lambda: list(UNSEGMENTED))
    min_sentences: int = Field(default=3, ge=0, description="C4: pages with fewer than 3 sentences")
    min_words_per_line: int = Field(default=5, ge=0, description="C4: lines of at least 5 words count")
    lorem_ipsum: bool = Field(default=True, description="C4: drop pages containing 'lorem ipsum'")
    curly_bracket: bool = Field(
        default=False,
        description="C4 drops every page containing '{' (its code filter); off by default: it "
        "removes technical documentation with config or code listings (7 Debian Handbook pages "
        "in the sample, none of them boilerplate)",
    )


class FineWebConfig(Family):
    """Penedo et al. 2024 (FineWeb), its three custom filters plus datatrove's list ratio."""

    skip_langs: list[str] = Field(default_factory=lambda: list(UNSEGMENTED))
    min_line_punct_ratio: float = Field(
        default=0.12, ge=0, le=1, description="FineWeb: ≥ 12% of lines end in terminal punctuation"
    )
    max_short_line_ratio: float = Field(
        default=0.67, ge=0, le=1, description="FineWeb: ≤ 67% of lines are short"
    )
    short_line_chars: int = Field(default=30, ge=1, description="FineWeb: short = ≤ 30 characters")
    max_dup_line_char_ratio: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="FineWeb blog: chars in duplicated lines ≤ 10% (datatrove's default is 0.01)",
    )
    max_newline_word_ratio: float = Field(
        default=0.3, ge=0, description="datatrove FineWebQualityFilter: newlines per word ≤ 0.3"
    )


class ChineseConfig(Family):
    """Chinese rule pack, after ChineseWebText (Chen et al. 2023, EvalWeb `preprocess.py`)
    and FineWeb-2 `configs/cmn_Hani.yml`; applies to documents whose `lang` is zh."""

    langs: list[str] | None = Field(default_factory=lambda: ["zh"])
    min_han_chars: int = Field(
        default=20,
        ge=0,
        description="ChineseWebText drops texts ≤ 200 chars; 20 keeps a complete 5-character "
        "quatrain (绝句, 4×5 = 20 Han characters) — set 200 for web-only crawls",
    )
    min_cjk_ratio: float = Field(
        default=0.3, ge=0, le=1, description="ChineseWebText: Han characters / text ≥ 30%"
    )
    min_mean_line_chars: float = Field(
        default=8,
        ge=0,
        description="ChineseWebText uses 10 (blank lines included); we use 8 over non-blank lines: "
        "five-character regulated verse with title and author lines averages 9–10",
    )
    min_sentence_end_ratio: float = Field(
        default=0.106,
        ge=0,
        le=1,
        description="FineWeb-2 cmn_Hani line_punct_thr: share of lines ending in 。！？…",
    )
    max_char_run_ratio: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="ours: share of characters in runs of ≥ char_run_length identical characters",
    )
    char_run_length: int = Field(default=5, ge=2, description="ours: 哈哈哈哈哈, ！！！！！")
    max_ngram_dup_ratio: float = Field(
        default=0.5, ge=0, le=1, description="ChineseWebText: repeated char 13-grams ≤ 50%"
    )
    dup_ngram_size: int = Field(default=13, ge=2, description="ChineseWebText: 13-gram")
    max_spam_per_line: float = Field(
        default=0.5,
        ge=0,
        description="ChineseWebText: sensitive words per line ≤ 0.5 (we count occurrences)",
    )
    spam_keywords: list[str] | None = Field(
        default=None, description="None = the shipped list (pipeline/steps/filters/zh_keywords.py)"
    )


class FilterConfig(Strict):
    """Quality rules; each failing rule drops the document with its own reason code.

    Order (first failure wins): basic → chinese → gopher repetition → gopher quality → c4 →
    fineweb; cheap, specific rules run before the ones that need word segmentation.
    """

    min_chars: int = Field(default=20, ge=0, description="visible (non-space) characters")
    max_chars: int = Field(default=1_000_000, gt=0)
    min_letter_ratio: float = Field(
        default=0.5, ge=0, le=1, description="letters (incl. CJK) / visible chars"
    )
    max_duplicate_line_fraction: float = Field(default=0.3, ge=0, le=1, description="Gopher: repeated lines")
    min_lines_for_duplicate_rule: int = Field(default=4, ge=1)
    gopher: GopherConfig = GopherConfig()
    c4: C4Config = C4Config()
    fineweb: FineWebConfig = FineWebConfig()
    chinese: ChineseConfig = ChineseConfig()
