"""Masked LM (BERT/RoBERTa/ERNIE): <cls> chunk <sep>, 15 % of tokens in whole units, 80/10/10, doc-aware.

`mask_unit` says what is masked as one piece: `char` (each token, BERT), `word` (jieba words,
Chinese-BERT-wwm; stored starts or `word_table.WordTable`), `phrase` (noun-phrase chunks whole,
other tokens one by one) or `entity` (phrases and named entities whole) -- ERNIE 1.0's knowledge
masking, from the unit codes `tokenization.knowledge_spans` stores -- or a `UnitSchedule` of
them over the run (ERNIE's stages: `ERNIE_STAGES`).
Each row's budget is p x its maskable tokens.  Units are taken in a random order until the budget;
the unit that crosses it is taken with probability (budget left) / (its length), so every row
masks p x n tokens in expectation (exactly p, whatever the unit lengths) and is within one unit
of it: long units cannot push a row to 25 % nor leave it at 5 %, as one draw per unit would.
Each selected token is then replaced by <mask> 80 %, by a random ordinary token 10 %, or kept
10 % (decided per token, as BERT's create_pretraining_data.py does also for whole words).
Masks are redrawn every time an example is built: the stream keys each row's Generator by
(seed, global example index), and that index never repeats — dynamic masking (RoBERTa).

With `doc_attention` the packed documents do not see each other: the attention mask is a
block-diagonal [B, 1, S, S] boolean (True = attend; transformers passes a 4D mask through to
SDPA untouched) and `position_ids` restart at every document (+ `position_offset`, which is
pad_id + 1 for RoBERTa, whose positions start there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from pretrain.objectives.masks import expand
from pretrain.objectives.packing import segments
from pretrain.objectives.rng import ExampleKeys, Rngs, uniforms
from tokenization.knowledge_spans import UNIT_BITS

if TYPE_CHECKING:
    from pretrain.objectives.special_ids import SpecialIds
    from pretrain.objectives.word_table import WordTable


def _frame(
    chunks: Sequence[np.ndarray] | np.ndarray, ids: SpecialIds, seq_len: int
) -> tuple[np.ndarray, np.ndarray]:
    """<cls> chunk <sep> <pad>... -> tokens [B, S], attention [B, S]."""
    b = len(chunks)
    tokens = np.full((b, seq_len), ids.pad, dtype=np.int64)  # [B, S]
    attention = np.zeros((b, seq_len), dtype=np.int64)  # [B, S]
    if isinstance(chunks, np.ndarray) and chunks.ndim == 2:  # equal lengths: no Python loop
        n = chunks.shape[1]
        if n > seq_len - 2:
            raise ValueError(f"chunk of {n} tokens does not fit seq_len={seq_len} with <cls>/<sep>")
        tokens[:, 0], tokens[:, 1 : n + 1], tokens[:, n + 1] = ids.cls, chunks, ids.sep
        attention[:, : n + 2] = 1
        return tokens, attention
    for i, chunk in enumerate(chunks):
        n = len(chunk)
        if n > seq_len - 2:
            raise ValueError(f"chunk of {n} tokens does not fit seq_len={seq_len} with <cls>/<sep>")
        tokens[i, 0], tokens[i, 1 : n + 1], tokens[i, n + 1] = ids.cls, chunk, ids.sep
        attention[i, : n + 2] = 1
    return tokens, attention


LEVELS = ("char", "word", "phrase", "entity")  # coarser to the right; the config's MaskUnit
ERNIE_STAGES = (("char", 0.0), ("phrase", 1 / 3), ("entity", 2 / 3))  # ERNIE 1.0: basic, phrase, entity


@dataclass(frozen=True)
class UnitSchedule:
    """Staged masking: example g uses units[k] for firsts[k] <= g < firsts[k + 1] (firsts[0] == 0).

    Keyed by the global example index, so a stage starts at the same example on any rank layout
    and after a resume.  Evaluation streams restart at example 0: they stay in the first stage,
    comparable across the run.
    """

    units: tuple[str, ...]
    firsts: tuple[int, ...]

    @classmethod
    def over_run(
        cls, stages: Sequence[tuple[str, float]], steps: int, examples_per_step: int
    ) -> UnitSchedule:
        """Stages given as (unit, fraction of the run's steps at which it starts)."""
        firsts = tuple(round(f * steps) * examples_per_step for _, f in stages)
        return cls(units=tuple(u for u, _ in stages), firsts=firsts)

    def __post_init__(self) -> None:
        unknown = [u for u in self.units if u not in LEVELS]
        if unknown or len(self.units) != len(self.firsts) or not self.firsts or self.firsts[0] != 0:
            raise ValueError(f"bad unit schedule {self}: units in {LEVELS}, first stage at example 0")
        if list(self.firsts) != sorted(self.firsts):
            raise ValueError(f"unit schedule stages must start in order: {self.firsts}")

    def levels(self, examples: np.ndarray) -> np.ndarray:
        """[B] level (index into LEVELS) of each global example index."""
        stage = np.searchsorted(np.asarray(self.firsts), examples, side="right") - 1
        return np.asarray([LEVELS.index(u) for u in self.units])[stage]


def _row_levels(mask_unit: str | UnitSchedule, rngs: Rngs | None, b: int) -> tuple[np.ndarray, int]:
    """[B] level of each row, and the coarsest level of the run (a schedule's later stages included,
    so shards without knowledge spans fail at the first batch, not a third into the run)."""
    if isinstance(mask_unit, str):
        if mask_unit not in LEVELS:
            raise ValueError(f"mask_unit={mask_unit!r}: use one of {list(LEVELS)} or a UnitSchedule")
        return np.full(b, LEVELS.index(mask_unit)), LEVELS.index(mask_unit)
    if not isinstance(rngs, ExampleKeys):
        raise ValueError(
            "a staged mask_unit needs the stream's ExampleKeys (the rows' global example indices)"
        )
    return mask_unit.levels(np.asarray(rngs.ids)), max(LEVELS.index(u) for u in mask_unit.units)


def _no_spans(unit: str) -> ValueError:
    return ValueError(
        f"mask_unit {unit!r} needs phrase/entity unit starts, and these token shards store none (encoded "
        "before knowledge spans, or without word boundaries): re-encode with `yuliao tokenizer encode "
        "--word-boundaries` (it rewrites the shards in place with phrase_starts/entity_starts)"
    )


def _unit_starts(
    levels: np.ndarray,
    need: int,
    word_starts: np.ndarray | None,
    tokens: np.ndarray,
    words: WordTable | None,
    special: np.ndarray,
) -> np.ndarray:
    """[B, S] bool: where each row's units start, framed like `tokens` (<cls> chunk <sep> pads).

    Special tokens (and the token after one) always start a unit, so no unit spans a document
    boundary or mixes maskable and special tokens."""
    b, s = tokens.shape
    starts = np.ones((b, s), dtype=bool)  # level char: every token
    if need >= 1:
        codes = None
        if word_starts is not None:  # cls, sep, pads: start every level
            n = word_starts.shape[1]
            codes = starts.copy() if word_starts.dtype == bool else np.full((b, s), 0xFF, dtype=np.uint8)
            codes[:, 1 : n + 1] = word_starts
        if need >= 2 and (codes is None or codes.dtype == bool):
            raise _no_spans(LEVELS[need])
        if codes is not None:
            word = codes if codes.dtype == bool else (codes & UNIT_BITS["word"]) != 0
        elif words is not None:
            word = words.starts(tokens)
        else:
            raise ValueError("whole-word masking needs stored word_starts or a WordTable")
        starts = np.where((levels == 1)[:, None], word, starts)
        for level in (2, 3):
            if (levels == level).any():
                bit = UNIT_BITS[LEVELS[level]]
                starts = np.where((levels == level)[:, None], (codes & bit) != 0, starts)  # type: ignore[operator]
    starts[:, 1:] |= special[:, :-1]
    return starts | special


def _select_units(
    starts: np.ndarray, candidates: np.ndarray, key: np.ndarray, coin: np.ndarray, p: float
) -> np.ndarray:
    """[B, S] bool: whole units in the order of their first token's `key` until p x candidates.

    The unit crossing the budget is taken with probability (budget left) / (its length): the
    expected count is exactly p x candidates per row."""
    b, s = starts.shape
    idx = np.arange(s, dtype=np.int32)
    done = np.zeros((b, s + 1), dtype=np.int32)  # maskable tokens before each position
    np.cumsum(candidates, axis=1, dtype=np.int32, out=done[:, 1:])
    first = None  # [B, S]: first token of my unit (None: every token is one)
    if starts.all():
        length = candidates.astype(np.int32)
    else:
        first = np.maximum.accumulate(np.where(starts, idx, 0), axis=1)
        nxt = np.empty((b, s), dtype=np.int32)  # the next unit's first token
        nxt[:, :-1] = np.minimum.accumulate(np.where(starts, idx, s)[:, :0:-1], axis=1)[:, ::-1]
        nxt[:, -1] = s
        length = np.take_along_axis(done, nxt, axis=1)
        length -= done[:, :s]
        length *= starts  # maskable tokens of the unit, at its first token
    # Units in key order: one int64 sort of (key bits, position); the rest (length 0) go last.
    packed = (key * (1 << 46)).astype(np.int64)
    packed[length == 0] = 1 << 46
    packed <<= 16
    packed |= idx
    packed.sort(axis=1)
    order = (packed & 0xFFFF).astype(np.intp)
    size = np.take_along_axis(length, order, axis=1)
    after = np.cumsum(size, axis=1, dtype=np.int32)  # maskable tokens taken with this unit
    budget = p * done[:, -1:]  # [B, 1]
    left = budget - (after - size)
    take = (after <= budget) | ((left > 0) & (coin[:, None] * size < left))
    take &= size > 0
    unit_taken = np.empty((b, s), dtype=bool)
    np.put_along_axis(unit_taken, order, take, axis=1)
    if first is None:
        return unit_taken & candidates
    return np.take_along_axis(unit_taken, first, axis=1) & candidates


def mlm_collate(
    chunks: Sequence[np.ndarray] | np.ndarray,
    rngs: Rngs | None = None,
    word_starts: np.ndarray | None = None,
    *,
    ids: SpecialIds,
    seq_len: int,
    mlm_probability: float = 0.15,
    mask_unit: str | UnitSchedule = "char",
    whole_word: bool = False,
    words: WordTable | None = None,
    doc_attention: bool = False,
    position_offset: int = 0,
    compact: bool = False,
) -> dict[str, torch.Tensor]:
    """chunks: B rows of <= seq_len-2 tokens -> input_ids, labels [B, S], attention_mask, (position_ids).

    `word_starts` [B, C]: stored word starts (bool) or unit codes (uint8, `knowledge_spans.UNIT_BITS`)
    of the chunks; `whole_word=True` is the old spelling of mask_unit="word".  Labels hold the
    original id at selected positions and -100 everywhere else.  With doc_attention and `compact`,
    `segment_ids` [B, S] replaces the [B, 1, S, S] mask (`masks.expand`).
    """
    if whole_word:
        if mask_unit not in ("char", "word"):
            raise ValueError(f"whole_word=True is mask_unit='word'; it contradicts mask_unit={mask_unit!r}")
        mask_unit = "word"
    tokens, attention = _frame(chunks, ids, seq_len)
    b, s = tokens.shape
    u = uniforms(rngs, b, 3 * s + 1)  # [B, 3S + 1]: select, action, random id; then one coin per row
    select, action, pick, coin = u[:, :s], u[:, s : 2 * s], u[:, 2 * s : 3 * s], u[:, 3 * s]
    special = ids.is_special[tokens]  # [B, S]: pad/cls/sep/eos/... never selected
    levels, need = _row_levels(mask_unit, rngs, b)
    starts = _unit_starts(levels, need, word_starts, tokens, words, special)
    selected = _select_units(starts, ~special, select, coin, mlm_probability)
    labels = np.where(selected, tokens, -100)

    random_ids = ids.ordinary[(pick * len(ids.ordinary)).astype(np.int64)]  # [B, S]
    inputs = np.where(selected & (action < 0.8), ids.mask, tokens)
    inputs = np.where(selected & (action >= 0.8) & (action < 0.9), random_ids, inputs)
    out = {"input_ids": torch.from_numpy(inputs), "labels": torch.from_numpy(labels)}
    if not doc_attention:
        out["attention_mask"] = torch.from_numpy(attention)
        return out
    seg, pos = segments(tokens, ids.eos)
    narrow = np.int16 if s < 2**15 else np.int32
    out["segment_ids"] = torch.from_numpy(np.where(attention == 1, seg, -1).astype(narrow))  # -1: padding
    out["position_ids"] = torch.from_numpy(np.ascontiguousarray(pos + position_offset))
    return out if compact else expand(out)
