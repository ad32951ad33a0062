"""Extract's per-page choice: forum threads keep their replies, articles drop comment lists and
look-alike boxes, pages readability cannot handle fall back to trafilatura."""

from __future__ import annotations

import pyarrow as pa
import pytest
from lxml.html import fragment_fromstring

from pipeline.config import ExtractConfig
from pipeline.io.readers import read_partition
from pipeline.steps import extract as extract_mod
from pipeline.steps.decode import decode
from pipeline.steps.extract import extract
from pipeline.steps.extract_threads import signature
from tests.pipeline import forum_pages
from tests.pipeline.test_extract import SAMPLE, html_rows

# never main text: navigation, user panels, thread chrome, footers.  readability alone keeps one
# post (or a post's header) of Discuz!, vBulletin, XenForo and the table BBS, and every post with
# its user panel and the thread's chrome on phpBB and Tieba.
CHROME = {
    "discourse": ["Related topics", "Terms of Service", "Likes", "January 1, 2023"],
    "discuz": ["排行榜", "立即注册", "积分", "只看该作者", "Powered by"],
    "phpbb": ["Board index", "Registered User", "Joined:", "Who is online", "Powered by"],
    "vbulletin": ["Join Date", "Senior Member", "Similar Threads", "Reply With Quote", "Powered by"],
    "xenforo": ["Well-known member", "Similar threads", "Terms and rules"],
    "tieba": ["贴吧热议榜", "2016-05-20 22:13", "回复贴", "隐私政策"],
    "table_bbs": ["广告服务", "网站地图"],
}


def _flat(text: str) -> str:
    return " ".join(text.split())


def _one(html: str, cfg: ExtractConfig | None = None) -> dict:
    result = extract(html_rows(html), cfg or ExtractConfig())
    assert result.dropped.num_rows == 0, result.dropped.to_pylist()
    return result.kept.to_pylist()[0]


@pytest.mark.parametrize("software", sorted(forum_pages.FORUMS))
def test_forum_thread_keeps_every_reply(software: str) -> None:
    html, posts = forum_pages.FORUMS[software]()
    row = _one(html)
    assert row["extractor"] == "readability+posts"
    text = _flat(row["text"])
    for post in posts:
        for line in post.split("\n"):
            assert _flat(line) in text, (software, line)
    for chrome in CHROME[software]:
        assert chrome not in text, (software, chrome)


@pytest.mark.parametrize("software", sorted(forum_pages.FORUMS))
def test_thread_text_keeps_page_order(software: str) -> None:
    html, posts = forum_pages.FORUMS[software]()
    text = _flat(_one(html)["text"])
    starts = [text.index(_flat(line)) for post in posts for line in post.split("\n")]
    assert starts == sorted(starts)


def test_discuz_thread_is_its_posts_bodies() -> None:
    html, posts = forum_pages.discuz()
    text = _one(html)["text"]
    assert text.startswith(posts[0][:20])  # nothing before the first post
    assert "发表于" not in text and "楼主" not in text  # floor and date lines sit outside the bodies


def test_manual_sections_are_kept_whole() -> None:
    """readability keeps one of a manual page's sections; its sibling sections join it, headings
    and all (they have no user panel to drop)."""
    pages = decode(read_partition(str(SAMPLE / "handbook.warc.gz"), "web", "warc").batch).kept
    url = "https://debian-handbook.info/browse/zh-CN/sect.development.html"
    page = pages.filter(pa.array([u == url for u in pages.column("url").to_pylist()]))
    row = extract(page, ExtractConfig()).kept.to_pylist()[0]
    assert row["extractor"] == "readability+posts"
    text = _flat(row["text"].replace("\xa0", " "))
    for part in ("13.6.1. GNOME中 GTK+ 工具", "Anjuta (in the anjuta", "13.6.2. Qt 工具", "KDevelop is also"):
        assert part in text


def test_comments_under_an_article_stay_out() -> None:
    html, article = forum_pages.blog_with_comments()
    row = _one(html)
    assert row["extractor"] == "readability"
    text = _flat(row["text"])
    assert all(_flat(p) in text for p in article)
    assert not any(c[:15] in text for c in forum_pages.BLOG_COMMENTS)


ARTICLE = [
    "这次改版以后，图书馆的借阅规则有了不少变化。读者每次最多可以借十本书，借期从三十天延长到四十五天。",
    "到期前还可以在网上续借一次，续借期为十五天。逾期未还的图书每天收取一角钱的滞纳金，最高不超过书价。",
    "新规则还增加了预约功能：被借出的图书可以在网上预约，图书归还后系统会发短信通知，预约保留三天。",
    "馆长表示，这些调整是根据去年的读者调查做出的，今后还会根据大家的意见继续改进借阅服务。",
]
NOTE = (
    "本栏目刊登的文章仅代表作者个人观点，不代表本报立场。欢迎读者来信来稿，来稿请注明真实姓名、工作单位和"
    "联系方式，一经采用即付稿酬。本报保留对来稿进行删改的权利，不同意删改者请在来稿中注明。"
)


def test_same_class_box_of_another_shape_is_not_a_post() -> None:
    """The article's box has a sibling box (same tag and class) full of text: not a thread."""
    paragraphs = "".join(f"<p>{p}</p>" for p in ARTICLE)
    html = (
        "<html><head><title>图书馆借阅规则调整</title></head><body><div class='nav'><a href='/'>首页</a>"
        f"<a href='/news'>新闻</a></div><div class='main'><div class='box'><h1>图书馆借阅规则调整</h1>"
        "<div class='info'><span>2023-05-06 08:30</span> <span>来源：本报</span> <span>作者：李明</span></div>"
        f"<div class='text'>{paragraphs}</div></div><div class='box'><h3>编者按</h3><table><tr><td>{NOTE}"
        "</td></tr></table></div></div><div class='footer'>版权所有</div></body></html>"
    )
    row = _one(html)
    assert row["extractor"] == "readability"
    assert all(p in row["text"] for p in ARTICLE) and NOTE[:20] not in row["text"]


def test_signature_ignores_alternation_and_post_numbers() -> None:
    def sig(html: str) -> str:
        return signature(fragment_fromstring(html))

    assert sig('<div class="post has-profile bg1"></div>') == sig('<div class="post has-profile bg2"></div>')
    assert sig('<div id="post_101"></div>') == sig('<div id="post_102"></div>') == "div#post_"
    assert sig('<div id="postlist"></div>') == "div" != sig('<div id="post_1"></div>')
    assert sig('<li class="comment even"></li>') != sig('<div class="comment odd"></div>')


# A script before <html> and an unknown tag in <head>: trafilatura's loader gives up on it
# (libxml2 nests the whole page in <head>), lxml's own parse still holds the text.
SCRIPT_FIRST = (
    "<script>\nfunction fontZoom(size) {\n  document.getElementById('fontzoom').style.fontSize = size + 'px';"
    "\n}\n</script>\n<html><head><title>对比试车</title><cms_include:style></head><body><div>"
    + "".join(f"<p>{p}</p>" for p in ARTICLE)
    + "</div></body></html>"
)


def test_page_trafilatura_rejects_is_still_extracted() -> None:
    row = _one(SCRIPT_FIRST)
    assert row["extractor"] == "readability"
    assert all(p in row["text"] for p in ARTICLE)
    result = extract(html_rows(SCRIPT_FIRST), ExtractConfig(extractor="trafilatura"))
    assert result.dropped.column("reason").to_pylist() == ["no_text_extracted"]


def test_readability_failure_falls_back_to_trafilatura(monkeypatch: pytest.MonkeyPatch) -> None:
    class Unparseable:
        def __init__(self, tree: object) -> None:
            pass

        def summary(self, **kwargs: object) -> str:
            raise extract_mod.Unparseable("no candidates")

    monkeypatch.setattr(extract_mod, "Document", Unparseable)
    page = "<html><body><article>" + "".join(f"<p>{p}</p>" for p in ARTICLE) + "</article></body></html>"
    row = _one(page)
    assert row["extractor"] == "trafilatura"
    assert all(p in row["text"] for p in ARTICLE)


def test_choices_are_reproducible() -> None:
    pages = [forum_pages.FORUMS[name]()[0] for name in sorted(forum_pages.FORUMS)]
    pages += [forum_pages.blog_with_comments()[0], SCRIPT_FIRST]
    first = extract(html_rows(*pages), ExtractConfig()).kept
    again = extract(html_rows(*pages), ExtractConfig()).kept
    assert first.equals(again)
    assert first.column("extractor").to_pylist() == ["readability+posts"] * 7 + ["readability"] * 2
