"""The mixture: epochs, caps and re-solving (GPT-3 Table 2.1); within-source sampling weights; mixture.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from pipeline.core.sampling import SamplingConfig
from tokenization.mixture import (
    build_mixture,
    mixture_digest,
    mixture_of_weights,
    read_mixture,
    solve,
    table_2_1,
    validate_mixture,
)
from tokenization.sampling import copies_per_pass, document_weights

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
    assert m["format"] == "yuliao.mixture.v3" and m["seed"] == 5 and m["resolved"] == ["wiki"]
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


def test_mixture_json_is_validated_on_read(tmp_path: Path):
    m = build_mixture(solve(NAMES, WEIGHTS, TOKENS, BUDGET), seed=2)
    path = tmp_path / "mixture.json"
    path.write_text(json.dumps(m))
    assert read_mixture(path) == m
    for broken, message in [
        ({k: v for k, v in m.items() if k != "format"}, "format is None.*yuliao mix"),
        ({**m, "format": "yuliao.mixture.v9"}, "format is 'yuliao.mixture.v9'"),
        ({**m, "sources": {}}, "sources"),
        ({**m, "sources": {"web": {"probability": -1}}}, r"sources\.web\.probability"),
        ({**m, "sources": {"web": {"probability": 1, "sampling": "temperature"}}}, r"sources\.web\.sampling"),
        ({**m, "sources": {"web": {"probability": 0}}}, "no source has a positive probability"),
        ({**m, "seeed": 1}, "seeed: unknown field"),
    ]:
        path.write_text(json.dumps(broken))
        with pytest.raises(ValueError, match=message):
            read_mixture(path)
    # v2 (written before the stream derived per-document probabilities itself) still reads.
    v2 = {**m, "format": "yuliao.mixture.v2", "sampler": {"module": "tokenization.sampler", "block": 64}}
    v2["sources"] = {n: {**s, "document_probability": 0.3} for n, s in m["sources"].items()}
    assert validate_mixture(v2)["sources"] == m["sources"]


def test_the_digest_follows_what_decides_the_stream():
    plan = solve(NAMES, WEIGHTS, TOKENS, BUDGET)
    base = build_mixture(plan, seed=1)
    assert mixture_digest(base) == mixture_digest(
        build_mixture(solve(NAMES, WEIGHTS, TOKENS, 2 * BUDGET), seed=1)
    )
    assert mixture_digest(base) != mixture_digest(build_mixture(plan, seed=2))
    assert mixture_digest(base) != mixture_digest(
        build_mixture(plan, {"web": SamplingConfig(method="pareto")}, 1)
    )
    assert mixture_digest(base) != mixture_digest(
        build_mixture(solve(NAMES, [0.3, 0.3, 0.4], TOKENS, BUDGET), seed=1)
    )


def test_a_mixture_of_weights_only_prints_probabilities():
    m = mixture_of_weights({"a": 3, "b": 1}, seed=4, a=SamplingConfig(method="score"))
    assert m["sources"]["a"]["probability"] == pytest.approx(0.75) and m["seed"] == 4
    assert "75.0%" in table_2_1(m) and "score" in table_2_1(m) and "no token budget" in table_2_1(m)


GPT3 = dict(
    names=["cc", "webtext2", "books1", "books2", "wiki"],
    weights=[0.60, 0.22, 0.08, 0.08, 0.03],
    tokens=[410_000_000_000, 19_000_000_000, 12_000_000_000, 55_000_000_000, 3_000_000_000],
)


def test_gpt3_shares_give_the_issue_epochs():
    plan = solve(**GPT3, budget=300_000_000_000, normalize=False)
    epochs = {s.name: round(s.epochs, 2) for s in plan.sources}
    assert epochs == {"cc": 0.44, "webtext2": 3.47, "books1": 2.0, "books2": 0.44, "wiki": 3.0}
    assert sum(s.probability for s in plan.sources) == pytest.approx(1.0)
    assert plan.weight_sum_given == pytest.approx(1.01)


def test_relative_weights_are_normalised():
    plan = solve(["a", "b"], [3, 1], [100, 100], 400)
    assert [s.weight for s in plan.sources] == pytest.approx([0.75, 0.25])
    assert [s.epochs for s in plan.sources] == pytest.approx([3.0, 1.0])
    assert sum(s.tokens_drawn for s in plan.sources) == pytest.approx(400)


def test_cap_binds_and_weights_are_resolved():
    # c would need 0.5 * 1000 / 50 = 10 epochs; capped at 2 → 100 tokens, the other 900 split 1:1
    plan = solve(["a", "b", "c"], [0.25, 0.25, 0.5], [1000, 1000, 50], 1000, max_epochs=[None, None, 2])
    by = {s.name: s for s in plan.sources}
    assert by["c"].capped and by["c"].epochs == pytest.approx(2.0)
    assert by["a"].tokens_drawn == pytest.approx(450) and by["b"].tokens_drawn == pytest.approx(450)
    assert not by["a"].capped
    assert "(capped: re-solved)" in table_2_1(build_mixture(plan))


def test_cascading_caps():
    plan = solve(["a", "b", "c"], [1, 1, 1], [10, 20, 10_000], 300, max_epochs=[1, 2, None])
    by = {s.name: s for s in plan.sources}
    assert by["a"].epochs == pytest.approx(1) and by["b"].epochs == pytest.approx(2)
    assert by["c"].tokens_drawn == pytest.approx(300 - 10 - 40)


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        (dict(names=["a"], weights=[0], tokens=[1], budget=1), "positive"),
        (dict(names=["a"], weights=[1], tokens=[0], budget=1), "no tokens"),
        (dict(names=["a"], weights=[1], tokens=[1], budget=10, max_epochs=[2]), "capped"),
    ],
)
def test_invalid_mixes_fail(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        solve(**kwargs)
