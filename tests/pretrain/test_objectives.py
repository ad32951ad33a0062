"""Configs and the pure collators, checked against the papers' statistics and transformers' collators.

BERT: 15 % of non-special tokens selected, 80/10/10; Chinese-BERT-wwm: whole words; T5: noise
density 0.15, mean span 3, 568 -> 512/114; XLNet: spans of n words with p(n) ∝ 1/n, 85 of 512
tokens predicted, a permutation mask in which no token sees itself or later targets.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from tokenizers import Tokenizer, processors
from transformers import (
    DataCollatorForLanguageModeling,
    DataCollatorForPermutationLanguageModeling,
    PreTrainedTokenizerFast,
)

from pretrain.collate import chunk_length, make_collate
from pretrain.config import ModelConfig, PretrainConfig, RunConfig
from pretrain.objectives import SpecialIds, WordTable, clm_collate, mlm_collate, plm_collate
from pretrain.objectives.masks import expand
from pretrain.objectives.packing import segments
from pretrain.objectives.plm import permutation_masks, sample_spans, sample_targets, span_steps
from pretrain.objectives.rng import ExampleKeys
from pretrain.objectives.span import compute_input_and_target_lengths, random_spans_noise_mask, span_collate
from pretrain.objectives.word_table import token_bytes
from tests.pretrain.fixtures import build_tokenizer, make_docs

IDS = SpecialIds(vocab_size=600)


def _ordinary_tokens(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.choice(IDS.ordinary, size=shape)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> PreTrainedTokenizerFast:
    docs = make_docs(60)
    return build_tokenizer(tmp_path_factory.mktemp("tok"), [t for texts in docs.values() for t in texts])


# ---- config -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("objective", "arch"),
    [("clm", "bert"), ("mlm", "gpt2"), ("span", "llama"), ("plm", "t5"), ("clm", "xlnet")],
)
def test_incompatible_objective_and_arch_is_rejected(objective: str, arch: str) -> None:
    with pytest.raises(ValidationError) as err:
        RunConfig(name="r", objective=objective, model=ModelConfig(arch=arch))
    assert "model.arch" in str(err.value) and "objective" in str(err.value)


def test_configs_are_strict_frozen_and_check_combinations() -> None:
    run = RunConfig(name="r", objective="clm", model=ModelConfig(arch="gpt2"))
    assert run.parallel == "ddp" and run.doc_attention and run.whole_word_mask and not run.compile
    assert run.plm_predict_ratio == pytest.approx(1 / 6) and (run.plm_mask_alpha, run.plm_mask_beta) == (6, 1)
    with pytest.raises(ValidationError, match="lr_typo"):
        RunConfig(name="r", objective="clm", model=ModelConfig(arch="gpt2"), lr_typo=1.0)
    with pytest.raises(ValidationError):
        ModelConfig(arch="mamba")
    with pytest.raises(ValidationError):
        run.steps = 3  # type: ignore[misc]
    with pytest.raises(ValidationError, match="parallel"):
        RunConfig(name="r", objective="clm", model=ModelConfig(arch="gpt2"), parallel="tp")
    with pytest.raises(ValidationError, match="eval_holdout"):
        RunConfig(name="r", objective="clm", model=ModelConfig(arch="gpt2"), eval_every=10)
    with pytest.raises(ValidationError, match="gradient checkpointing"):
        RunConfig(name="r", objective="plm", model=ModelConfig(arch="xlnet"), activation_checkpointing=True)
    with pytest.raises(ValidationError, match="flash"):
        RunConfig(
            name="r", objective="mlm", model=ModelConfig(arch="bert"), attn_implementation="flash_attention_2"
        )


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


# ---- every collator: rows are independent (what makes any rank/worker layout see the same data) -


@pytest.mark.parametrize("objective", ["clm", "mlm", "span", "plm"])
def test_a_row_depends_only_on_its_own_generator(objective: str) -> None:
    collate = {
        "clm": lambda c, r: clm_collate(c, r, eos_id=IDS.eos),
        "mlm": lambda c, r: mlm_collate(c, r, ids=IDS, seq_len=c.shape[1] + 2, doc_attention=True),
        "span": lambda c, r: span_collate(c, r, ids=IDS),
        "plm": lambda c, r: plm_collate(c, r, ids=IDS, doc_attention=True),
    }[objective]
    chunks = _ordinary_tokens(np.random.default_rng(0), (4, 60))
    chunks[:, 17] = IDS.eos
    batch = collate(chunks, [np.random.default_rng([9, g]) for g in range(4)])
    keyed = collate(chunks, ExampleKeys(9, np.arange(4)))  # the stream's counter-based keys
    for g in (1, 3):
        alone = collate(chunks[g : g + 1], [np.random.default_rng([9, g])])
        assert all(torch.equal(batch[k][g], alone[k][0]) for k in batch)
        alone = collate(chunks[g : g + 1], ExampleKeys(9, np.array([g])))
        assert all(torch.equal(keyed[k][g], alone[k][0]) for k in keyed)


@pytest.mark.parametrize("objective", ["mlm", "plm"])
def test_compact_keys_expand_to_the_dense_masks(objective: str) -> None:
    """The trainer's collators ship O(L) keys; `expand` (on the device) gives back the dense batch."""
    collate = {
        "mlm": partial(mlm_collate, ids=IDS, seq_len=64, doc_attention=True),
        "plm": partial(plm_collate, ids=IDS, doc_attention=True),
    }[objective]
    chunks = _ordinary_tokens(np.random.default_rng(0), (4, 60 if objective == "mlm" else 64))
    chunks[:, [9, 30]] = IDS.eos
    keys = ExampleKeys(3, np.arange(4))
    dense, compact = collate(chunks, keys), collate(chunks, keys, compact=True)
    assert not set(compact) & {"perm_mask", "target_mapping"} and compact["segment_ids"].dtype == torch.int16
    assert sum(v.numel() for v in compact.values()) * 10 < sum(v.numel() for v in dense.values())  # L = 64
    expanded = expand(compact)
    assert expanded.keys() == dense.keys() and all(torch.equal(expanded[k], dense[k]) for k in dense)


def test_counter_based_streams_are_keyed_uniform_and_prefix_stable() -> None:
    """Number j of example g is a pure function of (seed, g, j): asking for more numbers, or for the
    example inside another batch, never changes the ones before; other seeds/examples differ."""
    u = ExampleKeys(5, np.arange(4000)).uniform(256)  # [4000, 256]
    assert u.min() >= 0.0 and u.max() < 1.0
    assert u.mean() == pytest.approx(0.5, abs=0.002) and u.var() == pytest.approx(1 / 12, abs=0.001)
    assert np.array_equal(ExampleKeys(5, np.array([17, 3])).uniform(10), u[[17, 3], :10])
    assert abs(np.corrcoef(u[:, 0], u[:, 1])[0, 1]) < 0.05  # neighbouring counters
    assert abs(np.corrcoef(u[:-1, 0], u[1:, 0])[0, 1]) < 0.05  # neighbouring examples
    assert not np.isclose(ExampleKeys(6, np.arange(4)).uniform(8), u[:4, :8]).any()


# ---- packing ----------------------------------------------------------------------------------


def test_segments_restart_after_each_eos() -> None:
    tokens = np.array([[10, 11, 2, 12, 2, 2, 13, 14]])
    seg, pos = segments(tokens, eos_id=2)
    assert seg.tolist() == [[0, 0, 0, 1, 1, 2, 3, 3]]  # an EOS ends its document; an empty doc is just EOS
    assert pos.tolist() == [[0, 1, 2, 0, 1, 0, 0, 1]]


def test_clm_is_document_aware_by_default() -> None:
    chunks = np.array([[10, 11, 2, 12, 13, 14, 2, 15]])
    out = clm_collate(chunks, eos_id=2)
    assert set(out) == {"input_ids", "labels", "position_ids"}  # no 2D mask: HF reads the packing
    assert out["position_ids"].tolist() == [[0, 1, 2, 0, 1, 2, 3, 0]]
    assert out["labels"].tolist() == [[-100, 11, 2, -100, 13, 14, 2, -100]]  # no cross-document targets
    plain = clm_collate(chunks, doc_attention=False)
    assert plain["labels"].tolist() == chunks.tolist() and plain["attention_mask"].sum() == 8


# ---- mlm --------------------------------------------------------------------------------------


def _mlm_stats(inputs: np.ndarray, labels: np.ndarray, original: np.ndarray) -> dict[str, float]:
    selected = labels != -100
    n = selected.sum()
    special = np.isin(original, IDS.special)
    return {
        "rate": n / (~special).sum(),
        "mask": ((inputs == IDS.mask) & selected).sum() / n,
        "random": ((inputs != IDS.mask) & (inputs != original) & selected).sum() / n,
        "keep": ((inputs == original) & selected).sum() / n,
    }


def test_mlm_rates_match_bert_and_transformers(tokenizer: PreTrainedTokenizerFast) -> None:
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
    ours = _mlm_stats(inputs, labels, original)
    assert ours["rate"] == pytest.approx(0.15, abs=0.01)
    for key, share in (("mask", 0.8), ("random", 0.1), ("keep", 0.1)):
        assert ours[key] == pytest.approx(share, abs=0.02)
    randomised = (inputs != IDS.mask) & (inputs != original) & selected
    assert not np.isin(inputs[randomised], IDS.special).any()  # random replacements are ordinary

    # transformers' DataCollatorForLanguageModeling on the same rows: the same statistics
    hf = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15, seed=0, return_tensors="np")
    special_mask = special.astype(np.int64)
    got = hf(
        [{"input_ids": row, "special_tokens_mask": m} for row, m in zip(original, special_mask, strict=True)]
    )
    theirs = _mlm_stats(got["input_ids"], got["labels"], original)
    for key in ours:
        assert ours[key] == pytest.approx(theirs[key], abs=0.02 if key != "rate" else 0.01)


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


def test_mlm_document_mask_and_position_resets() -> None:
    chunk = np.array([[10, 11, IDS.eos, 12, 13]])
    out = mlm_collate(
        chunk, np.random.default_rng(0), ids=IDS, seq_len=9, doc_attention=True, position_offset=1
    )
    mask = out["attention_mask"].numpy()[0, 0]  # [S, S]: <cls> 10 11 </s> | 12 13 <sep> | pad pad
    assert mask.shape == (9, 9)
    assert mask[:4, :4].all() and mask[4:7, 4:7].all()
    assert not mask[:4, 4:].any() and not mask[4:7, :4].any()
    assert not mask[:7, 7:].any() and mask[7, 7] and mask[8, 8]  # padding: seen by nobody, sees itself
    assert out["position_ids"].tolist() == [[1, 2, 3, 4, 1, 2, 3, 4, 5]]  # + RoBERTa offset; pads run on


def test_word_starts_from_byte_level_pieces(tokenizer: PreTrainedTokenizerFast) -> None:
    words = WordTable.from_tokenizer(tokenizer, IDS.special)

    def starts(text: str) -> list[tuple[str, bool]]:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        return list(
            zip(tokenizer.convert_ids_to_tokens(ids), words.starts(np.array([ids]))[0].tolist(), strict=True)
        )

    english = starts("The small cat reads the storybook.")
    assert [s for _, s in english] == [i == 0 or p.startswith("Ġ") for i, (p, _) in enumerate(english)]
    pieces = starts("我们今天学习中文，天气很好。")
    # every CJK character is a word: a piece starts one iff it begins on a character boundary
    assert [s for _, s in pieces] == [not 0x80 <= token_bytes(p)[0] <= 0xBF for p, _ in pieces]
    mixed = starts("我们 learn 中文 today")
    assert sum(s for _, s in mixed) >= 4


@pytest.mark.filterwarnings("ignore:Random token replacement")  # HF's wwm masks 100 %; we keep 80/10/10
def test_whole_word_masking_selects_whole_words(tokenizer: PreTrainedTokenizerFast) -> None:
    rng = np.random.default_rng(5)
    chunks = _ordinary_tokens(rng, (3000, 30))
    starts = rng.random((3000, 30)) < 0.4  # words of 1..many tokens (stored jieba boundaries)
    starts[:, 0] = True
    out = mlm_collate(chunks, np.random.default_rng(5), starts, ids=IDS, seq_len=32, whole_word=True)
    labels, inputs = out["labels"].numpy()[:, 1:31], out["input_ids"].numpy()[:, 1:31]
    selected = labels != -100
    word = np.cumsum(starts, axis=1)
    for row_sel, row_word in zip(selected[:300], word[:300], strict=True):
        for w in np.unique(row_word):  # a word is predicted entirely or not at all
            assert len(set(row_sel[row_word == w].tolist())) == 1
    assert selected.mean() == pytest.approx(0.15, abs=0.01)  # one draw per word: still 15 % of tokens
    n = selected.sum()
    assert ((inputs == IDS.mask) & selected).sum() / n == pytest.approx(0.8, abs=0.02)  # 80/10/10 per token
    assert ((inputs == chunks) & selected).sum() / n == pytest.approx(0.1, abs=0.02)

    # derived words on real text: Chinese characters are masked whole, never half a character
    docs = make_docs(40, seed=3)
    words = WordTable.from_tokenizer(tokenizer, IDS.special)
    rows = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in docs["books"]]
    zh = np.array([r[:12] for r in rows if len(r) >= 12] * 50)
    got = mlm_collate(zh, np.random.default_rng(1), ids=IDS, seq_len=14, whole_word=True, words=words)
    sel = got["labels"].numpy()[:, 1:13] != -100
    derived = words.starts(zh)
    groups = np.cumsum(derived, axis=1)
    assert all(
        len(set(s[g == w].tolist())) == 1 for s, g in zip(sel, groups, strict=True) for w in np.unique(g)
    )
    assert sel.mean() == pytest.approx(0.15, abs=0.015)

    # transformers' whole-word collator (offset gaps; trim_offsets so a leading space is a gap)
    # on English: same 15 % rate of tokens
    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    backend.post_processor = processors.ByteLevel(trim_offsets=True)
    fast = PreTrainedTokenizerFast(tokenizer_object=backend)
    fast.pad_token, fast.mask_token = "<pad>", "<mask>"
    english = [t for t in docs["web"] for _ in range(6)]
    enc = fast(english, padding=True, return_offsets_mapping=True, return_special_tokens_mask=True)
    feats = [{k: np.array(v[i]) for k, v in enc.items()} for i in range(len(english))]
    hf = DataCollatorForLanguageModeling(fast, whole_word_mask=True, seed=0, return_tensors="np")
    got = hf(feats)
    rate_hf = (got["labels"] != -100).sum() / (got["input_ids"] != fast.pad_token_id).sum()
    assert rate_hf == pytest.approx(0.15, abs=0.01)


# ---- span (T5) --------------------------------------------------------------------------------


def test_t5_lengths_match_reference() -> None:
    assert compute_input_and_target_lengths(512, 0.15, 3.0) == (568, 114)
    chunks = _ordinary_tokens(np.random.default_rng(0), (2, 568))
    out = span_collate(chunks, np.random.default_rng(0), ids=IDS)
    assert out["input_ids"].shape == (2, 512) and out["labels"].shape == (2, 114)
    assert out["decoder_input_ids"][:, 0].tolist() == [IDS.pad] * 2
    assert torch.equal(out["decoder_input_ids"][:, 1:], out["labels"][:, :-1])


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
    longer = [random_spans_noise_mask(1000, 0.3, 8.0, rng) for _ in range(50)]
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


def test_xlnet_span_lengths_follow_one_over_n_in_words() -> None:
    """`_sample_mask`: n words per span with p(n) ∝ 1/n; spans start on word starts."""
    rng = np.random.default_rng(0)
    length, rows = 512, 300
    starts = np.zeros((rows, length), bool)
    starts[:, ::2] = True  # two-token words
    allowed = np.ones((rows, length), bool)
    u = rng.random((rows, 2 * span_steps(length)))
    masks, _ = sample_spans(starts, allowed, length, u)  # goal never binds: spans untruncated
    words = []
    for mask in masks:
        edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
        assert (edges[::2] % 2 == 0).all()  # every span begins at a word start ...
        words.extend((edges[1::2] - edges[::2]) // 2)  # ... and covers whole words
    freq = np.bincount(words, minlength=6)[1:] / len(words)
    expected = (1 / np.arange(1, 6)) / (1 / np.arange(1, 6)).sum()  # 0.44 0.22 0.15 0.11 0.09
    assert np.abs(freq - expected).max() < 0.02


def _spans_by_steps(
    starts: np.ndarray,
    allowed: np.ndarray,
    goal: int | np.ndarray,
    u: np.ndarray,
    *,
    max_span: int = 5,
    alpha: int = 6,
    beta: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Oracle: the span loop as batched numpy, one step over [B] arrays per span (the numba kernel's
    first form).  Two formulations that agree on random inputs pin down the semantics.

    starts, allowed [B, L] bool; goal: targets per row (int or [B]); u [B, 2 * span_steps(L)]
    uniforms -> (mask [B, L] bool, targets per row [B]).
    """
    b, length = starts.shape
    steps = u.shape[1] // 2
    pvals = 1.0 / np.arange(1, max_span + 1)
    cdf = np.cumsum(pvals / pvals.sum())
    ns = np.minimum(np.searchsorted(cdf, u[:, :steps], side="right") + 1, max_span)  # [B, T]: words per span
    ctx = ns * alpha // beta  # [B, T]: context reserved around each span
    lefts = (u[:, steps : 2 * steps] * ctx).astype(np.int64)  # [B, T]: np.random.choice(ctx) in the reference

    before = np.zeros((b, length + 1), np.int64)  # [B, L+1]: word starts before position p
    before[:, 1:] = np.cumsum(starts, axis=1)
    n_words = before[:, -1]
    word_pos = np.full((b, length + 1), length, np.int64)  # [B, L+1]: position of the k-th word start
    rows, cols = np.nonzero(starts)
    word_pos[rows, before[rows, cols]] = cols

    goal = np.broadcast_to(np.asarray(goal), (b,))
    allowed_before = np.zeros((b, length + 1), np.int64)  # [B, L+1]: allowed tokens before position p
    allowed_before[:, 1:] = np.cumsum(allowed, axis=1)
    diff = np.zeros((b, length + 1), np.int32)  # +1 at span starts, -1 at span ends
    r = np.arange(b)
    cur = np.zeros(b, np.int64)
    covered = np.zeros(b, np.int64)  # allowed tokens inside this row's spans so far
    live = np.ones(b, bool)
    for t in range(steps):
        w = before[r, np.minimum(cur + lefts[:, t], length)]  # the span starts at the next word start
        live &= (cur < length) & (w + ns[:, t] < n_words)  # its n-th word must end before the sequence does
        if not live.any():
            break
        beg, end = word_pos[r, w], word_pos[r, np.minimum(w + ns[:, t], length)]
        diff[r[live], beg[live]] += 1
        diff[r[live], end[live]] -= 1
        cur = np.where(live, end + ctx[:, t] - lefts[:, t], cur)
        covered += np.where(live, allowed_before[r, end] - allowed_before[r, beg], 0)
        # A row whose spans already hold its goal is done: later spans would be cut away below
        # anyway, so stopping changes nothing and saves about two thirds of the steps.
        live &= covered < goal
    mask = (np.cumsum(diff[:, :length], axis=1) > 0) & allowed  # never specials
    mask &= np.cumsum(mask, axis=1) <= goal[:, None]  # the span crossing the goal is cut short
    return mask, mask.sum(axis=1)


@pytest.mark.parametrize("length", [7, 100, 512])
def test_span_kernel_matches_the_batched_numpy_formulation(length: int) -> None:
    rng = np.random.default_rng(length)
    rows = 64
    starts = rng.random((rows, length)) < rng.uniform(0.2, 1.0, (rows, 1))  # word density per row
    allowed = rng.random((rows, length)) < 0.95
    goals = rng.integers(0, length // 3 + 2, rows)
    u = rng.random((rows, 2 * span_steps(length)))
    for goal in (goals, length // 6 + 1):
        mask, num = sample_spans(starts, allowed, goal, u, max_span=5)
        want_mask, want_num = _spans_by_steps(starts, allowed, goal, u, max_span=5)
        assert (mask == want_mask).all() and (num == want_num).all()
    assert mask.any()


def test_plm_predicts_85_of_512_never_specials() -> None:
    rng = np.random.default_rng(1)
    tokens = _ordinary_tokens(rng, (200, 512))
    tokens[:, ::37] = IDS.eos
    allowed = ~np.isin(tokens, IDS.special)
    u = rng.random((200, 2 * span_steps(512) + 512))
    targets = sample_targets(np.ones((200, 512), bool), allowed, 85, u)
    assert not targets[tokens == IDS.eos].any()
    # XLNet's num_predict for seq 512 (partial prediction, K = 6)
    assert set(targets.sum(axis=1).tolist()) == {85}
    out = plm_collate(tokens[:4, :100], rng, ids=IDS)  # any length, odd ones included
    assert out["labels"].shape == (4, round(100 / 6)) and out["perm_mask"].dtype == torch.bool


def test_perm_mask_is_one_total_order() -> None:
    rng = np.random.default_rng(1)
    is_target = rng.random((20, 40)) < 0.25
    perm = permutation_masks(is_target, rng.random((20, 40)))
    for row, p in zip(is_target, perm, strict=True):
        t, c = np.flatnonzero(row), np.flatnonzero(~row)
        assert p[t, t].all()  # a target never sees itself
        assert not p[np.ix_(c, c)].any()  # context sees all context
        assert p[np.ix_(c, t)].all()  # ... and no target
        assert not p[np.ix_(t, c)].any()  # targets see all context
        sees = ~p[np.ix_(t, t)]  # among targets: i sees j iff j comes strictly earlier in one order
        rank = sees.sum(axis=1)
        assert sorted(rank.tolist()) == list(range(len(t)))
        assert (sees == (rank[None, :] < rank[:, None])).all()


def test_plm_collate_mapping_and_document_isolation() -> None:
    rng = np.random.default_rng(2)
    chunks = _ordinary_tokens(rng, (4, 48))
    chunks[:, 20] = IDS.eos
    out = plm_collate(chunks, rng, ids=IDS, doc_attention=True)
    p = round(48 / 6)
    assert out["input_ids"].tolist() == chunks.tolist()  # inputs are never corrupted
    assert out["perm_mask"].shape == (4, 48, 48) and out["target_mapping"].shape == (4, p, 48)
    mapping = out["target_mapping"].numpy()
    assert (mapping.sum(axis=2) == 1).all()
    pos = mapping.argmax(axis=2)
    assert (out["labels"].numpy() == np.take_along_axis(chunks, pos, axis=1)).all()
    perm = out["perm_mask"].numpy()
    for b in range(4):
        assert perm[b, pos[b], pos[b]].all()  # each target is hidden from itself
        assert perm[b, :21, 21:].all() and perm[b, 21:, :21].all()  # documents never see each other
        assert 0 not in pos[b] and 21 not in pos[b]  # a document's first token stays context


def _mean_run(mask: np.ndarray) -> float:
    """Mean length of the runs of consecutive True in each row of a [B, L] mask."""
    runs = []
    for row in mask:
        e = np.flatnonzero(np.diff(np.concatenate([[0], row.astype(int), [0]])))
        runs.extend(e[1::2] - e[::2])
    return float(np.mean(runs))


def test_plm_rates_follow_the_run_config_and_compare_with_transformers(
    tokenizer: PreTrainedTokenizerFast,
) -> None:
    """Measured on collated batches (two documents per row, every token a word): the share of tokens
    predicted is the run's plm_predict_ratio, spans are single words with plm_max_span 1 and longer
    with 5.  HF's collator predicts about 1/6 too, in longer spans (uniform 1..5 tokens, not 1/n)."""
    rng = np.random.default_rng(4)
    chunks = _ordinary_tokens(rng, (64, 120))
    chunks[:, 50] = IDS.eos
    measured = {}
    for ratio, max_span in [(1 / 6, 5), (0.25, 1)]:
        run = RunConfig(
            name="r",
            objective="plm",
            model=ModelConfig(arch="xlnet"),
            plm_predict_ratio=ratio,
            plm_max_span=max_span,
        )
        out = make_collate(run, IDS)(chunks, np.random.default_rng(1))
        is_target = out["target_mapping"].numpy().any(axis=1)  # [B, L]: the positions predicted
        assert not is_target[:, [0, 50, 51]].any()  # never the EOS nor a document's first token
        assert (out["labels"].numpy() == chunks[np.nonzero(is_target)].reshape(64, -1)).all()
        measured[max_span] = (is_target.mean(), _mean_run(is_target))
        assert measured[max_span][0] == pytest.approx(run.plm_predict_ratio, abs=0.005)
    assert measured[1][1] < 1.35 < 1.6 < measured[5][1]  # up to single tokens that top the spans up

    hf = DataCollatorForPermutationLanguageModeling(tokenizer, plm_probability=1 / 6, max_span_length=5)
    torch.manual_seed(0)
    got = hf([{"input_ids": torch.tensor(c)} for c in chunks])
    hf_mask = (got["labels"] != -100).numpy()
    assert hf_mask.mean() == pytest.approx(1 / 6, abs=0.02)
    assert measured[5][1] < _mean_run(hf_mask)


def test_plm_batch_trains_xlnet_without_leaks(tmp_path: Path) -> None:
    """Feed the collator to XLNetLMHeadModel: a target's prediction never depends on its own token,
    nor on another packed document."""
    from transformers import XLNetConfig, XLNetLMHeadModel

    torch.manual_seed(0)
    model = XLNetLMHeadModel(
        XLNetConfig(vocab_size=600, d_model=32, n_layer=2, n_head=2, d_inner=64, dropout=0.0)
    )
    model.eval()
    rng = np.random.default_rng(7)
    chunks = _ordinary_tokens(rng, (1, 30))
    chunks[0, 14] = IDS.eos
    batch = plm_collate(chunks, rng, ids=IDS, doc_attention=True)

    def logits(tokens: np.ndarray) -> torch.Tensor:
        with torch.no_grad():
            return model(
                input_ids=torch.from_numpy(tokens),
                perm_mask=batch["perm_mask"].float(),
                target_mapping=batch["target_mapping"].float(),
            ).logits[0]

    base = logits(chunks)
    pos = batch["target_mapping"][0].float().argmax(dim=1).tolist()
    for k, j in enumerate(pos):
        changed = chunks.copy()
        changed[0, j] = (changed[0, j] + 1 - 7) % 400 + 7
        after = logits(changed)
        assert torch.allclose(after[k], base[k], atol=1e-5)  # target k never saw its own token
        other = [i for i, q in enumerate(pos) if (q > 14) != (j > 14)]
        assert torch.allclose(after[other], base[other], atol=1e-5)  # nor the other document
