"""GPT-3-style token-weighted mixing settings."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from pipeline.config.base import Strict


class MixConfig(Strict):
    """GPT-3-style token-weighted mix: weights become epochs for a token budget."""

    model_config = ConfigDict(allow_inf_nan=False)

    budget_tokens: int | None = Field(
        default=None, gt=0, description="training tokens; default = sum of tokens"
    )
    weights: Literal["relative", "shares"] = Field(
        default="relative",
        description="relative: normalised to sum 1; shares: published fractions of the budget, used as written",
    )
    seed: int = 0
