"""A trained quality model: weights over hashed features, saved as .npz + JSON (never pickle).

`model.npz` holds only the nonzero weights (`indices` int32, `weights` float32) and the
`bias`, so a 2^20-bucket model trained on a small corpus stays small; `model.json` holds the
feature spec, so scoring featurizes text exactly as training did.  Both load with
`np.load(..., allow_pickle=False)` and `json.load`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pipeline.quality.features import FeatureSpec, featurize_many

FORMAT = "yuliao-quality-v1"
WEIGHTS_FILE = "model.npz"
CONFIG_FILE = "model.json"
BUNDLED = Path(__file__).parent / "models" / "sample"


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # = 1 / (1 + e^-z), without overflow warnings


@dataclass(frozen=True)
class QualityModel:
    spec: FeatureSpec
    weights: np.ndarray  # float32, one per bucket
    bias: float
    meta: dict = field(default_factory=dict)  # training summary, saved in model.json

    def score(self, texts: list[str]) -> np.ndarray:
        """P(reference-like) per text, float64 in [0, 1]."""
        if not texts:
            return np.zeros(0)
        x = featurize_many(texts, self.spec)
        return sigmoid(x.dot(self.weights.astype(np.float64)) + self.bias)

    def save(self, out: str | Path, min_abs_weight: float = 0.0) -> None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        keep = np.flatnonzero(np.abs(self.weights) > min_abs_weight).astype(np.int32)
        np.savez_compressed(
            out / WEIGHTS_FILE,
            indices=keep,
            weights=self.weights[keep].astype(np.float32),
            bias=np.array(self.bias, dtype=np.float64),
        )
        config = {"format": FORMAT, "features": self.spec.to_json(), "nonzero": int(len(keep)), **self.meta}
        (out / CONFIG_FILE).write_text(
            json.dumps(config, ensure_ascii=False, sort_keys=True, indent=2) + "\n"
        )

    @staticmethod
    def load(path: str | Path | None = None) -> QualityModel:
        path = Path(path) if path is not None else BUNDLED
        config = json.loads((path / CONFIG_FILE).read_text())
        if config.get("format") != FORMAT:
            raise ValueError(f"{path / CONFIG_FILE}: not a {FORMAT} model (format={config.get('format')!r})")
        spec = FeatureSpec.from_json(config["features"])
        with np.load(path / WEIGHTS_FILE, allow_pickle=False) as z:
            weights = np.zeros(spec.buckets, dtype=np.float32)
            weights[z["indices"]] = z["weights"]
            bias = float(z["bias"])
        meta = {k: v for k, v in config.items() if k not in ("format", "features", "nonzero")}
        return QualityModel(spec, weights, bias, meta)
