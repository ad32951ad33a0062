"""Typed, validated configuration for the data pipeline (loaded from manifests/*.yaml).

One module per area, so each step's settings sit in one place; every model forbids unknown
fields, so a typo in a manifest fails before any work starts with the field's path in the
message (see `pipeline.cli.manifest`).
"""

from pipeline.config.base import Strict
from pipeline.config.boilerplate import BoilerplateConfig
from pipeline.config.clean import CleanConfig
from pipeline.config.dedup import DedupConfig
from pipeline.config.extract import ExtractConfig
from pipeline.config.filters import FilterConfig
from pipeline.config.langid import LangIdConfig
from pipeline.config.pii import PiiConfig
from pipeline.config.pipeline import PipelineConfig
from pipeline.config.quality import QualityConfig, QualityTrainConfig
from pipeline.config.read import ReadConfig
from pipeline.config.sources import SourceConfig, SourcesMixin

__all__ = [
    "BoilerplateConfig",
    "PiiConfig",
    "CleanConfig",
    "DedupConfig",
    "ExtractConfig",
    "FilterConfig",
    "LangIdConfig",
    "PipelineConfig",
    "QualityConfig",
    "QualityTrainConfig",
    "ReadConfig",
    "SourceConfig",
    "SourcesMixin",
    "Strict",
]
