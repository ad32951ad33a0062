"""The pipeline job: one config composed of every step's config."""

from __future__ import annotations

from pydantic import Field

from pipeline.config.base import Strict
from pipeline.config.boilerplate import BoilerplateConfig
from pipeline.config.clean import CleanConfig
from pipeline.config.dedup import DedupConfig
from pipeline.config.extract import ExtractConfig
from pipeline.config.filters import FilterConfig
from pipeline.config.langid import LangIdConfig
from pipeline.config.pii import PiiConfig
from pipeline.config.quality import QualityConfig
from pipeline.config.read import ReadConfig


class PipelineConfig(Strict):
    shard_rows: int = Field(default=2000, gt=0, description="max documents per output shard")
    read: ReadConfig = ReadConfig()
    extract: ExtractConfig = ExtractConfig()
    clean: CleanConfig = CleanConfig()
    boilerplate: BoilerplateConfig = BoilerplateConfig()
    langid: LangIdConfig = LangIdConfig()
    filters: FilterConfig = FilterConfig()
    quality: QualityConfig = QualityConfig()
    pii: PiiConfig = PiiConfig()
    dedup: DedupConfig = DedupConfig()
