import pytest

from pipeline.mix import format_table, solve

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
    assert "(capped)" in format_table(plan)


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
