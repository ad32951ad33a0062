"""Quality filter step: rule families applied in order, the first failure's reason wins.

Each family is a pure function `(doc, cfg) -> (True, None) | (False, reason)` in its own
module (datatrove style); the ledger reason is the first failing rule's code, so the report
can say how much each rule removed.  Order: basic (length, letters, repeated lines), then
the Chinese pack (zh only), Gopher repetition, Gopher quality, C4, FineWeb — cheap and
specific rules first, so word segmentation only runs on documents that got that far.
Families are switched on/off and scoped to languages in `FilterConfig`; a document's
language is the `lang` column set by the langid step ("und" when there is none).
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from pipeline.config import FilterConfig
from pipeline.config.filters import Family
from pipeline.steps import StepResult
from pipeline.steps.decode import split
from pipeline.steps.filters.base import Doc, RuleResult
from pipeline.steps.filters.basic import basic
from pipeline.steps.filters.c4 import c4
from pipeline.steps.filters.chinese import chinese
from pipeline.steps.filters.fineweb import fineweb
from pipeline.steps.filters.gopher import gopher_quality, gopher_repetition

STAGE = "filter"

Rule = Callable[[Doc, Family], RuleResult]


def families(cfg: FilterConfig) -> list[tuple[Family, Rule]]:
    """The rule families after the basic rules, in order, each with its config."""
    return [
        (cfg.chinese, chinese),
        (cfg.gopher.repetition, gopher_repetition),
        (cfg.gopher.quality, gopher_quality),
        (cfg.c4, c4),
        (cfg.fineweb, fineweb),
    ]


def first_failure(text: str, cfg: FilterConfig, lang: str | None = None) -> str | None:
    """Reason code of the first rule `text` fails, None if it passes them all."""
    doc = Doc(text, lang or "und")
    ok, reason = basic(doc, cfg)
    if not ok:
        return reason
    for family, rule in families(cfg):
        if family.applies(doc.lang):
            ok, reason = rule(doc, family)
            if not ok:
                return reason
    return None


def quality_filter(batch: pa.Table, cfg: FilterConfig) -> StepResult:
    texts = batch.column("text").to_pylist()
    langs = batch.column("lang").to_pylist() if "lang" in batch.column_names else [None] * len(texts)
    drops = {
        i: ("filtered", r)
        for i, (t, lang) in enumerate(zip(texts, langs, strict=True))
        if (r := first_failure(t or "", cfg, lang)) is not None
    }
    return split(batch, drops, STAGE)
