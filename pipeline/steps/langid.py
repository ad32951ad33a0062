"""Document language with py3langid (naive Bayes over byte n-grams, model inside the wheel).

Only a bounded prefix is classified: language is settled within a couple of thousand
characters and the cost is linear in length.  Scores are normalised probabilities, so a
later stage can threshold on them.
"""

from __future__ import annotations

import pyarrow as pa
from py3langid.langid import MODEL_FILE, LanguageIdentifier

from pipeline.config import LangIdConfig
from pipeline.steps import StepResult
from pipeline.steps.decode import split

STAGE = "langid"
PREFIX_CHARS = 2000
UNDETERMINED = "und"

# Chinese varieties the model tells apart but ISO 639-1 does not: all are written in Han
# characters and belong under "zh" (the macrolanguage), so `keep_langs: [zh]` keeps them.
MACROLANGUAGE = {"yue": "zh", "wuu": "zh", "cmn": "zh", "lzh": "zh"}

_identifier: LanguageIdentifier | None = None


def identifier() -> LanguageIdentifier:
    """The model, loaded once per process on first use (about a second)."""
    global _identifier
    if _identifier is None:
        _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _identifier


def detect(text: str) -> tuple[str, float]:
    """(ISO 639-1 code where one exists, probability); ('und', 0.0) for blank text."""
    prefix = text[:PREFIX_CHARS]
    if not prefix.strip():
        return UNDETERMINED, 0.0
    lang, score = identifier().classify(prefix)
    return MACROLANGUAGE.get(lang, lang), float(score)


def identify(batch: pa.Table, cfg: LangIdConfig) -> StepResult:
    """Add `lang` and `lang_score`; drop languages outside `cfg.keep_langs` when set."""
    texts = batch.column("text").to_pylist()
    results = [detect(t or "") if cfg.enabled else (UNDETERMINED, 0.0) for t in texts]
    out = batch.append_column("lang", pa.array([r[0] for r in results], pa.string()))
    out = out.append_column("lang_score", pa.array([r[1] for r in results], pa.float64()))
    drops: dict[int, tuple[str, str]] = {}
    if cfg.enabled and cfg.keep_langs is not None:
        keep = set(cfg.keep_langs)
        drops = {
            i: ("filtered", f"lang_not_kept:{lang}")
            for i, (lang, _) in enumerate(results)
            if lang not in keep
        }
    return split(out, drops, STAGE)
