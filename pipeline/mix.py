"""GPT-3-style token-weighted mixing: source weights become epochs for a token budget.

GPT-3 (Table 2.1) fixed each source's share of *training tokens*, not of documents: a small
high-quality source is repeated (epochs > 1) and a huge one is sub-sampled (epochs < 1).
    epochs_s = weight_s × budget / tokens_s
A `max_epochs` cap, when it binds, pins that source at its cap and the remaining weight is
re-spread over the others in proportion to their weights.

Weights are either `relative` (normalised to sum 1, the default) or `shares`: published
fractions of the budget used as written (GPT-3's column sums to 1.01 through rounding, and its
epochs are computed from those rounded shares).  Either way the stream-time sampler uses
`probability` = share / sum of shares, which the report shows next to the weights.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass


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

    def to_json(self, seed: int = 0) -> dict:
        return {
            "seed": seed,
            "budget_tokens": self.budget_tokens,
            "weight_sum_given": self.weight_sum_given,
            "sources": {s.name: asdict(s) for s in self.sources},
        }


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


def format_table(plan: MixPlan) -> str:
    """GPT-3 Table 2.1 view: source, tokens, weight in the mix, epochs at the budget."""
    lines = [
        f"{'source':<16}{'tokens':>16}{'weight':>9}{'epochs':>9}",
        "-" * 50,
    ]
    for s in plan.sources:
        flag = " (capped)" if s.capped else ""
        lines.append(f"{s.name:<16}{s.tokens:>16,}{s.weight:>9.1%}{s.epochs:>9.2f}{flag}")
    lines.append(f"budget {plan.budget_tokens:,} tokens; weights given summed to {plan.weight_sum_given:g}")
    return "\n".join(lines)
