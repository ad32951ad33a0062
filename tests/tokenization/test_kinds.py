"""Tokenizer kinds: the BPE pre-tokeniser, `char` (Chinese-BERT), `wordpiece`; ids, [UNK], AutoTokenizer parity."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tokenizers import Regex, Tokenizer, pre_tokenizers

from tests.tokenization.test_train import EN, TRICKY, ZH, make_docs
from tokenization import special_tokens as st
from tokenization.bpe import LLAMA3_SPLIT_PATTERN, SPLIT_PATTERN
from tokenization.cjk import CJK_RE, is_cjk
from tokenization.common_hanzi import LEVEL1
from tokenization.config import TokenizerConfig
from tokenization.evaluate import cjk_split_violations, classify, format_side_by_side
from tokenization.train import train_tokenizer

REPO = Path(__file__).resolve().parents[2]
VOCAB = 1200
RARE = "鼹"  # appears once in the corpus below: under min_frequency=2 for `char`


def corpus() -> list[str]:
    return make_docs(300) + [f"稀有字{RARE}只出现一次。"]


def split(pattern: str, text: str) -> list[str]:
    return [t for t, _ in pre_tokenizers.Split(Regex(pattern), behavior="isolated").pre_tokenize_str(text)]


@pytest.fixture(scope="module")
def kinds(tmp_path_factory) -> dict[str, Path]:
    out = {}
    for kind in ("bpe", "char", "wordpiece"):
        d = tmp_path_factory.mktemp(kind)
        train_tokenizer(iter(corpus()), TokenizerConfig(kind=kind, vocab_size=VOCAB, holdout_every=None), d)
        out[kind] = d
    return out


def test_tgh_level1_list():
    assert len(LEVEL1) == len(set(LEVEL1)) == 3500
    assert LEVEL1.startswith("一乙二十丁厂七卜八人") and all(is_cjk(c) for c in LEVEL1)
    assert "的" in LEVEL1 and "我" in LEVEL1


def test_split_pattern_attaches_whitespace_runs_and_han_punctuation():
    text = "|  | 注意，我们\n    def f():\n\treturn 2024"
    assert split(SPLIT_PATTERN, text) == [
        "|",
        "  |",
        " 注意，我们",
        "\n    def",
        " f",
        "():\n",
        "\treturn",
        " 202",
        "4",
    ]
    # Llama-3's pattern spends separate tokens on the same whitespace.
    assert split(LLAMA3_SPLIT_PATTERN, text)[:4] == ["|", " ", " |", " 注意"]
    for t in TRICKY + make_docs(30):
        assert "".join(split(SPLIT_PATTERN, t)) == t  # a split, never a rewrite


def test_split_cjk_chars_option(tmp_path: Path):
    train_tokenizer(
        iter(make_docs()), TokenizerConfig(vocab_size=800, split_cjk_chars=True, holdout_every=None), tmp_path
    )
    tok = Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    for text in ZH:
        enc = tok.encode(text, add_special_tokens=False)
        assert tok.decode(enc.ids) == text
        for s, e in enc.offsets:
            assert len(CJK_RE.findall(text[s:e])) <= 1  # no token holds two Han characters
    assert json.loads((tmp_path / "yuliao_tokenizer.json").read_text())["config"]["split_cjk_chars"]


def test_bert_kinds_special_layout(kinds: dict[str, Path]):
    for kind in ("char", "wordpiece"):
        tok = Tokenizer.from_file(str(kinds[kind] / "tokenizer.json"))
        assert tok.get_vocab_size() == VOCAB
        assert [tok.id_to_token(i) for i in range(7)] == [
            "[PAD]",
            "[BOS]",
            "[EOS]",
            "[UNK]",
            "[MASK]",
            "[CLS]",
            "[SEP]",
        ]
        assert (
            tok.token_to_id("<extra_id_0>") == VOCAB - 1 and tok.token_to_id("<extra_id_99>") == VOCAB - 100
        )
        m = json.loads((kinds[kind] / "yuliao_tokenizer.json").read_text())
        ids = m["special_token_ids"]
        assert ids["tokens"]["eos"] == "[EOS]" and ids["eos"] == 2 and ids["mask"] == 4
        assert ids["sentinels"]["extra_id_0"] == VOCAB - 1
        assert (
            tok.encode("hello", add_special_tokens=True).ids
            == tok.encode("hello", add_special_tokens=False).ids
        )


def test_char_kind_one_token_per_cjk_char_or_unk(kinds: dict[str, Path]):
    tok = Tokenizer.from_file(str(kinds["char"] / "tokenizer.json"))
    held = ["床前明月光，疑是地上霜。", f"我们用{RARE}和龘来测试 mixed English words!", *ZH, *EN]
    assert cjk_split_violations(tok, held) == 0
    for text in held:
        enc = tok.encode(text, add_special_tokens=False)
        cjk = [c for c in text if is_cjk(c)]
        on_cjk = [
            (t, i) for t, i, (s, e) in zip(enc.tokens, enc.ids, enc.offsets, strict=True) if is_cjk(text[s])
        ]
        assert len(on_cjk) == len(cjk)  # every CJK character: exactly one token ...
        for (t, i), c in zip(on_cjk, cjk, strict=True):
            assert t == c or i == st.UNK_ID  # ... itself, or [UNK]
    assert tok.token_to_id(RARE) is None  # seen once < min_frequency 2
    assert tok.encode("龘", add_special_tokens=False).ids == [st.UNK_ID]
    # Vocabulary by frequency: the most frequent CJK character of the corpus comes right after the specials.
    counts: dict[str, int] = {}
    for d in corpus():
        for c in CJK_RE.findall(d):
            counts[c] = counts.get(c, 0) + 1
    top = min(counts, key=lambda c: (-counts[c], c))
    assert tok.token_to_id(top) == 7
    m = json.loads((kinds["char"] / "yuliao_tokenizer.json").read_text())
    assert m["training"]["cjk_chars"] == sum(1 for n in counts.values() if n >= 2)


def test_wordpiece_kind_bert_normalisation(kinds: dict[str, Path]):
    tok = Tokenizer.from_file(str(kinds["wordpiece"] / "tokenizer.json"))
    enc = tok.encode("The QUICK fox 今天", add_special_tokens=False)
    assert enc.tokens[:3] == ["the", "quick", "fox"]  # uncased
    assert enc.tokens[-2:] == ["今", "天"]  # CJK characters split apart
    assert any(t.startswith("##") for t in tok.get_vocab())


def test_saved_files_are_what_transformers_saves(kinds: dict[str, Path], tmp_path: Path):
    """Training writes tokenizer.json and tokenizer_config.json itself (it never imports
    transformers); they must be byte for byte what `save_pretrained` of the installed
    transformers writes for the same tokenizer, for every kind."""
    from transformers import PreTrainedTokenizerFast

    for kind, d in kinds.items():
        hf = PreTrainedTokenizerFast(
            tokenizer_object=Tokenizer.from_file(str(d / "tokenizer.json")),
            **{f"{role}_token": t for role, t in st.special_token_strings(kind).items()},
            extra_special_tokens=[st.sentinel_token(i) for i in range(st.NUM_SENTINELS)],
            clean_up_tokenization_spaces=False,
        )
        hf.save_pretrained(tmp_path / kind)
        for name in ("tokenizer.json", "tokenizer_config.json"):
            assert (tmp_path / kind / name).read_bytes() == (d / name).read_bytes(), (kind, name)
        assert sorted(f.name for f in (tmp_path / kind).iterdir()) == [
            "tokenizer.json",
            "tokenizer_config.json",
        ]


def test_autotokenizer_matches_raw_ids_for_every_kind(kinds: dict[str, Path], tmp_path: Path):
    texts = TRICKY + make_docs(40) + [f"稀有{RARE}"]
    script = (
        "import json, sys\n"
        "from transformers import AutoTokenizer\n"
        "texts = json.loads(sys.stdin.read())\n"
        "out = {}\n"
        "for d in sys.argv[1:]:\n"
        "    t = AutoTokenizer.from_pretrained(d)\n"
        "    out[d] = {'ids': [t(x, add_special_tokens=False)['input_ids'] for x in texts],\n"
        "              'named': [t.pad_token_id, t.bos_token_id, t.eos_token_id, t.unk_token_id,\n"
        "                        t.mask_token_id, t.cls_token_id, t.sep_token_id],\n"
        "              's0': t.convert_tokens_to_ids('<extra_id_0>'), 'len': len(t)}\n"
        "print(json.dumps(out))\n"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    dirs = [str(kinds[k]) for k in ("bpe", "char", "wordpiece")]
    proc = subprocess.run(
        [sys.executable, "-c", script, *dirs],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    for d in dirs:
        raw = Tokenizer.from_file(str(Path(d) / "tokenizer.json"))
        assert got[d]["ids"] == [raw.encode(x, add_special_tokens=False).ids for x in texts], d
        assert (
            got[d]["named"] == [0, 1, 2, 3, 4, 5, 6] and got[d]["s0"] == VOCAB - 1 and got[d]["len"] == VOCAB
        )


def test_report_classifies_like_the_peer_bench():
    assert classify("床前明月光，疑是地上霜。") == "zh"
    assert classify("plain ascii text") == "en"
    assert classify("café au lait") is None  # not ASCII: neither
    assert classify("Debian 的 apt-get install package manager command") is None  # < 30% Han


def test_report_documents_within_byte_budgets(monkeypatch: pytest.MonkeyPatch):
    """The report encodes zh and en documents (in order, while they fit their budget) and a
    budget of the rest: its cost stays fixed however much text is held out."""
    from tokenization import evaluate

    monkeypatch.setattr(evaluate, "REPORT_BYTES_PER_LANGUAGE", 20)
    monkeypatch.setattr(evaluate, "REPORT_OTHER_BYTES", 12)
    held = ["ascii one", "床前明月光", "ascii number two", "疑是地上霜", "x", "café", "naïve", "举头望明月"]
    langs = evaluate.by_language(held)
    # 9 + 16 bytes > 20: the second en text is skipped, the short "x" after it still fits
    assert langs == {"zh": ["床前明月光"], "en": ["ascii one", "x"], "other": ["café", "naïve"]}


def test_sentencepiece_side_by_side_report(tmp_path: Path):
    pytest.importorskip("sentencepiece")
    docs = make_docs(400)
    m = train_tokenizer(
        iter(docs), TokenizerConfig(vocab_size=800, holdout_every=10), tmp_path, compare_sentencepiece=True
    )
    ours, theirs = m["report"]["yuliao"], m["report"]["sentencepiece_bpe"]
    for r in (ours, theirs):
        assert r["heldout_docs"] == 40 and r["zh"]["docs"] + r["en"]["docs"] > 0
        assert 0 <= r["tgh_level1_coverage"]["share"] <= 1
    assert ours["en"]["bytes"] == theirs["en"]["bytes"]  # the same held-out documents
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # sample file cleaned up


def test_sentencepiece_refusal_is_reported_not_raised(tmp_path: Path):
    pytest.importorskip("sentencepiece")
    # 400 distinct CJK characters need more than a 380-piece SentencePiece vocabulary.
    docs = ["".join(chr(0x4E00 + (i * 7 + k) % 400) for k in range(60)) for i in range(100)]
    m = train_tokenizer(
        iter(docs), TokenizerConfig(vocab_size=380, holdout_every=10), tmp_path, compare_sentencepiece=True
    )
    assert "vocab_size=380" in m["report"]["sentencepiece_bpe"]["skipped"]
    assert m["report"]["yuliao"]["heldout_docs"] == 10
    assert "sentencepiece_bpe" not in format_side_by_side(m["report"])
