"""Normalisation, script-aware shingles, and the numba kernel against the readable reference."""

import numpy as np
import xxhash

from pipeline.config import DedupConfig
from pipeline.dedup.exact import normalize_url, text_hash
from pipeline.dedup.minhash import kernel, shingle_sets, signatures_and_hashes
from pipeline.dedup.normalize import normalize_for_dedup
from pipeline.dedup.shingles import shingles, utf8_docs
from pipeline.dedup.xxh32 import xxh32

MIXED = [
    "我爱北京天安门 and some english words here ok",
    "Ｈｅｌｌｏ　ＷＯＲＬＤ，全角和半角 ｶﾀｶﾅ ﾃｽﾄ",
    "安装 apt 软件包，2024年3月1日 (nat),能够 使用。",
    "한국어 문장도 공백이 있지만 음절 단위로 처리합니다",
    "ภาษาไทยไม่มีช่องว่างระหว่างคำ",
    "Ελληνικά ΚΕΙΜΕΝΟ με τελικό ΣΙΓΜΑ ΟΔΟΣ",  # final-sigma rule: folded in Python
    "e\u0301te\u0301 cafe\u0301 — combining marks … ﬁnance Ⅻ ㎏",
    "emoji 😀 and 𠀀𠀁𠀂 ext-B han 𠀃𠀄",
    "",
    "   \n\t  ",
    "短文",
    "docs.python.org/3/library — os.path.join(a, b) returns 'a/b'",
]


def test_normalisation_folds_width_case_and_spacing():
    assert normalize_for_dedup("Ｈｅｌｌｏ  World\n") == "hello world"
    assert text_hash("全角，标点！") == text_hash("全角,标点!")
    assert text_hash("hello world") != text_hash("hello world!")
    assert text_hash("漢語") != text_hash("汉语")
    assert text_hash("漢語", t2s=True) == text_hash("汉语", t2s=True)


def test_url_normalisation():
    assert normalize_url("HTTPS://www.Example.com:443/a/#frag") == normalize_url("http://example.com/a")
    assert normalize_url("http://example.com:8080/a") != normalize_url("http://example.com/a")


def test_char_ngrams_for_han_and_word_ngrams_for_latin():
    decoded = {s.decode() for s in shingles("我爱北京天安门 and some english words here ok", 5, 3)}
    assert {"我爱北京天", "北京天安门"} <= decoded
    assert "and some english" in decoded and "here ok" not in decoded
    assert len(shingles("短文", 5, 5)) == 1  # a run shorter than n is one shingle


def test_runs_span_punctuation_and_embedded_latin_words():
    run = "安装 apt 软件包"
    decoded = {s.decode() for s in shingles(run + " next words", 5, 2)}
    # the Latin word belongs to the Chinese run (char 5-grams), not to the word stream
    assert decoded == {run[i : i + 5] for i in range(len(run) - 4)} | {"next words"}


def test_kernel_agrees_with_reference_on_every_script():
    cfg = DedupConfig()
    hashes, offsets = shingle_sets(MIXED, cfg)
    for i, text in enumerate(MIXED):
        ref = sorted(xxhash.xxh32_intdigest(s) for s in shingles(text, cfg.ngram, cfg.word_ngram))
        assert hashes[offsets[i] : offsets[i + 1]].tolist() == ref, text


def test_kernel_agrees_with_reference_under_t2s_and_other_sizes():
    cfg = DedupConfig(t2s=True, ngram=3, word_ngram=1, run_gap=0)
    texts = ["漢語和資訊 技術", "軟體發展 software development kit", *MIXED]
    hashes, offsets = shingle_sets(texts, cfg)
    for i, text in enumerate(texts):
        ref = sorted(xxhash.xxh32_intdigest(s) for s in shingles(text, 3, 1, True, 0))
        assert hashes[offsets[i] : offsets[i + 1]].tolist() == ref, text


def test_kernel_exact_hash_matches_text_hash():
    _, hashes = signatures_and_hashes(MIXED, DedupConfig())
    assert hashes == [text_hash(t) for t in MIXED]


def test_xxh32_matches_the_library_on_every_length_class():
    rng = np.random.default_rng(0)
    buf = rng.integers(0, 256, 200, dtype=np.uint8)
    for n in (0, 1, 3, 4, 7, 15, 16, 17, 31, 32, 33, 100, 199):
        for seed in (0, 1, 0xFFFFFFFF):
            assert xxh32(buf, 1, 1 + n, seed) == xxhash.xxh32_intdigest(buf[1 : 1 + n].tobytes(), seed)


def test_kernel_batches_are_independent():
    k = kernel(DedupConfig())
    one = np.concatenate([k.hash_sets(*utf8_docs([t]))[0] for t in MIXED])
    assert np.array_equal(k.hash_sets(*utf8_docs(MIXED))[0], one)


def test_char_shingles_everywhere_are_the_plain_char_ngrams_of_the_normalised_text():
    cfg = DedupConfig(shingle="char")
    hashes, offsets = shingle_sets(MIXED, cfg)
    for i, text in enumerate(MIXED):
        ref = sorted(xxhash.xxh32_intdigest(s) for s in shingles(text, cfg.ngram, chars=True))
        assert hashes[offsets[i] : offsets[i + 1]].tolist() == ref, text
    decoded = {s.decode() for s in shingles("GIMP 帮助 Layer Groups", 5, chars=True)}
    assert {"gimp ", "帮助 la", "layer", "group"} <= decoded  # one stream across scripts and spaces
    assert "layer groups" not in decoded  # no word n-grams
