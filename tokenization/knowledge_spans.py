"""Phrases and entities for ERNIE-style knowledge masking, as unit starts per token.

Both are runs of whole jieba words inside one run of CJK characters (the words of `word_starts`,
so one segmentation serves all three columns), tagged with jieba.posseg's dictionary tags
(`POSTokenizer.word_tag_tab`, the tag posseg gives every dictionary word):
  * entity: a maximal run of words tagged as the same kind of name: person (nr, nrt, nrfg),
    place (ns), organisation (nt), other proper noun (nz);
  * phrase: a noun-phrase chunk: a maximal run of words tagged as nouns (n, ng, vn, an, or an
    entity tag) or noun modifiers (a adjective, b distinguishing word such as 大型), cut after
    its last noun, kept when two or more words remain (语言/环境/数据, 所有/文件, 新/版本).
Words the dictionary lacks (found by jieba's HMM) carry no tag, so they are never part of one:
posseg's own HMM would tag them, at many times the cost of the cut itself (bench/results/
2026-12-07-knowledge-spans.md); a dictionary lookup per word is deterministic and nearly free.

Levels follow ERNIE 1.0, whose knowledge masking builds on its basic level (characters; here
tokens) and adds phrase, then entity, masking (its ablation: +phrase, +phrase+entity):
  phrase -> the tokens of a phrase form one unit, every other token is a unit of its own;
  entity -> likewise with the phrases and the entities (an entity overlapping a phrase joins it):
            every phrase and every entity whole.
(Whole jieba words are the separate `word` level, from word_starts: Chinese-BERT-wwm.)
A token overlapping a span belongs to the span's unit, also a BPE token that straddles its end,
so the span is never cut; spans that such a token links become one unit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from itertools import accumulate

import numpy as np

from tokenization.word_starts import jieba_tokenizer, segment, word_start_mask

ENTITY_KINDS = {"nr": "person", "nrt": "person", "nrfg": "person", "ns": "place", "nt": "org", "nz": "other"}
NOUN_TAGS = frozenset(ENTITY_KINDS) | {"n", "ng", "vn", "an"}
MODIFIER_TAGS = frozenset({"a", "b"})
# Bits of the per-token unit codes the token reader hands the MLM collator (`TokenShards(unit_codes=True)`):
# a token with the bit set starts a unit of that level.
UNIT_BITS = {"word": 1, "phrase": 2, "entity": 4}
# The token shards' list<bool> columns of the three levels, in that order (`encode` writes them).
UNIT_COLUMNS = ("word_starts", "phrase_starts", "entity_starts")


@cache
def _tags() -> dict[str, str]:
    """jieba.posseg's tag of every dictionary word (loaded once per process)."""
    from jieba.posseg import POSTokenizer

    return POSTokenizer(jieba_tokenizer()).word_tag_tab


def _runs(tags: list[str], keep: Callable[[str | None, str], bool]) -> list[tuple[int, int]]:
    """Maximal [i, j) word ranges whose tags `keep(previous tag or None, tag)` accepts."""
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(tags):
        if not keep(None, tags[i]):
            i += 1
            continue
        j = i + 1
        while j < len(tags) and keep(tags[j - 1], tags[j]):
            j += 1
        out.append((i, j))
        i = j
    return out


def _same_entity(prev: str | None, tag: str) -> bool:
    kind = ENTITY_KINDS.get(tag)
    return kind is not None and (prev is None or ENTITY_KINDS.get(prev) == kind)


def _nominal(prev: str | None, tag: str) -> bool:
    return tag in NOUN_TAGS or tag in MODIFIER_TAGS


def spans(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(word start characters, phrase spans [P, 2], entity spans [E, 2]): [start, end) characters."""
    starts, runs = segment(text)
    tab = _tags() if runs else {}
    phrases: list[tuple[int, int]] = []
    entities: list[tuple[int, int]] = []
    for first, words in runs:
        tags = [tab.get(w, "x") for w in words]
        if not NOUN_TAGS.intersection(tags):
            continue  # most runs of classical or short text: nothing to find
        edges = list(accumulate((len(w) for w in words), initial=first))
        entities.extend((edges[i], edges[j]) for i, j in _runs(tags, _same_entity))
        for i, j in _runs(tags, _nominal):
            while j > i and tags[j - 1] not in NOUN_TAGS:
                j -= 1  # a phrase ends on its noun
            if j - i >= 2:
                phrases.append((edges[i], edges[j]))
    return starts, _array(phrases), _array(entities)


def _array(pairs: list[tuple[int, int]]) -> np.ndarray:
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


def merge(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The union of two sets of [start, end) spans, overlapping ones joined (touching ones kept apart)."""
    both = np.concatenate([a, b])
    if len(both) == 0:
        return both
    both = both[np.lexsort((both[:, 1], both[:, 0]))]
    out = [list(both[0])]
    for s, e in both[1:].tolist():
        if s < out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return _array([(s, e) for s, e in out])


def join_spans(flags: np.ndarray, offsets: Sequence[tuple[int, int]], char_spans: np.ndarray) -> np.ndarray:
    """Unit starts with every token overlapping a span after its first one joined to it."""
    n = len(offsets)
    out = flags.copy()
    if n == 0 or len(char_spans) == 0:
        return out
    off = np.asarray(offsets, dtype=np.int64).reshape(n, 2)
    ends = np.maximum.accumulate(off[:, 1])  # text order: running maxima are sorted
    begins = np.maximum.accumulate(off[:, 0])
    first = np.searchsorted(ends, char_spans[:, 0], side="right")  # first token covering the start
    stop = np.searchsorted(begins, char_spans[:, 1], side="left")  # tokens starting before the end
    out[first[first < n]] = True
    inside = np.zeros(n + 1, dtype=np.int64)  # tokens first+1 .. stop-1 start nothing
    keep = first + 1 < stop
    np.add.at(inside, first[keep] + 1, 1)
    np.add.at(inside, stop[keep], -1)
    out[np.cumsum(inside[:n]) > 0] = False
    return out


def unit_starts(text: str, offsets: Sequence[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Booleans per token of one encoded document: (word starts, phrase-level, entity-level unit starts)."""
    starts, phrases, entities = spans(text)
    tokens = np.ones(len(offsets), dtype=bool)  # the basic level: every token a unit
    return (
        word_start_mask(offsets, starts),
        join_spans(tokens, offsets, phrases),
        join_spans(tokens, offsets, merge(phrases, entities)),
    )


def unit_codes(word: np.ndarray, phrase: np.ndarray, entity: np.ndarray) -> np.ndarray:
    """The three flag columns of a document as one uint8 code per token (`UNIT_BITS`)."""
    return (
        word.astype(np.uint8) * UNIT_BITS["word"]
        | phrase.astype(np.uint8) * UNIT_BITS["phrase"]
        | entity.astype(np.uint8) * UNIT_BITS["entity"]
    )
