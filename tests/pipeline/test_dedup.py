import numpy as np
from datasketch import LeanMinHash, MinHash

from pipeline.config import DedupConfig
from pipeline.dedup.exact import exact_duplicates, text_hash
from pipeline.dedup.lsh import near_duplicates
from pipeline.dedup.minhash import signatures
from pipeline.dedup.shingles import shingles

POEM = "床前明月光，疑是地上霜。举头望明月，低头思故乡。" * 3
ENGLISH = (
    "Debian is a free operating system, developed and maintained by the Debian project. "
    "It provides more than a pure operating system: it comes with thousands of packages. "
    "The Debian project is an association of individuals who have made common cause to create "
    "a free operating system. Packages are maintained by volunteers who follow the Debian Policy, "
    "and every release is tested for months before it is declared stable by the release team."
)
ZH = (
    "GIMP 是一个跨平台的图像处理程序，可以用来修饰照片、合成图像以及创作图像。"
    "它有许多功能，可以作为简单的画图程序，也可以作为专业级的照片修饰程序，"
    "还可以作为在线批处理系统、大规模图像渲染器、图像格式转换器等等。"
    "GIMP 的扩展性很强，可以通过插件扩展来实现任何功能，高级脚本接口允许用户简单地把任务脚本化。"
)


def test_text_hash_ignores_case_width_and_spacing():
    assert text_hash("Ｈｅｌｌｏ  World\n") == text_hash("hello world")
    assert text_hash("hello world") != text_hash("hello world!")


def test_exact_duplicates_keep_the_first():
    assert exact_duplicates(["a", "b", "c"], ["h1", "h2", "h1"]) == {"c": "a"}


def test_shingles_are_char_ngrams_for_han_and_word_ngrams_for_latin():
    sh = shingles("我爱北京天安门 and some english words here ok", char_n=5, word_n=3)
    decoded = {s.decode() for s in sh}
    assert "我爱北京天" in decoded and "北京天安门" in decoded
    assert "and some english" in decoded and "here ok" not in decoded
    assert len(shingles("短文", 5, 5)) == 1  # a run shorter than n is one shingle


def test_signatures_match_datasketch():
    cfg = DedupConfig(num_perm=64, seed=7)
    sig = signatures([POEM], cfg)[0]
    m = MinHash(num_perm=64, seed=7)
    m.update_batch(list(shingles(POEM, cfg.ngram, cfg.word_ngram)))
    assert np.array_equal(sig, m.hashvalues)
    lean = LeanMinHash(seed=7, hashvalues=sig, scheme="affine32")
    assert lean.jaccard(LeanMinHash(m)) == 1.0


def test_near_duplicates_found_and_distinct_docs_kept():
    cfg = DedupConfig()
    near_copy = ENGLISH.replace("thousands", "many thousands")
    chinese_variant = ZH.replace("许多", "很多")
    docs = {
        "a": ENGLISH,
        "b": ZH,
        "c": near_copy,
        "d": chinese_variant,
        "e": "完全不同的另一篇文章，讲的是数据清洗和语料库。" * 4,
    }
    ids = list(docs)
    dupes = near_duplicates(ids, signatures(list(docs.values()), cfg), cfg)
    assert dupes == {"c": "a", "d": "b"}
