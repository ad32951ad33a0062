"""Normalisation applied before hashing or shingling, so trivial variants compare equal."""

from __future__ import annotations

import re
import unicodedata

_SPACE = re.compile(r"\s+")


def normalize_for_dedup(text: str) -> str:
    """NFKC (folds full-width/half-width forms), lower case, collapsed whitespace."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()
