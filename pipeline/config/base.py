"""The strict config base lives in the core (pipeline/core/config.py), shared by every part."""

from pipeline.core.config import Strict

__all__ = ["Strict"]
