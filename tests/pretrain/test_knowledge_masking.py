"""ERNIE-style knowledge masking: phrases and entities masked whole, 15 % of tokens, 80/10/10, staged.

Real Chinese (the bundled Tang/Song poems and modern sentences naming people, places and
organisations) → byte-level BPE → `encode --word-boundaries` (jieba unit columns) → the stored
unit codes → the run's MLM collator.  Each phrase and entity is located independently, from the
text and the tokenizer's offsets, and checked against what the collator selected.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError
from tokenizers import Tokenizer

from pretrain.collate import chunk_length, make_collate, mask_units, uses_words
from pretrain.config import RunConfig
from pretrain.data.stream import PretrainStream
from pretrain.objectives import WordTable, special_ids
from pretrain.objectives.mlm import UnitSchedule
from pretrain.objectives.rng import ExampleKeys
from pretrain.train import load_tokenizer
from tests.tokenization.test_knowledge_spans import poems, sentence_docs, write_dataset
from tokenization.config import TokenizerConfig
from tokenization.encode import encode_dataset
from tokenization.knowledge_spans import UNIT_BITS, spans
from tokenization.mixture import mixture_of_weights
from tokenization.shards import TokenShards
from tokenization.train import train_tokenizer

SEQ_LEN = 64
DRAWS = 3  # masks drawn over the text: DRAWS x ~1,300 rows of 62 tokens


def run_config(mask_unit: str, **kw) -> RunConfig:
    return RunConfig(
        name="ernie", objective="mlm", model={"arch": "bert"}, seq_len=SEQ_LEN, mask_unit=mask_unit, **kw
    )


@dataclass
class Corpus:
    root: Path
    rows: np.ndarray  # [R, C] token ids: the documents joined with EOS, cut into chunks
    codes: np.ndarray  # [R, C] uint8 unit codes as the shards store them
    entity: np.ndarray  # [R, C] int: entity occurrence of each token (-1: none), from text + offsets
    phrase: np.ndarray  # [R, C] int: phrase occurrence, likewise
    multitoken: np.ndarray  # [n_entities] bool: the entity is several tokens
    n_phrases: int


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    root = tmp_path_factory.mktemp("knowledge")
    texts = [*poems(), *sentence_docs(60)]
    train_tokenizer(iter(texts), TokenizerConfig(vocab_size=3000, holdout_every=None), root / "tokenizer")
    encode_dataset(
        write_dataset(root / "dataset", texts), root / "tokenizer", root / "tokens", word_boundaries=True
    )
    shards = TokenShards(root / "tokens", unit_codes=True)
    ids, codes = shards.docs("zh", np.arange(shards.num_docs("zh")), word_starts=True)
    tok = Tokenizer.from_file(str(root / "tokenizer" / "tokenizer.json"))
    stream: dict[str, list[np.ndarray]] = {"ids": [], "codes": [], "entity": [], "phrase": []}
    multitoken: list[bool] = []
    n_entity = n_phrase = 0
    for text, doc, code in zip(texts, ids, codes, strict=True):  # one shard: documents in order
        enc = tok.encode(text, add_special_tokens=False)
        assert enc.ids == doc.tolist() and code is not None and code.dtype == np.uint8
        offsets = np.array(enc.offsets).reshape(-1, 2)
        _, phrases, entities = spans(text)
        groups = {}
        for name, pairs, first in (("entity", entities, n_entity), ("phrase", phrases, n_phrase)):
            group = np.full(len(doc) + 1, -1)  # + the EOS after the document
            for k, (s, e) in enumerate(pairs.tolist()):
                group[:-1][(offsets[:, 1] > s) & (offsets[:, 0] < e)] = first + k  # tokens overlapping it
            groups[name] = group
        multitoken += [
            int((groups["entity"] == first).sum()) > 1 for first in range(n_entity, n_entity + len(entities))
        ]
        n_entity, n_phrase = n_entity + len(entities), n_phrase + len(phrases)
        stream["ids"].append(np.append(doc, shards.eos_id))
        stream["codes"].append(np.append(code, 1).astype(np.uint8))  # EOS: a word start, as DocStream
        stream["entity"].append(groups["entity"])
        stream["phrase"].append(groups["phrase"])
    c = SEQ_LEN - 2
    cut = {k: np.concatenate(v) for k, v in stream.items()}
    n = len(cut["ids"]) // c * c
    rows = {k: v[:n].reshape(-1, c) for k, v in cut.items()}
    return Corpus(
        root, rows["ids"], rows["codes"], rows["entity"], rows["phrase"], np.array(multitoken), n_phrase
    )


def collate_all(corpus: Corpus, mask_unit: str, draws: int = DRAWS) -> tuple[np.ndarray, np.ndarray]:
    """(input_ids, labels) [DRAWS x R, C] of the run's collator, each draw keyed by other example ids."""
    run = run_config(mask_unit)
    tokenizer = load_tokenizer(corpus.root / "tokenizer")
    collate = make_collate(run, special_ids(tokenizer))
    r = len(corpus.rows)
    out = [
        collate(corpus.rows, ExampleKeys(7, np.arange(r) + d * r), word_starts=corpus.codes)
        for d in range(draws)
    ]
    inputs = np.concatenate([o["input_ids"].numpy()[:, 1:-1] for o in out])
    labels = np.concatenate([o["labels"].numpy()[:, 1:-1] for o in out])
    return inputs, labels


def split_groups(group: np.ndarray, selected: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per group (of n) lying inside one row: (times masked whole, times masked in part), over all draws."""
    draws = len(selected) // len(group)
    rows = np.broadcast_to(np.arange(group.shape[0])[:, None], group.shape)
    ids = group.ravel()
    inside = ids >= 0
    lo, hi = np.full(n, 1 << 30), np.full(n, -1)
    np.minimum.at(lo, ids[inside], rows.ravel()[inside])
    np.maximum.at(hi, ids[inside], rows.ravel()[inside])
    one_row = lo == hi  # not cut by a chunk boundary
    size = np.bincount(ids[inside], minlength=n)
    whole, part = np.zeros(n, int), np.zeros(n, int)
    for d in range(draws):
        hit = np.bincount(
            ids[inside], weights=selected[d * len(group) : (d + 1) * len(group)].ravel()[inside], minlength=n
        )
        whole += one_row & (hit == size)
        part += one_row & (hit > 0) & (hit < size)
    return whole, part


@pytest.mark.parametrize("unit", ["phrase", "entity"])
def test_phrases_and_entities_are_masked_whole(corpus: Corpus, unit: str) -> None:
    _, labels = collate_all(corpus, unit)
    selected = labels != -100
    phrase_whole, phrase_part = split_groups(corpus.phrase, selected, corpus.n_phrases)
    assert phrase_part.sum() == 0 and phrase_whole.sum() >= 300, (phrase_whole.sum(), phrase_part.sum())
    entity_whole, entity_part = split_groups(corpus.entity, selected, len(corpus.multitoken))
    if unit == "entity":
        assert entity_part.sum() == 0, entity_part.sum()
        assert entity_whole[corpus.multitoken].sum() >= 300
    else:  # entities outside phrases are masked token by token at the phrase level
        assert entity_part[corpus.multitoken].sum() >= 50
        # and the word level keeps words, not phrases, whole: the spans are what holds them together
        _, labels = collate_all(corpus, "word", draws=1)
        assert split_groups(corpus.phrase, labels != -100, corpus.n_phrases)[1].sum() >= 50


def unit_lengths(starts: np.ndarray) -> np.ndarray:
    """[R] longest unit of each row (starts [R, C])."""
    unit = np.cumsum(starts, axis=1)
    return np.array([np.bincount(u).max() for u in unit])


@pytest.mark.parametrize("unit", ["char", "word", "phrase", "entity"])
def test_rate_holds_per_row_and_overall(corpus: Corpus, unit: str) -> None:
    _, labels = collate_all(corpus, unit)
    selected = labels != -100
    maskable = np.tile(corpus.rows != TokenShards(corpus.root / "tokens").eos_id, (DRAWS, 1))
    # Each row's budget is 0.15 x its maskable tokens, and the unit crossing it is taken with
    # probability (budget left) / (its length): the expected rate is exactly 15 %.  Rows deviate
    # from their budget by under a token (sd), so over ~3,200 rows and ~196k maskable tokens the
    # realised rate's sd is about 0.0002: +-0.002 (10 sd) fails only for a biased selection.
    assert selected.sum() / maskable.sum() == pytest.approx(0.15, abs=0.002)
    # ... and no row is far from its budget: by less than its longest unit (one draw per unit
    # instead would put rows of long units at 5 % or 30 %)
    bit = {"char": 0, **UNIT_BITS}[unit]
    starts = np.ones_like(maskable) if bit == 0 else (np.tile(corpus.codes, (DRAWS, 1)) & bit) > 0
    starts |= ~maskable
    starts[:, 1:] |= ~maskable[:, :-1]
    gap = np.abs(selected.sum(1) - 0.15 * maskable.sum(1))
    assert (gap <= unit_lengths(starts)).all(), gap.max()


def test_80_10_10_inside_units(corpus: Corpus) -> None:
    draws = 8
    inputs, labels = collate_all(corpus, "entity", draws=draws)
    mask_id = load_tokenizer(corpus.root / "tokenizer").mask_token_id
    selected = labels != -100
    original = np.tile(corpus.rows, (draws, 1))
    entity = np.tile(corpus.entity, (draws, 1))
    phrase = np.tile(corpus.phrase, (draws, 1))
    for pick in (selected, selected & ((entity >= 0) | (phrase >= 0))):  # all; tokens of phrases/entities
        n = pick.sum()
        # n > 6,000: a share's standard deviation is under 0.005 (0.8) and 0.004 (0.1); 0.02 is 4+ of them
        assert n > 6000
        assert ((inputs == mask_id) & pick).sum() / n == pytest.approx(0.8, abs=0.02)
        assert ((inputs == original) & pick).sum() / n == pytest.approx(0.1, abs=0.02)
        assert ((inputs != original) & (inputs != mask_id) & pick).sum() / n == pytest.approx(0.1, abs=0.02)
    # decided per token: a masked entity of several tokens often mixes <mask> with kept/random tokens
    # (1 - 0.8^L - 0.2^L of them: 0.32 for two tokens; never, were it decided once per unit)
    group = entity + np.arange(draws).repeat(len(corpus.rows))[:, None] * len(corpus.multitoken)
    multi = selected & (entity >= 0)
    ids, at = np.unique(group[multi], return_inverse=True)
    tokens = np.bincount(at)
    masks = np.bincount(at, weights=(inputs[multi] == mask_id))
    several = tokens >= 2
    mixed = ((masks > 0) & (masks < tokens))[several].mean()  # <mask> and other tokens in one entity
    assert 0.15 < mixed < 0.6, mixed


def test_ernie_preset_switches_units_at_thirds_of_the_steps(corpus: Corpus) -> None:
    run = run_config("ernie", steps=30, batch_size=4, grad_accum=2)
    schedule = mask_units(run, data_parallel=2)  # 4 x 2 x 2 = 16 examples per step
    assert schedule == UnitSchedule(units=("char", "phrase", "entity"), firsts=(0, 160, 320))
    assert mask_units(run) == UnitSchedule(units=("char", "phrase", "entity"), firsts=(0, 80, 160))
    tokenizer = load_tokenizer(corpus.root / "tokenizer")
    ids = special_ids(tokenizer)
    staged = make_collate(run, ids, data_parallel=2)
    examples = np.array([0, 159, 160, 319, 320, 479])
    # rows where the three levels cut different units (phrase-level units != tokens != entity-level)
    phrase, entity = (corpus.codes & UNIT_BITS["phrase"]) > 0, (corpus.codes & UNIT_BITS["entity"]) > 0
    differ = np.flatnonzero((~phrase).any(1) & (phrase != entity).any(1))[:6]
    rows, codes = corpus.rows[differ], corpus.codes[differ]
    got = staged(rows, ExampleKeys(3, examples), word_starts=codes)["labels"]
    for i, unit in enumerate(["char", "char", "phrase", "phrase", "entity", "entity"]):
        alone = make_collate(run_config(unit), ids)(
            rows[i : i + 1], ExampleKeys(3, examples[i : i + 1]), word_starts=codes[i : i + 1]
        )
        assert torch.equal(got[i], alone["labels"][0]), (i, unit)
        others = [u for u in ("char", "phrase", "entity") if u != unit]
        assert not all(
            torch.equal(
                got[i],
                make_collate(run_config(u), ids)(
                    rows[i : i + 1], ExampleKeys(3, examples[i : i + 1]), word_starts=codes[i : i + 1]
                )["labels"][0],
            )
            for u in others
        )


def test_the_trainer_stream_hands_unit_codes_to_the_collator(corpus: Corpus) -> None:
    run = run_config("entity", batch_size=64)
    tokenizer = load_tokenizer(corpus.root / "tokenizer")
    ids = special_ids(tokenizer)
    seen: list[np.ndarray] = []

    def recording(chunks, rngs, word_starts=None):
        seen.append(word_starts)
        return {"chunks": torch.from_numpy(chunks)}

    def stream(collate) -> PretrainStream:
        return PretrainStream(
            TokenShards(corpus.root / "tokens"),
            mixture_of_weights({"zh": 1.0}, seed=1),
            collate,
            chunk_len=chunk_length(run),
            batch_size=run.batch_size,
            seed=0,
            word_starts=uses_words(run),
        )

    for (_, batch), (_, rec), _ in zip(
        stream(make_collate(run, ids)).iter_batches(),
        stream(recording).iter_batches(),
        range(3),
        strict=False,
    ):
        codes, chunks = seen[-1], rec["chunks"].numpy()
        assert codes.dtype == np.uint8 and codes.shape == chunks.shape
        selected = batch["labels"].numpy()[:, 1:-1] != -100
        eos = chunks == ids.eos  # documents end inside chunks: EOS and the token after it start units
        starts = ((codes & UNIT_BITS["entity"]) > 0) | eos
        starts[:, 1:] |= eos[:, :-1]
        starts[:, 0] = True  # a chunk may open inside a unit: its first tokens are a unit of their own
        assert (~starts).sum() >= 200  # units of several tokens are there to be kept whole
        for sel, u, e in zip(selected, np.cumsum(starts, axis=1), eos, strict=True):
            hit, size = np.bincount(u[~e], weights=sel[~e]), np.bincount(u[~e])
            assert ((hit == 0) | (hit == size)).all()
        assert selected.sum() / (~eos).sum() == pytest.approx(0.15, abs=0.01)


def test_shards_without_spans_are_refused_by_name(corpus: Corpus, tmp_path: Path) -> None:
    """Token shards encoded before knowledge spans (manifest without them): re-encode, never a fallback."""
    old = tmp_path / "tokens"
    shutil.copytree(corpus.root / "tokens", old)
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["knowledge_spans"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    tokenizer = load_tokenizer(corpus.root / "tokenizer")
    ids = special_ids(tokenizer)
    for unit, fails in (("word", False), ("phrase", True), ("entity", True), ("ernie", True)):
        run = run_config(unit)
        ds = PretrainStream(
            TokenShards(old),
            mixture_of_weights({"zh": 1.0}, seed=1),
            make_collate(run, ids, WordTable.from_tokenizer(tokenizer, ids.special)),
            chunk_len=chunk_length(run),
            batch_size=4,
            seed=0,
            word_starts=uses_words(run),
        )
        if fails:  # the ERNIE preset fails at its first batch, in its char stage
            with pytest.raises(
                ValueError, match=r"re-encode with `yuliao tokenizer encode --word-boundaries`"
            ):
                next(iter(ds))
        else:
            assert (next(iter(ds))["labels"] != -100).any()


def test_whole_word_mask_is_read_as_mask_unit() -> None:
    base = {"name": "b", "objective": "mlm", "model": {"arch": "bert"}}
    assert RunConfig.model_validate(base).mask_unit == "word"
    assert RunConfig.model_validate({**base, "whole_word_mask": True}).mask_unit == "word"
    assert RunConfig.model_validate({**base, "whole_word_mask": False}).mask_unit == "char"
    with pytest.raises(ValidationError, match="whole_word_mask is now mask_unit"):
        RunConfig.model_validate({**base, "whole_word_mask": True, "mask_unit": "entity"})
    with pytest.raises(ValidationError, match="mask_unit"):
        RunConfig.model_validate({**base, "mask_unit": "sentence"})
