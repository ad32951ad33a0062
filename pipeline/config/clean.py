"""Cleaning and normalisation settings."""

from __future__ import annotations

from typing import Literal

from pipeline.config.base import Strict


class CleanConfig(Strict):
    unicode_form: Literal["NFKC", "NFC", "none"] = "NFKC"
    strip_control_chars: bool = True
    normalize_whitespace: bool = True
