"""Mixture-weighted training sample: the tokenizer sees the distribution the model will train on.

Mixture weights are shares of training *tokens*; before a tokenizer exists, UTF-8 bytes are the
proxy.  Source s keeps each document `rate_s = p_s × sample_bytes / bytes_s` times in expectation:
floor(rate) copies plus one more with probability frac(rate), decided by a counter-based draw keyed
by (seed, source, document number within the source).  So a small, heavily weighted source is
repeated (as training will repeat it) and a huge one is thinned, the sample streams in one pass,
and the same seed gives the same sample.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from pipeline.core.rng import name_key, uniform
from tokenization.inputs import DatasetError, Doc
from tokenization.mixture import read_mixture, source_probabilities

log = logging.getLogger(__name__)
_BATCH = 1024


def load_weights(path: str | Path) -> dict[str, float]:
    """Source -> weight from a mixture.json (its stream probabilities) or a run manifest YAML (`weight`s)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"mixture not found: {path}")
    if path.suffix.lower() not in (".yaml", ".yml"):
        try:
            return source_probabilities(read_mixture(path))
        except ValueError as e:
            raise DatasetError(str(e)) from None
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    sources = [s for s in data.get("sources", []) if isinstance(s, dict) and "name" in s]
    weights = {str(s["name"]): float(s.get("weight", 0.0)) for s in sources}
    weights = {k: w for k, w in weights.items() if w > 0}
    if not weights:
        raise DatasetError(f"{path}: no sources with a positive weight")
    return dict(sorted(weights.items()))


def sample_rates(
    weights: dict[str, float], text_bytes: dict[str, int], sample_bytes: int | None = None
) -> dict[str, float]:
    """Expected copies per document for each source present in the data (0 for unweighted sources)."""
    present = {s: w for s, w in weights.items() if text_bytes.get(s, 0) > 0}
    missing = sorted(set(weights) - set(present))
    if missing:
        log.warning(
            "mixture sources %s have no text in the input; weights renormalised without them", missing
        )
    if not present:
        raise DatasetError(
            f"no mixture source has text in the input: mixture {sorted(weights)}, input {sorted(text_bytes)}"
        )
    total_w = sum(present.values())
    budget = sample_bytes or sum(text_bytes.values())
    return {
        s: (present[s] / total_w * budget / text_bytes[s] if s in present else 0.0)
        for s in sorted(text_bytes)
    }


def sample_docs(docs: Iterable[Doc], rates: dict[str, float], seed: int = 0) -> Iterator[str]:
    """Texts of the weighted sample, in input order (repeated documents appear back to back)."""
    counters: dict[str, int] = {}
    batch: list[Doc] = []

    def flush() -> Iterator[str]:
        src_keys = np.array([name_key(s) for s, _ in batch], dtype=np.uint64)
        idx = np.empty(len(batch), dtype=np.uint64)
        for i, (s, _) in enumerate(batch):
            idx[i] = counters.get(s, 0)
            counters[s] = int(idx[i]) + 1
        u = uniform(seed, src_keys, idx)
        for (s, text), draw in zip(batch, u, strict=True):
            rate = rates.get(s, 0.0)
            copies = int(rate) + (draw < rate - int(rate))
            for _ in range(copies):
                yield text

    for doc in docs:
        batch.append(doc)
        if len(batch) == _BATCH:
            yield from flush()
            batch = []
    if batch:
        yield from flush()
