"""The mixture: GPT-3-style source weights become epochs for a token budget, written as one mixture.json.

GPT-3 (Table 2.1) fixed each source's share of *training tokens*, not of documents: a small
high-quality source is repeated (epochs > 1) and a huge one is sub-sampled (epochs < 1).
    epochs_s = weight_s × budget / tokens_s
A `max_epochs` cap, when it binds, pins that source at its cap and the remaining weight is
re-spread over the others in proportion to their weights.

Weights are either `relative` (normalised to sum 1, the default) or `shares`: published
fractions of the budget used as written (GPT-3's column sums to 1.01 through rounding, and its
epochs are computed from those rounded shares).  Either way the stream draws sources with
`probability` = share / sum of shares.  Inside a source, `sampling` (pipeline/core/sampling.py)
says which documents the stream repeats; `tokenization.stream` realises both.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from upath import UPath

from pipeline.core.atomic import as_path, sha256_file, write_json
from pipeline.core.config import Strict, format_validation_error
from pipeline.core.sampling import SamplingConfig
from tokenization import __version__

FORMAT = "yuliao.mixture.v3"
READABLE_FORMATS = ("yuliao.mixture.v2", FORMAT)  # v2 holds every field v3 reads


class MixConfig(Strict):
    """The manifest's `mix:` section."""

    model_config = ConfigDict(allow_inf_nan=False)

    budget_tokens: int | None = Field(
        default=None, gt=0, description="training tokens; default = sum of tokens"
    )
    weights: Literal["relative", "shares"] = Field(
        default="relative",
        description="relative: normalised to sum 1; shares: published fractions of the budget, used as written",
    )
    seed: int = 0


@dataclass(frozen=True)
class SourceMix:
    name: str
    tokens: int
    weight_given: float  # as written in the manifest
    weight: float  # share of the budget after normalisation and, if a cap bound, re-solving
    probability: float  # stream-time sampling probability (weights always sum to 1 here)
    epochs: float
    tokens_drawn: float
    capped: bool


@dataclass(frozen=True)
class MixPlan:
    budget_tokens: int
    weight_sum_given: float
    sources: list[SourceMix]


def solve(
    names: list[str],
    weights: list[float],
    tokens: list[int],
    budget: int,
    max_epochs: list[float | None] | None = None,
    normalize: bool = True,
) -> MixPlan:
    if not (len(names) == len(weights) == len(tokens)):
        raise ValueError("names, weights and tokens must have the same length")
    if not all(w > 0 and math.isfinite(w) for w in weights) or not math.isfinite(sum(weights)):
        raise ValueError(f"every weight must be a positive finite number, got {weights}")
    if not all(c is None or (c > 0 and math.isfinite(c)) for c in max_epochs or ()):
        raise ValueError(f"every max_epochs must be a positive finite number, got {max_epochs}")
    if any(t <= 0 for t in tokens):
        bad = [n for n, t in zip(names, tokens, strict=True) if t <= 0]
        raise ValueError(f"sources with no tokens cannot be mixed: {bad}")
    if budget <= 0:
        raise ValueError("budget must be positive")
    caps = max_epochs or [None] * len(names)
    total_w = float(sum(weights))
    target = 1.0 if normalize else total_w  # total share of the budget the mix draws
    share = [target * w / total_w for w in weights]
    capped: set[int] = set()
    while True:
        free = [i for i in range(len(names)) if i not in capped]
        pinned = sum(share[i] for i in capped)
        free_w = sum(weights[i] for i in free)
        for i in free:
            share[i] = (target - pinned) * weights[i] / free_w
        newly = [
            i
            for i in free
            if caps[i] is not None and share[i] * budget / tokens[i] > caps[i] + 1e-12  # type: ignore[operator]
        ]
        if not newly:
            break
        for i in newly:
            share[i] = caps[i] * tokens[i] / budget  # type: ignore[operator]
            capped.add(i)
        if len(capped) == len(names):
            raise ValueError("every source is capped by max_epochs: the budget needs more data")
    rows = [
        SourceMix(
            name=names[i],
            tokens=tokens[i],
            weight_given=weights[i],
            weight=share[i],
            probability=share[i] / target,
            epochs=share[i] * budget / tokens[i],
            tokens_drawn=share[i] * budget,
            capped=i in capped,
        )
        for i in range(len(names))
    ]
    return MixPlan(budget_tokens=budget, weight_sum_given=total_w, sources=rows)


class MixtureSource(BaseModel):
    """One source of mixture.json; the stream needs `probability` and `sampling`, the rest is the plan."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str | None = None
    probability: float = Field(ge=0)
    weight: float | None = Field(default=None, ge=0)
    weight_given: float | None = Field(default=None, ge=0)
    tokens: int | None = Field(default=None, ge=0)
    epochs: float | None = Field(default=None, ge=0)
    tokens_drawn: float | None = Field(default=None, ge=0)
    capped: bool = False
    sampling: SamplingConfig = SamplingConfig()


class Mixture(BaseModel):
    """mixture.json: what `yuliao mix` writes and the trainer, the materialiser and the tokenizer read."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    format: str
    seed: int = 0
    budget_tokens: int | None = Field(default=None, gt=0)
    weight_sum_given: float | None = None
    unit: Literal["tokens"] = "tokens"
    sources: dict[str, MixtureSource] = Field(min_length=1)
    resolved: list[str] = Field(default_factory=list)
    tokens: dict[str, str] | None = None
    code_version: str | None = None


def build_mixture(
    plan: MixPlan,
    sampling: dict[str, SamplingConfig] | None = None,
    seed: int = 0,
    tokens_dir: str | Path | UPath | None = None,
) -> dict[str, Any]:
    """mixture.json from a solved plan, each source with its within-source sampling."""
    sampling = sampling or {}
    mixture: dict[str, Any] = {
        "format": FORMAT,
        "seed": seed,
        "budget_tokens": plan.budget_tokens,
        "weight_sum_given": plan.weight_sum_given,
        "unit": "tokens",
        "sources": {
            s.name: {**asdict(s), "sampling": sampling.get(s.name, SamplingConfig()).model_dump(mode="json")}
            for s in plan.sources
        },
        "resolved": [s.name for s in plan.sources if s.capped],
        "code_version": __version__,
    }
    if tokens_dir is not None:
        mixture["tokens"] = {
            "path": str(as_path(tokens_dir).resolve()),
            "manifest_sha256": sha256_file(as_path(tokens_dir) / "manifest.json"),
        }
    return validate_mixture(mixture)


def mixture_of_weights(
    weights: dict[str, float], seed: int = 0, **sampling: SamplingConfig
) -> dict[str, Any]:
    """A mixture that only fixes stream probabilities (weights normalised), for runs with no plan."""
    total = sum(weights.values())
    sources = {
        name: {
            "probability": w / total,
            "sampling": sampling.get(name, SamplingConfig()).model_dump(mode="json"),
        }
        for name, w in weights.items()
    }
    return validate_mixture({"format": FORMAT, "seed": seed, "sources": sources})


def validate_mixture(data: Any, where: str = "mixture") -> dict[str, Any]:
    """The mixture as a plain dict, checked against the format; errors name the field and the fix."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(data).__name__}")
    if data.get("format") not in READABLE_FORMATS:
        raise ValueError(
            f"{where}: format is {data.get('format')!r}, this version reads {', '.join(READABLE_FORMATS)}; "
            "write it again with `yuliao mix`"
        )
    if data["format"] != FORMAT:  # v2 carried fields the stream now derives itself
        data = {k: v for k, v in data.items() if k != "sampler"}
        data["sources"] = {
            n: {k: v for k, v in s.items() if k != "document_probability"} for n, s in data["sources"].items()
        }
    try:
        checked = Mixture.model_validate(data)
    except ValidationError as e:
        raise ValueError(f"{where}: {format_validation_error(e)}") from None
    if sum(s.probability for s in checked.sources.values()) <= 0:
        raise ValueError(f"{where}: sources.*.probability: no source has a positive probability")
    return checked.model_dump(mode="json", exclude_none=True)


def read_mixture(path: str | Path | UPath) -> dict[str, Any]:
    """mixture.json from a local path or an fsspec URL, validated."""
    path = as_path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"mixture not found: {path} (write one with `yuliao mix`)") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not JSON ({e})") from None
    return validate_mixture(data, str(path))


def write_mixture(path: str | Path | UPath, mixture: dict[str, Any]) -> None:
    write_json(as_path(path), validate_mixture(mixture, str(path)))


def source_probabilities(mixture: dict[str, Any]) -> dict[str, float]:
    """Source -> stream probability (sources with 0 left out), normalised, in name order."""
    raw = {s: float(v["probability"]) for s, v in sorted(mixture["sources"].items())}
    raw = {s: p for s, p in raw.items() if p > 0}
    total = sum(raw.values())
    return {s: p / total for s, p in raw.items()}


def mixture_digest(mixture: dict[str, Any]) -> str:
    """What decides the document stream: its sources (probabilities and sampling) and seed."""
    decides = {
        "seed": int(mixture["seed"]),
        "sources": {
            s: {"probability": float(v["probability"]), "sampling": v.get("sampling", {})}
            for s, v in sorted(mixture["sources"].items())
        },
    }
    return hashlib.sha256(json.dumps(decides, sort_keys=True).encode()).hexdigest()[:16]


def table_2_1(mixture: dict[str, Any]) -> str:
    """GPT-3 Table 2.1 (source, tokens, weight in the mix, epochs at the budget), plus how weights were
    normalised (`given` as written, `weight` the share of the budget, `p` the stream probability),
    tokens drawn, up/down-sampling and the sampling inside each source."""
    lines = [
        f"{'source':<16}{'tokens':>17}{'given':>8}{'weight':>8}{'p':>8}{'epochs':>8}{'drawn':>18}  sampling",
        "-" * 100,
    ]
    for name, s in mixture["sources"].items():
        within = s.get("sampling", {}).get("method", "uniform")
        if s.get("epochs") is None:  # a mixture of weights only: no plan to show
            lines.append(
                f"{name:<16}{'':>17}{'':>8}{'':>8}{float(s['probability']):>8.1%}{'':>8}{'':>18}  {within}"
            )
            continue
        e = float(s["epochs"])
        how = "up-sampled" if e > 1 + 1e-9 else "down-sampled" if e < 1 - 1e-9 else "once"
        flag = " (capped: re-solved)" if s.get("capped") else ""
        given = float(s.get("weight_given", s["weight"]))
        lines.append(
            f"{name:<16}{int(s['tokens']):>17,}{given:>8.3g}{float(s['weight']):>8.1%}"
            f"{float(s['probability']):>8.1%}{e:>8.2f}{float(s['tokens_drawn']):>18,.0f}  {how}, {within}{flag}"
        )
    if mixture.get("budget_tokens") is None:
        return "\n".join([*lines, "no token budget: stream probabilities only"])
    total = float(mixture.get("weight_sum_given") or 0.0)
    drawn = sum(float(s.get("tokens_drawn") or 0.0) for s in mixture["sources"].values())
    lines.append(
        f"budget {int(mixture['budget_tokens']):,} tokens, {drawn:,.0f} drawn; weights given summed to "
        f"{total:g}, stream probability p = weight / sum of weights"
    )
    if mixture.get("resolved"):
        lines.append(
            f"max_epochs bound for {', '.join(mixture['resolved'])}: pinned at the cap, "
            "the remaining weight re-spread over the other sources in proportion to their weights"
        )
    return "\n".join(lines)
