"""Boilerplate lines: C4's rules, Chinese footers and widgets, and the content they must spare."""

from __future__ import annotations

import pyarrow as pa
import pytest

from pipeline.config.boilerplate import BoilerplateConfig
from pipeline.steps.boilerplate import enabled_rules, matching_rule, remove_boilerplate, strip_boilerplate

CFG = BoilerplateConfig()
RULES = enabled_rules(CFG)


def rule_of(line: str, cfg: BoilerplateConfig = CFG) -> str | None:
    return matching_rule(line, cfg, enabled_rules(cfg))


@pytest.mark.parametrize(
    "line,rule",
    [
        # ICP / public-security filing footers
        ("京ICP备12345678号-1", "icp"),
        ("粤ICP备2021012345号", "icp"),
        ("京公网安备 11010502030000号", "icp"),
        ("增值电信业务经营许可证：粤B2-20090059", "icp"),
        ("Copyright © 2024 某某科技有限公司 版权所有 京ICP备12345678号", "icp"),
        # copyright
        ("Copyright © 2024 All rights reserved.", "copyright"),
        ("© 2023 Example Inc.", "copyright"),
        ("版权所有 © 2008-2024 新浪网", "copyright"),
        ("版權 © 2006, 2007, 2008 Roland Mas", "copyright"),
        ("本文为博主原创文章，转载请注明出处。", "copyright"),
        ("本站所有文章未经授权禁止转载", "copyright"),
        # disclaimers
        ("本文转载自网络，如有侵权请联系删除。", "disclaimer"),
        ("免责声明：本站部分内容来源于互联网，仅供学习交流，版权归原作者所有。" * 5, "disclaimer"),
        ("文章观点不代表本站立场", "disclaimer"),
        # C4 policy and javascript notices
        ("This site uses cookies to improve your experience.", "policy"),
        ("Privacy Policy | Terms of Use", "policy"),
        ("我们使用 Cookie 来改善您的浏览体验", "policy"),
        ("隐私政策", "policy"),
        ("Please enable JavaScript to view the comments.", "javascript"),
        ("JavaScript is disabled in your browser.", "javascript"),
        ("您的浏览器禁用了JavaScript，请启用后刷新页面", "javascript"),
        # login prompts
        ("登录 | 注册", "login"),
        ("您需要登录后才可以回帖 登录 | 立即注册", "login"),
        ("请登录后评论", "login"),
        ("Sign in to comment", "login"),
        ("Forgot your password", "login"),
        # share bars
        ("分享到：微博 微信 QQ空间", "share"),
        ("一键分享", "share"),
        ("Share on: Facebook Twitter LinkedIn", "share"),
        # navigation
        ("上一篇：Python 入门教程（一）", "navigation"),
        ("下一篇：如何安装 MySQL", "navigation"),
        ("上一篇 下一篇 返回顶部", "navigation"),
        ("返回顶部", "navigation"),
        ("当前位置：首页 > 新闻 > 正文", "navigation"),
        ("Next", "navigation"),
        ("Back to top", "navigation"),
        # menus
        ("首页 | 新闻 | 帮助 | 登录", "nav_bar"),
        ("Home | Docs | Download | Community", "nav_bar"),
        ("首页 > 技术文档 > Python教程 > 第一章", "nav_bar"),
        ("首页 新闻 产品 关于我们", "nav_bar"),
        # Traditional pages (t2s is optional and off by default)
        ("上一頁", "navigation"),
        ("當前位置：首頁 > 新聞", "navigation"),
        ("首頁 | 新聞 | 說明 | 登入", "nav_bar"),
        ("登入 | 註冊", "login"),
        ("請登入後評論", "login"),
        ("版權所有 © 2024", "copyright"),
    ],
)
def test_boilerplate_lines(line: str, rule: str) -> None:
    assert rule_of(line) == rule


@pytest.mark.parametrize(
    "line",
    [
        # prose that mentions the keywords
        "这本书的版权问题很复杂。",
        "该软件的版权所有者是 Apache 软件基金会。",
        "我想把这篇文章分享到朋友圈。",
        "上一篇文章中，我们介绍了如何安装 Python。",
        "使用前请先登录 MySQL 服务器，然后执行下面的命令。",
        "登录 MySQL",  # a tutorial heading, not a prompt
        "服务注册与发现",
        "首先，你需要在 GitHub 上注册账号。",
        "如何办理增值电信业务经营许可证",
        "网站ICP备案流程",
        # JavaScript documentation is not a notice
        "JavaScript 是一种动态类型的脚本语言。",
        "Node.js 支持 JavaScript 的最新特性",
        "JavaScript closures capture variables by reference.",
        # a bibliography entry with a copyright year
        "[TUT01] 教程：如何画直线. 版权 © 2002 Seth Burgess. https://www.gimp.org/tutorials/Straight_Line .",
        # tables, code, ordinary short lines
        "| 参数 | 类型 | 说明 |",
        "| Home | 首页 | 默认页面 |",
        "$ ls -l /usr/share/doc",
        "安装完成后重启电脑",
        "Install the package",
        "第一章 概述",
        "lorem ipsum dolor sit amet",  # the filter drops such pages whole: off here by default
    ],
)
def test_content_is_kept(line: str) -> None:
    assert rule_of(line) is None


def test_long_paragraph_mentioning_copyright_stays() -> None:
    para = (
        "著作权法规定，作品的版权所有人享有复制权、发行权和信息网络传播权。未经许可转载他人作品，"
        "或者在转载时不注明出处，都可能构成侵权。如有侵权争议，当事人可以协商解决，也可以向人民法院起诉。"
    ) * 3
    assert len(para) > CFG.max_line_chars
    assert rule_of(para) is None
    assert rule_of(para, BoilerplateConfig(max_line_chars=1000)) is not None  # the guard saved it


def test_c4_exact_and_terminal_punctuation() -> None:
    doc_line = "JavaScript closures capture variables by reference."
    assert rule_of(doc_line, BoilerplateConfig(c4_exact=True)) == "javascript"
    long_policy = "Our privacy policy explains " + "in great detail " * 20 + "what we collect."
    assert rule_of(long_policy) is None
    assert rule_of(long_policy, BoilerplateConfig(c4_exact=True)) == "policy"

    c4 = BoilerplateConfig(terminal_punctuation=True)
    assert rule_of("A heading without a full stop", c4) == "terminal_punctuation"
    assert rule_of("Read more...", c4) == "terminal_punctuation"
    assert rule_of("阅读全文…", c4) == "terminal_punctuation"
    for sentence in ("A real sentence.", "这是一句话。", "他说：“走吧。”", "她沉默了……", 'He said "no"'):
        assert rule_of(sentence, c4) is None
    assert rule_of("A heading without a full stop") is None  # off by default


def test_rules_can_be_switched_off() -> None:
    cfg = BoilerplateConfig(icp=False, nav_bar=False)
    assert rule_of("京ICP备12345678号", cfg) is None
    assert rule_of("首页 | 新闻 | 帮助 | 登录", cfg) is None
    assert rule_of("京ICP备12345678号 版权所有", cfg) == "copyright"
    assert "icp" not in enabled_rules(cfg)


def test_strip_keeps_paragraphs_and_counts() -> None:
    text = (
        "首页 | 新闻 | 帮助 | 登录\n"
        "GIMP 用户手册\n\n"
        "图层是 GIMP 中最重要的概念之一。\n"
        "分享到：微博 微信 QQ空间\n\n"
        "每个图层都有自己的不透明度。\n\n"
        "上一篇：选区\n"
        "下一篇：通道\n\n"
        "Copyright © 2024 All rights reserved.\n"
        "京ICP备12345678号"
    )
    cleaned, counts = strip_boilerplate(text, CFG)
    assert cleaned == "GIMP 用户手册\n\n图层是 GIMP 中最重要的概念之一。\n\n每个图层都有自己的不透明度。"
    assert {k: v for k, v in counts.items() if v} == {
        "nav_bar": 1,
        "share": 1,
        "navigation": 2,
        "copyright": 1,
        "icp": 1,
    }
    assert set(counts) == set(RULES)


def _batch(texts: list[str]) -> pa.Table:
    return pa.table(
        {
            "id": [f"b-{i}" for i in range(len(texts))],
            "source": ["web"] * len(texts),
            "text": texts,
            "bytes": [len(t.encode()) for t in texts],
        }
    )


def test_step_columns_and_empty_documents() -> None:
    batch = _batch(
        [
            "正文第一段。\n分享到：微博 微信 QQ空间\n京ICP备12345678号",
            "首页 | 新闻 | 帮助 | 登录\n返回顶部",
            "没有任何模板的正文。",
        ]
    )
    result = remove_boilerplate(batch, CFG)
    kept = result.kept
    assert kept.column("text").to_pylist() == ["正文第一段。", "没有任何模板的正文。"]
    assert kept.column("boilerplate_share").to_pylist() == [1, 0]
    assert kept.column("boilerplate_icp").to_pylist() == [1, 0]
    assert kept.schema.field("boilerplate_icp").type == pa.int32()
    assert [c for c in kept.column_names if c.startswith("boilerplate_")] == [
        f"boilerplate_{r}" for r in RULES
    ]
    assert [(r["id"], r["stage"], r["decision"], r["reason"]) for r in result.dropped.to_pylist()] == [
        ("b-1", "boilerplate", "filtered", "empty_after_boilerplate")
    ]


def test_step_disabled_passes_through() -> None:
    batch = _batch(["京ICP备12345678号"])
    result = remove_boilerplate(batch, BoilerplateConfig(enabled=False))
    assert result.kept.equals(batch)
    assert result.dropped.num_rows == 0


def test_defaults_spare_chinese_and_code() -> None:
    assert not CFG.terminal_punctuation
    assert not CFG.lorem_ipsum
    assert not CFG.c4_exact


def test_batch_verdict_cache_changes_nothing() -> None:
    """Lines repeated across a batch's documents are judged once; results equal one by one."""
    cfg = BoilerplateConfig()
    footer = ["版权所有 © 2024 某某公司", "首页 | 新闻 | 帮助 | 登录", "Next topic", "返回顶部"]
    texts = [
        "\n".join([f"第{i}段正文，内容完整。", *footer, f"Body line {i} ends here.", "  indented code x = 1"])
        for i in range(5)
    ] + ["版权所有 © 2024 某某公司", "", "only prose here."]
    cfg_short = BoilerplateConfig(max_widget_chars=5)  # another config must not reuse verdicts
    for c in (cfg, cfg_short):
        out = remove_boilerplate(_batch(texts), c)
        singles = [strip_boilerplate(t, c) for t in texts]
        kept_ids = out.kept.column("id").to_pylist()
        expected = {f"b-{i}": s for i, s in enumerate(singles) if s[0]}
        assert kept_ids == list(expected)
        assert out.kept.column("text").to_pylist() == [expected[i][0] for i in kept_ids]
        for rule in enabled_rules(c):
            col = out.kept.column(f"boilerplate_{rule}").to_pylist()
            assert col == [expected[i][1][rule] for i in kept_ids]


def test_verdict_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import pipeline.steps.boilerplate as bp

    monkeypatch.setattr(bp, "MAX_VERDICTS", 3)
    verdicts: dict[str, str | None] = {}
    text = "\n".join(
        ["首页 | 新闻 | 帮助 | 登录", "a line.", "b line.", "c line.", "d line.", "首页 | 新闻 | 帮助 | 登录"]
    )
    assert strip_boilerplate(text, CFG, verdicts) == strip_boilerplate(text, CFG)
    assert len(verdicts) <= 3
