"""Cleaning and normalisation settings (the steps run in this order, each can be turned off)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from pipeline.config.base import Strict


class CleanConfig(Strict):
    fix_mojibake: bool = Field(
        default=True,
        description="repair UTF-8 read as Latin-1/Windows-1252 ('cafÃ©' → 'café') with ftfy; "
        "ftfy's width, quote and normalisation fixes stay off (those are decided below)",
    )
    unicode_form: Literal["NFKC", "NFC", "none"] = "NFKC"
    strip_control_chars: bool = True
    punctuation: Literal["keep", "halfwidth", "cjk_fullwidth"] = Field(
        default="cjk_fullwidth",
        description="after unicode_form: cjk_fullwidth writes , : ; ? ! ( ) ... next to Chinese/Japanese "
        "as ，：；？！（）…… (NFKC folds them to ASCII); halfwidth turns full-width punctuation "
        "into ASCII everywhere; keep leaves what unicode_form produced",
    )
    normalize_whitespace: bool = True
    t2s: bool = Field(
        default=False,
        description="convert documents written in Traditional Chinese to Simplified (OpenCC); "
        "adds the column text_original_script",
    )
    t2s_config: Literal["t2s", "tw2s", "tw2sp", "hk2s"] = Field(
        default="t2s",
        description="OpenCC config: t2s characters only; tw2s/hk2s Taiwan/Hong Kong variants; "
        "tw2sp also rewrites Taiwan vocabulary (軟體 → 软件)",
    )
