"""Language identification settings."""

from __future__ import annotations

from pydantic import Field

from pipeline.config.base import Strict


class LangIdConfig(Strict):
    enabled: bool = True
    keep_langs: list[str] | None = Field(default=None, description="ISO 639-1 codes; None keeps all")
