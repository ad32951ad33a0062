"""Yuliao's data pipeline: crawl → clean, filtered, deduplicated, mixed Arrow datasets."""

__version__ = "0.1.0"
