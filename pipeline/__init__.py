"""Yuliao's data pipeline: crawl → clean, filtered, deduplicated, mixed Arrow datasets."""

from pipeline.core.version import __version__ as __version__
