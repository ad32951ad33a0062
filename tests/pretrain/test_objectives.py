"""Configs and the pure collators: masking rates, T5 span maths and sentinels, XLNet permutation masks."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from pretrain.config import ModelConfig, PretrainConfig, RunConfig
from pretrain.objectives import SpecialIds, chunk_length, clm_collate, mlm_collate, plm_collate
from pretrain.objectives.plm import permutation_masks, sample_targets
from pretrain.objectives.span import compute_input_and_target_lengths, random_spans_noise_mask, span_collate

IDS = SpecialIds(vocab_size=600)


def _ordinary_tokens(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.choice(IDS.ordinary, size=shape)


# ---- config -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("objective", "arch"),
    [("clm", "bert"), ("mlm", "gpt2"), ("span", "llama"), ("plm", "t5"), ("clm", "xlnet")],
)
def test_incompatible_objective_and_arch_is_rejected(objective: str, arch: str) -> None:
    with pytest.raises(ValidationError) as err:
        RunConfig(name="r", objective=objective, model=ModelConfig(arch=arch))
    assert "model.arch" in str(err.value) and "objective" in str(err.value)


@pytest.mark.parametrize(
    ("objective", "arch"),
    [
        ("clm", "gpt2"),
        ("clm", "llama"),
        ("mlm", "bert"),
        ("mlm", "roberta"),
        ("span", "t5"),
        ("plm", "xlnet"),
    ],
)
def test_compatible_pairs_validate(objective: str, arch: str) -> None:
    run = RunConfig(name="r", objective=objective, model=ModelConfig(arch=arch))
    assert run.model.arch == arch and run.steps == 60 and run.plm_predict_ratio == pytest.approx(1 / 6)


def test_configs_are_strict_and_frozen() -> None:
    with pytest.raises(ValidationError, match="lr_typo"):
        RunConfig(name="r", objective="clm", model=ModelConfig(arch="gpt2"), lr_typo=1.0)
    with pytest.raises(ValidationError):
        ModelConfig(arch="mamba")
    run = RunConfig(name="r", objective="clm", model=ModelConfig(arch="gpt2"))
    with pytest.raises(ValidationError):
        run.steps = 3  # type: ignore[misc]


def test_pretrain_config_requires_unique_names() -> None:
    a = {"name": "a", "objective": "clm", "model": {"arch": "gpt2"}}
    b = {"name": "b", "objective": "mlm", "model": {"arch": "bert"}}
    assert len(PretrainConfig.model_validate({"runs": [a, b]}).runs) == 2
    with pytest.raises(ValidationError, match="duplicate run name"):
        PretrainConfig.model_validate({"runs": [a, b, a]})


def test_chunk_length_per_objective() -> None:
    def run(objective: str, arch: str) -> RunConfig:
        return RunConfig(name="r", objective=objective, model=ModelConfig(arch=arch), seq_len=512)

    assert chunk_length(run("clm", "gpt2")) == 512
    assert chunk_length(run("mlm", "bert")) == 510
    assert chunk_length(run("span", "t5")) == 568
    assert chunk_length(run("plm", "xlnet")) == 512


# ---- clm --------------------------------------------------------------------------------------


def test_clm_labels_are_inputs() -> None:
    chunks = np.arange(24).reshape(3, 8)
    out = clm_collate(chunks)
    assert out["input_ids"].shape == (3, 8)
    assert out["labels"].tolist() == chunks.tolist()
    assert out["attention_mask"].sum().item() == 24


# ---- mlm --------------------------------------------------------------------------------------


def test_mlm_rates_and_specials() -> None:
    rng = np.random.default_rng(0)
    seq_len = 64
    chunks = _ordinary_tokens(rng, (1000, seq_len - 2))
    chunks[:, ::9] = IDS.eos  # document separators inside packed chunks: special, never masked
    out = mlm_collate(chunks, np.random.default_rng(1), ids=IDS, seq_len=seq_len)
    inputs, labels = out["input_ids"].numpy(), out["labels"].numpy()
    original = np.concatenate([np.full((1000, 1), IDS.cls), chunks, np.full((1000, 1), IDS.sep)], axis=1)

    special = np.isin(original, IDS.special)
    selected = labels != -100
    assert not (selected & special).any()
    assert (inputs[special] == original[special]).all()
    assert (labels[selected] == original[selected]).all()
    assert (inputs[~selected] == original[~selected]).all()

    rate = selected.sum() / (~special).sum()
    assert rate == pytest.approx(0.15, abs=0.005)
    masked = (inputs == IDS.mask) & selected
    randomised = (inputs != IDS.mask) & (inputs != original) & selected
    kept = (inputs == original) & selected
    n = selected.sum()
    assert masked.sum() / n == pytest.approx(0.8, abs=0.015)
    assert randomised.sum() / n == pytest.approx(0.1, abs=0.01)
    assert kept.sum() / n == pytest.approx(0.1, abs=0.01)
    assert not np.isin(inputs[randomised], IDS.special).any()  # random replacements are ordinary


def test_mlm_wraps_and_pads_short_chunks() -> None:
    chunks = [np.array([10, 11, 12]), np.array([20, 21, 22, 23, 24, 25])]
    out = mlm_collate(chunks, np.random.default_rng(0), ids=IDS, seq_len=8, mlm_probability=0.01)
    ids, attn = out["input_ids"].numpy(), out["attention_mask"].numpy()
    assert ids.shape == (2, 8)
    assert ids[0, 0] == IDS.cls and ids[0, 4] == IDS.sep and (ids[0, 5:] == IDS.pad).all()
    assert attn[0].tolist() == [1, 1, 1, 1, 1, 0, 0, 0] and attn[1].tolist() == [1] * 8
    assert (out["labels"].numpy()[attn == 0] == -100).all()
    with pytest.raises(ValueError, match="does not fit"):
        mlm_collate([np.arange(10, 17)], np.random.default_rng(0), ids=IDS, seq_len=8)


# ---- span (T5) --------------------------------------------------------------------------------


def test_t5_lengths_match_reference() -> None:
    assert compute_input_and_target_lengths(512, 0.15, 3.0) == (568, 114)
    chunks = _ordinary_tokens(np.random.default_rng(0), (2, 568))
    out = span_collate(chunks, np.random.default_rng(0), ids=IDS)
    assert out["input_ids"].shape == (2, 512) and out["labels"].shape == (2, 114)


def test_noise_mask_statistics() -> None:
    rng = np.random.default_rng(0)
    length, density, mean_span = 568, 0.15, 3.0
    span_lengths, noise_counts = [], []
    for _ in range(300):
        mask = random_spans_noise_mask(length, density, mean_span, rng)
        assert not mask[0]  # T5 always opens with a non-noise span
        noise_counts.append(int(mask.sum()))
        edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
        span_lengths.extend(edges[1::2] - edges[::2])
    assert set(noise_counts) == {round(length * density)}  # 85 noise tokens, always
    assert len(span_lengths) == 300 * round(85 / mean_span)  # 28 spans each
    assert np.mean(span_lengths) == pytest.approx(85 / 28)
    assert max(span_lengths) > 6  # lengths vary: a random segmentation, not fixed-size spans
    longer = [
        random_spans_noise_mask(1000, 0.3, 8.0, rng) for _ in range(50)
    ]  # other settings: density and mean length follow
    assert np.mean([m.mean() for m in longer]) == pytest.approx(0.3, abs=1e-9)


def test_sentinels_count_down_and_round_trip() -> None:
    rng = np.random.default_rng(3)
    chunks = _ordinary_tokens(rng, (20, 100))
    out = span_collate(chunks, rng, ids=IDS, noise_density=0.15, mean_noise_span_length=3.0)
    top = IDS.vocab_size - 1
    for chunk, inputs, targets in zip(chunks, out["input_ids"].numpy(), out["labels"].numpy(), strict=True):
        assert inputs[-1] == IDS.eos and targets[-1] == IDS.eos
        in_sent = inputs[inputs >= IDS.vocab_size - 100]
        tgt_sent = targets[targets >= IDS.vocab_size - 100]
        assert in_sent.tolist() == list(range(top, top - len(in_sent), -1))  # <extra_id_0>, <extra_id_1>, ...
        assert tgt_sent.tolist() == in_sent.tolist() and targets[0] == top
        # put every target span back in place of its sentinel: the original chunk comes back
        spans = np.split(targets[:-1], np.flatnonzero(targets[:-1] >= IDS.vocab_size - 100))[1:]
        fill = {int(s[0]): s[1:] for s in spans}
        rebuilt = np.concatenate([fill.get(int(t), [t]) for t in inputs[:-1]])
        assert rebuilt.tolist() == chunk.tolist()


# ---- plm (XLNet) ------------------------------------------------------------------------------


def test_plm_target_count_and_spans() -> None:
    rng = np.random.default_rng(0)
    length, ratio = 64, 1 / 6
    chunks = _ordinary_tokens(rng, (200, length))
    chunks[:, ::13] = IDS.eos
    runs = []
    for tokens in chunks:
        targets = sample_targets(tokens, rng, ids=IDS, max_span=5, predict_ratio=ratio)
        assert targets.sum() == round(length * ratio)
        assert not targets[tokens == IDS.eos].any()  # separators are never predicted
        edges = np.flatnonzero(np.diff(np.concatenate([[0], targets.astype(int), [0]])))
        runs.extend(edges[1::2] - edges[::2])
    assert 1.5 < np.mean(runs) < 3.5  # span-based, lengths ~ 1/n over 1..5 (mean 2.19 before clipping)


def test_perm_mask_is_one_total_order() -> None:
    rng = np.random.default_rng(1)
    for _ in range(20):
        is_target = rng.random(40) < 0.25
        perm = permutation_masks(is_target, rng)
        t, c = np.flatnonzero(is_target), np.flatnonzero(~is_target)
        assert perm[t, t].all()  # no target sees itself
        assert not perm[np.ix_(c, c)].any()  # context sees all context
        assert perm[np.ix_(c, t)].all()  # ... and no target
        assert not perm[np.ix_(t, c)].any()  # targets see all context
        # among targets: i sees j iff j comes strictly earlier in one total order
        sub = ~perm[np.ix_(t, t)]  # sees
        rank = sub.sum(axis=1)  # number of targets before i
        assert sorted(rank.tolist()) == list(range(len(t)))
        assert (sub == (rank[None, :] < rank[:, None])).all()


def test_plm_collate_shapes_and_mapping() -> None:
    rng = np.random.default_rng(2)
    chunks = _ordinary_tokens(rng, (4, 48))
    out = plm_collate(chunks, rng, ids=IDS, max_span=5, predict_ratio=1 / 6)
    p = round(48 / 6)
    assert out["input_ids"].tolist() == chunks.tolist()  # inputs are never corrupted
    assert out["perm_mask"].shape == (4, 48, 48) and out["target_mapping"].shape == (4, p, 48)
    mapping = out["target_mapping"].numpy()
    assert (mapping.sum(axis=2) == 1).all() and set(np.unique(mapping)) == {0.0, 1.0}
    pos = mapping.argmax(axis=2)
    assert (out["labels"].numpy() == np.take_along_axis(chunks, pos, axis=1)).all()
    perm = out["perm_mask"].numpy()
    for b in range(4):
        assert (perm[b, pos[b], pos[b]] == 1).all()  # each target is hidden from itself
