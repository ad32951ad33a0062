"""HTML → text extraction settings."""

from __future__ import annotations

from pipeline.config.base import Strict


class ExtractConfig(Strict):
    include_tables: bool = True
    include_title: bool = True
