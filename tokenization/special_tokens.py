"""Special tokens with stable ids, shared by every objective (causal LM, MLM, T5 span corruption).

Layout of a vocabulary of size V, the same ids for every tokenizer kind:

    0..6            pad bos eos unk mask cls sep
    7..V-101        learned tokens (plus fillers if the corpus ran out of merges / frequent pieces)
    V-100..V-1      <extra_id_99> ... <extra_id_0>   (T5 convention: sentinel i == V-1-i)

Only the strings differ by kind: byte-level BPE uses the T5/XLNet spelling (`<pad>` `<s>` `</s>`
`<unk>` `<mask>` `<cls>` `<sep>`, fillers `<reserved_k>`); the BERT-style kinds (`char`,
`wordpiece`) use BERT's `[PAD]` `[UNK]` `[MASK]` `[CLS]` `[SEP]` plus `[BOS]` `[EOS]` (BERT has
none; the packer needs an end-of-document id), fillers `[unused_k]`.  T5 sentinels keep their
`<extra_id_i>` spelling in every kind, so span corruption and XLNet (which reads cls/sep/mask by
role) work on any kind.  Fixed ids let models, packers and collators hard-code nothing but these
constants; yuliao_tokenizer.json records both ids and strings.
"""

from __future__ import annotations

PAD = "<pad>"
BOS = "<s>"
EOS = "</s>"
UNK = "<unk>"
MASK = "<mask>"
CLS = "<cls>"
SEP = "<sep>"

LEADING_SPECIAL_TOKENS: tuple[str, ...] = (PAD, BOS, EOS, UNK, MASK, CLS, SEP)
PAD_ID, BOS_ID, EOS_ID, UNK_ID, MASK_ID, CLS_ID, SEP_ID = range(len(LEADING_SPECIAL_TOKENS))

BERT_LEADING_SPECIAL_TOKENS: tuple[str, ...] = (
    "[PAD]",
    "[BOS]",
    "[EOS]",
    "[UNK]",
    "[MASK]",
    "[CLS]",
    "[SEP]",
)
ROLES: tuple[str, ...] = ("pad", "bos", "eos", "unk", "mask", "cls", "sep")
BERT_KINDS = frozenset({"char", "wordpiece"})

NUM_SENTINELS = 100
BYTE_ALPHABET_SIZE = 256
# Smallest total vocabulary that still holds the specials, every byte, and the sentinels.
MIN_VOCAB_SIZE = len(LEADING_SPECIAL_TOKENS) + BYTE_ALPHABET_SIZE + NUM_SENTINELS


def sentinel_token(i: int) -> str:
    """The i-th T5 sentinel string, `<extra_id_i>`."""
    _check_sentinel_index(i)
    return f"<extra_id_{i}>"


def sentinel_id(i: int, vocab_size: int) -> int:
    """Id of `<extra_id_i>`: sentinels count down from the top of the vocabulary."""
    _check_sentinel_index(i)
    if vocab_size < MIN_VOCAB_SIZE:
        raise ValueError(f"vocab_size {vocab_size} is below the minimum {MIN_VOCAB_SIZE}")
    return vocab_size - 1 - i


def sentinel_tokens_in_id_order() -> list[str]:
    """Sentinels in the order they are appended to the vocabulary: `<extra_id_99>` first, `<extra_id_0>` last."""
    return [sentinel_token(i) for i in range(NUM_SENTINELS - 1, -1, -1)]


def reserved_token(k: int, kind: str = "bpe") -> str:
    """Filler token used when training yields fewer tokens than the requested vocabulary has room for."""
    return f"[unused_{k}]" if kind in BERT_KINDS else f"<reserved_{k}>"


def leading_special_tokens(kind: str = "bpe") -> tuple[str, ...]:
    """The strings at ids 0..6 for a tokenizer kind (same roles and ids for every kind)."""
    return BERT_LEADING_SPECIAL_TOKENS if kind in BERT_KINDS else LEADING_SPECIAL_TOKENS


def special_token_strings(kind: str = "bpe") -> dict[str, str]:
    """Role -> string, e.g. {"pad": "[PAD]", ...}, for transformers' named special tokens."""
    return dict(zip(ROLES, leading_special_tokens(kind), strict=True))


def special_token_ids(vocab_size: int, kind: str = "bpe") -> dict[str, object]:
    """The id map recorded in tokenizer manifests, so consumers need not load the tokenizer."""
    return {
        "tokens": special_token_strings(kind),
        "pad": PAD_ID,
        "bos": BOS_ID,
        "eos": EOS_ID,
        "unk": UNK_ID,
        "mask": MASK_ID,
        "cls": CLS_ID,
        "sep": SEP_ID,
        "sentinels": {
            "count": NUM_SENTINELS,
            "first_id": sentinel_id(NUM_SENTINELS - 1, vocab_size),
            "last_id": sentinel_id(0, vocab_size),
            "extra_id_0": sentinel_id(0, vocab_size),
            "rule": "id(<extra_id_i>) == vocab_size - 1 - i",
        },
    }


def _check_sentinel_index(i: int) -> None:
    if not 0 <= i < NUM_SENTINELS:
        raise ValueError(f"sentinel index {i} out of range [0, {NUM_SENTINELS})")
