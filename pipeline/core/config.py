"""The strict base every config model shares, and errors that name each bad field and its fix."""

from __future__ import annotations

import reprlib

from pydantic import BaseModel, ConfigDict, ValidationError


class Strict(BaseModel):
    """Unknown fields are errors (a typo never silently becomes a default); values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


_FIXES = {
    "extra_forbidden": "unknown field — remove it or check its spelling",
    "greater_than": "must be greater than {gt}",
    "missing": "required field — add it",
    "too_short": "must not be empty",
    "literal_error": "must be one of {expected}",
    "string_pattern_mismatch": "must match {pattern}",
    "finite_number": "must be a finite number",
}
MAX_SHOWN = 200  # characters of a bad value echoed in an error message

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 80
_short.maxlevel, _short.maxdict, _short.maxlist = 3, 6, 6


def _clip(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else f"{text[:MAX_SHOWN]}… ({len(text):,} characters)"


def describe_error(err: dict) -> str:
    """`field.path: what is wrong and how to fix it (got VALUE)` for one pydantic error."""
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    fix = _FIXES.get(err["type"])
    if fix:
        fix = fix.format(**(err.get("ctx") or {}))
        return f"{loc}: {fix} (got {_clip(_short.repr(err.get('input')))})"
    return f"{loc}: {_clip(err['msg'])}"


def format_validation_error(e: ValidationError) -> str:
    """Every bad field of a validation error, one per line."""
    return "\n  ".join(describe_error(err) for err in e.errors())
