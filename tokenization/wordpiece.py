"""BERT-style kinds: `wordpiece` (BertWordPieceTokenizer) and `char` (Chinese-BERT characters + WordPiece).

Both normalise like BERT (clean control characters, split every CJK character into its own word,
optional lower-casing with accent stripping), pre-tokenise on whitespace and punctuation, and
emit [UNK] for what the vocabulary cannot spell.  Decoding is lossy by design (BERT's is too).

`char` differs in how its vocabulary is chosen: CJK characters are counted directly and every one
seen at least `min_frequency` times gets a token, most frequent first (up to three quarters of the
learned vocabulary); the rest of the vocabulary is WordPiece trained on the text with CJK removed.
Since a lone CJK character is a whole word, it becomes its own token or [UNK], never pieces.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from tokenization import special_tokens as st
from tokenization.cjk import CJK_RE, is_cjk
from tokenization.config import TokenizerConfig

PREFIX = "##"
# BERT's cap: longer "words" (URLs, base64) become a single [UNK].
MAX_WORD_CHARS = 100


def build_bert_pipeline(cfg: TokenizerConfig, vocab: dict[str, int] | None = None):  # -> Tokenizer
    """Untrained (or, with `vocab`, ready) WordPiece pipeline with BERT normalisation."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    unk = st.leading_special_tokens(cfg.kind)[st.UNK_ID]
    model = models.WordPiece(
        vocab=vocab, unk_token=unk, continuing_subword_prefix=PREFIX, max_input_chars_per_word=MAX_WORD_CHARS
    )
    tok = Tokenizer(model)
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=cfg.lowercase
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix=PREFIX, cleanup=True)
    # No [CLS]/[SEP] from the tokenizer: the MLM collator adds them, the packer adds [EOS].
    tok.post_processor = processors.TemplateProcessing(single="$A:0", pair="$A:0 $B:1", special_tokens=[])
    return tok


def wordpiece_trainer(cfg: TokenizerConfig, vocab_size: int, limit_alphabet: int | None):
    from tokenizers import trainers

    kwargs = {} if limit_alphabet is None else {"limit_alphabet": limit_alphabet}
    return trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=cfg.min_frequency,
        special_tokens=list(st.leading_special_tokens(cfg.kind)),
        continuing_subword_prefix=PREFIX,
        show_progress=False,
        **kwargs,
    )


def train_wordpiece(texts: Iterable[str], cfg: TokenizerConfig, n_learned: int):  # -> Tokenizer
    """BertWordPieceTokenizer-style training; `n_learned` tokens besides the 7 leading specials."""
    tok = build_bert_pipeline(cfg)
    # BERT's default alphabet of 1000 characters would send most of Chinese to [UNK].
    limit = cfg.limit_alphabet if cfg.limit_alphabet is not None else max(1000, n_learned // 2)
    tok.train_from_iterator(texts, trainer=wordpiece_trainer(cfg, n_learned + len(st.ROLES), limit))
    return tok


class _CjkCounter:
    """Counts CJK characters while passing the text, CJK blanked out, on to the WordPiece trainer."""

    def __init__(self, texts: Iterable[str]) -> None:
        self._texts = texts
        self.counts: Counter[str] = Counter()

    def __iter__(self) -> Iterator[str]:
        for text in self._texts:
            cjk = CJK_RE.findall(text)
            if cjk:
                self.counts.update(cjk)
                text = CJK_RE.sub(" ", text)
            yield text


def train_char(texts: Iterable[str], cfg: TokenizerConfig, n_learned: int):  # -> Tokenizer
    """Chinese-BERT vocabulary: frequent CJK characters by count, then WordPiece for everything else."""
    counter = _CjkCounter(texts)
    rest_min = n_learned // 4
    # WordPiece first (it streams the corpus and fills the counts), sized for the worst case ...
    wp = train_wordpiece(counter, cfg, n_learned)
    chars = sorted(
        (c for c, n in counter.counts.items() if n >= cfg.min_frequency and is_cjk(c)),
        key=lambda c: (-counter.counts[c], c),
    )[: n_learned - rest_min]
    # ... then keep its first tokens (trainer order: alphabet, then merges by rank) to fill up.
    vocab = {t: i for i, t in enumerate(st.leading_special_tokens(cfg.kind))}
    for c in chars:
        vocab[c] = len(vocab)
    budget = len(st.ROLES) + n_learned
    wp_vocab = wp.get_vocab()
    for t in sorted(wp_vocab, key=wp_vocab.__getitem__):
        if len(vocab) >= budget:
            break
        if t not in vocab:
            vocab[t] = len(vocab)
    return build_bert_pipeline(cfg, vocab), {"cjk_chars": len(chars), "cjk_chars_seen": len(counter.counts)}
