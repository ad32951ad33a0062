"""Token-weighted mixing: epochs, caps and re-solving on three sources; within-source sampling; the manifest."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from pipeline.mix import solve
from tokenization.mixing import SamplingConfig, copies_per_pass, document_weights
from tokenization.mixture import build_mixture, document_probabilities, table_2_1

NAMES = ["web", "books", "wiki"]
TOKENS = [700, 200, 100]  # measured tokens per source
WEIGHTS = [0.2, 0.3, 0.5]  # shares of training tokens
BUDGET = 1000


def by_name(plan):
    return {s.name: s for s in plan.sources}


def test_three_sources_epochs_exactly():
    p = by_name(solve(NAMES, WEIGHTS, TOKENS, BUDGET))
    assert p["web"].epochs == pytest.approx(200 / 700) and p["web"].tokens_drawn == pytest.approx(200)
    assert p["books"].epochs == pytest.approx(1.5) and p["books"].tokens_drawn == pytest.approx(300)
    assert p["wiki"].epochs == pytest.approx(5.0) and p["wiki"].tokens_drawn == pytest.approx(500)
    assert not any(s.capped for s in p.values())
    assert sum(s.probability for s in p.values()) == pytest.approx(1)


def test_cap_binds_and_the_rest_is_resolved():
    # wiki capped at 2 epochs: pinned at 200 tokens (share 0.2); 0.8 re-spread 0.2:0.3 over web, books.
    p = by_name(solve(NAMES, WEIGHTS, TOKENS, BUDGET, max_epochs=[None, None, 2.0]))
    assert (
        p["wiki"].capped and p["wiki"].epochs == pytest.approx(2.0) and p["wiki"].weight == pytest.approx(0.2)
    )
    assert p["web"].weight == pytest.approx(0.32) and p["web"].epochs == pytest.approx(320 / 700)
    assert p["books"].weight == pytest.approx(0.48) and p["books"].epochs == pytest.approx(2.4)
    # books capped at 2 too: the re-solve binds it in the second round; web takes the rest.
    p = by_name(solve(NAMES, WEIGHTS, TOKENS, BUDGET, max_epochs=[None, 2.0, 2.0]))
    assert p["books"].capped and p["books"].tokens_drawn == pytest.approx(400)
    assert p["wiki"].tokens_drawn == pytest.approx(200)
    assert p["web"].tokens_drawn == pytest.approx(400) and p["web"].epochs == pytest.approx(4 / 7)
    assert sum(s.weight for s in p.values()) == pytest.approx(1)
    with pytest.raises(ValueError, match="every source is capped"):
        solve(NAMES, WEIGHTS, TOKENS, BUDGET, max_epochs=[0.1, 0.1, 0.1])


def test_mixture_manifest_and_table_view():
    plan = solve(NAMES, WEIGHTS, TOKENS, BUDGET, max_epochs=[None, None, 2.0])
    m = build_mixture(plan, {"web": SamplingConfig.model_validate("pareto")}, seed=5)
    assert m["format"] == "yuliao.mixture.v2" and m["seed"] == 5 and m["resolved"] == ["wiki"]
    assert m["sources"]["web"]["sampling"]["method"] == "pareto"
    assert m["sources"]["books"]["sampling"]["method"] == "uniform"
    assert m["sources"]["wiki"]["probability"] == pytest.approx(0.2)
    text = table_2_1(m)
    assert "down-sampled, pareto" in text and "up-sampled, uniform (capped: re-solved)" in text
    assert "max_epochs bound for wiki" in text


def test_sampling_config_parsing():
    assert SamplingConfig.model_validate("score").method == "score"
    assert SamplingConfig.model_validate({"method": "pareto", "alpha": 3}).alpha == 3
    assert SamplingConfig().column is None and SamplingConfig(method="rehydrate").column == "cluster_size"
    with pytest.raises(ValidationError):
        SamplingConfig.model_validate("temperature")
    with pytest.raises(ValidationError, match="cluster size 1"):
        SamplingConfig(method="rehydrate", buckets=((2, 1.0),))


def test_document_weights_per_method():
    scores = np.array([0.0, 0.5, 1.0])
    assert document_weights(SamplingConfig(), scores) is None
    np.testing.assert_allclose(document_weights(SamplingConfig(method="score"), scores), scores)
    np.testing.assert_allclose(
        document_weights(SamplingConfig(method="score", temperature=0.5), scores), scores**2
    )
    # GPT-3: keep when pareto(alpha) > 1 - score, i.e. with probability (2 - score) ** -alpha.
    pareto = document_weights(SamplingConfig(method="pareto", alpha=9), scores)
    np.testing.assert_allclose(pareto, [2.0**-9, 1.5**-9, 1.0])
    rng = np.random.default_rng(0)
    empirical = (rng.pareto(9, 200_000) > 0.5).mean()
    assert empirical == pytest.approx(1.5**-9, rel=0.05)
    sizes = np.array([1, 2, 3, 4, 5, 100, 101, 5000])
    np.testing.assert_allclose(
        document_weights(SamplingConfig(method="rehydrate"), sizes), [1, 2, 3, 3, 5, 5, 1, 1]
    )
    with pytest.raises(ValueError, match="quality_score"):
        document_weights(SamplingConfig(method="score"), None)


def test_copies_per_pass_keep_the_source_token_count():
    lengths = np.array([10, 100, 1000])
    copies = copies_per_pass(np.array([1.0, 2.0, 0.5]), lengths)
    assert np.dot(copies, lengths + 1) == pytest.approx((lengths + 1).sum())
    assert copies[1] / copies[0] == pytest.approx(2.0)
    assert copies_per_pass(None, lengths) is None


def test_document_probabilities_give_token_shares_in_expectation():
    plan = solve(NAMES, WEIGHTS, TOKENS, BUDGET)
    sources = build_mixture(plan)["sources"]
    docs = {"web": 70, "books": 2, "wiki": 20}  # mean tokens per document: 10, 100, 5
    q = document_probabilities(sources, docs)
    assert sum(q.values()) == pytest.approx(1)
    # Expected tokens (document + EOS) per draw, by source, are proportional to the token shares.
    per_draw = {s: q[s] * (TOKENS[NAMES.index(s)] / docs[s] + 1) for s in NAMES}
    total = sum(per_draw.values())
    for s, w in zip(NAMES, WEIGHTS, strict=True):
        assert per_draw[s] / total == pytest.approx(w)
    assert q["books"] < WEIGHTS[1] < q["wiki"] / 2  # long documents drawn less often, short more
    assert document_probabilities(sources, {"web": 70}) == {}  # unknown counts: no field
