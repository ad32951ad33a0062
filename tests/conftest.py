"""Suite-wide settings: never touch a model hub; keep CPU threads bounded on small CI machines."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "pipeline" / "sample_data"


@pytest.fixture
def sample_dir() -> Path:
    return SAMPLE
