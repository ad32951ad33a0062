"""Chinese rule pack and jieba word counting: each reason code, and good Chinese text passing."""

from __future__ import annotations

import pytest

from pipeline.config import FilterConfig
from pipeline.config.filters import ChineseConfig, GopherQualityConfig
from pipeline.steps.filters import first_failure
from pipeline.steps.filters.base import Doc
from pipeline.steps.filters.chinese import chinese, han_count, ngram_dup_ratio
from pipeline.steps.filters.gopher import gopher_quality
from pipeline.steps.filters.words import init_seconds, words

CFG = ChineseConfig()
POEM = "《静夜思》\n作者:李白\n床前明月光,疑是地上霜。\n举头望明月,低头思故乡。"
PROSE_ZH = (
    "第 2 章 案例研究\n\n"
    "在本书中,你是一家快速成长的音响设备公司的系统管理员。公司有两个工厂,员工约一百五十人。\n"
    "管理员决定把所有的服务器迁移到 Debian 上,因为它的软件包质量高,发布版本也很稳定。\n"
    "这一章介绍公司的现状和迁移的计划,后面的各章会一步一步地说明每一项工作。"
)


def test_words_segments_chinese_and_keeps_latin_words() -> None:
    assert words("我们在北京大学学习") == ["我们", "在", "北京大学", "学习"]
    got = words("GIMP 的滤镜(filters)很多。Don't panic.")
    assert got == ["GIMP", "的", "滤镜", "(filters)", "很多", "。", "Don't", "panic."]
    assert words("床前明月光，疑是地上霜。") == ["床", "前", "明月光", "，", "疑", "是", "地上", "霜", "。"]
    assert words("ソフトです") == ["ソ", "フ", "ト", "で", "す"]  # kana: one per word
    assert words("  \n ") == []


def test_word_count_does_not_misfire_on_unsegmented_chinese() -> None:
    assert len(POEM.split()) == 4  # whitespace "words": one per line
    n = len(words(POEM))
    assert 14 <= n <= 30, words(POEM)  # 20 verse characters + punctuation + title
    assert init_seconds() is not None and init_seconds() > 0  # measured once per process
    first = init_seconds()
    words("再来一次")
    assert init_seconds() == first


def test_good_chinese_passes() -> None:
    assert chinese(Doc(POEM, "zh"), CFG) == (True, None)
    assert chinese(Doc(PROSE_ZH, "zh"), CFG) == (True, None)
    assert first_failure(POEM, FilterConfig(), "zh") is None
    assert first_failure(PROSE_ZH, FilterConfig(), "zh") is None


@pytest.mark.parametrize(
    "text,reason",
    [
        ("首页 新闻 关于我们\n联系方式 English", "zh_too_few_han_chars"),
        ("安装软件包的方法如下所示,请仔细阅读说明文档。\n" + "ls -la /usr/share/doc/ && cat README.md | grep install\n" * 3,
         "zh_low_han_ratio"),
        ("\n".join(["首页", "新闻中心", "产品展示", "关于我们", "联系方式", "在线留言", "网站地图", "人才招聘"]), "zh_short_lines"),
        ("\n".join(f"第{i}节 软件包管理工具的基本原则和使用方法" for i in range(12)), "zh_few_sentence_ends"),
        ("这个视频真的太好笑了哈哈哈哈哈哈哈哈哈哈哈哈哈哈哈哈哈哈哈哈哈。\n我已经看了好几遍了！！！！！！！！！！", "zh_char_runs"),
        ("欢迎光临本店，全场商品一律八折优惠。" * 8, "zh_ngram_dup"),
        ("澳门赌场上线了,注册送彩金。\n百家乐、六合彩在线玩,加微信领取。\n代开发票,网赚日赚千元,刷单兼职。", "zh_spam_keywords"),
        ("澳門賭場上線了,註冊送彩金。\n百家樂、六合彩在線玩,加微信領取。\n代開發票,網賺日賺千元,刷單兼職。", "zh_spam_keywords"),
    ],
)  # fmt: skip
def test_chinese_reasons(text: str, reason: str) -> None:
    assert chinese(Doc(text, "zh"), CFG) == (False, reason)


def test_separators_are_not_character_runs() -> None:
    table = (
        "表 1.9. 时间戳类型列表\n┌──────────┬──────────────────┐\n│类型      │含义              │\n"
        "├──────────┼──────────────────┤\n│mtime     │文件内容的修改时间。│\n"
        "└──────────┴──────────────────┘\n文件有三种类型的时间戳,它们记录了文件的修改和访问时间。"
    )
    assert chinese(Doc(table, "zh"), CFG.model_copy(update={"min_cjk_ratio": 0.1})) == (True, None)


def test_spam_density_is_per_line() -> None:
    one_mention = PROSE_ZH + "\n有些网站用彩票和棋牌游戏吸引用户,管理员应当屏蔽这些广告。"
    assert chinese(Doc(one_mention, "zh"), CFG) == (True, None)  # 2 hits over 5 lines
    custom = ChineseConfig(spam_keywords=["音响设备"], max_spam_per_line=0.1)
    assert chinese(Doc(PROSE_ZH, "zh"), custom) == (False, "zh_spam_keywords")


def test_ngram_dup_ratio_follows_chinesewebtext() -> None:
    assert ngram_dup_ratio("短文本", 13) == 0.0  # shorter than one n-gram
    assert ngram_dup_ratio("一二三四五六七八九十甲乙丙丁", 13) == 0.0
    assert ngram_dup_ratio("ab ab", 2) == 2 / 3  # whitespace removed: "abab" → ab, ba, ab
    assert ngram_dup_ratio("甲乙丙" * 10, 13) == 1.0


def test_thresholds_are_configurable() -> None:
    assert han_count(POEM) == 27
    assert chinese(Doc(POEM, "zh"), ChineseConfig(min_han_chars=200)) == (False, "zh_too_few_han_chars")
    assert chinese(Doc(POEM, "zh"), ChineseConfig(min_mean_line_chars=10)) == (False, "zh_short_lines")
    off = FilterConfig(chinese={"enabled": False})
    menu = "首页 新闻中心 关于我们 联系方式 English Login"
    assert first_failure(menu, FilterConfig(), "zh") == "zh_too_few_han_chars"
    assert first_failure(menu, off, "zh") is None


def test_chinese_spam_also_fails_gopher_repetition_with_jieba_words() -> None:
    spam = "点击这里立即注册,领取免费大礼包," * 5 + "名额有限先到先得。今日特价商品限时抢购中。"
    assert len(spam.split()) == 1  # one whitespace "word": no n-gram rule could see the repeats
    cfg = FilterConfig(chinese={"enabled": False})
    assert first_failure(spam, cfg, "zh") == "gopher_top_3_gram"


def test_word_length_rule_skips_segmented_words_whatever_the_label() -> None:
    cfg = GopherQualityConfig(stop_words={})
    long_zh = "\n".join([PROSE_ZH] * 3)
    assert gopher_quality(Doc(long_zh, "en"), cfg) == (True, None)  # mislabelled: still no "short words"
    assert gopher_quality(Doc(" ".join(["a b c d e"] * 20), "en"), cfg) == (False, "gopher_short_words")
