"""Line-level boilerplate removal: C4's line rules plus the footers and widgets of Chinese sites.

Each rule is a small predicate `(line, cfg) -> bool` over one stripped line; the first rule
that matches removes the line and is credited with it.  Removed lines are counted per rule
in one int32 column per enabled rule, `boilerplate_<rule>`, so the report can sum them like
the `pii_*` columns.  A document with nothing left is filtered as
"empty_after_boilerplate".

Two guards keep real content: keyword rules (copyright, policy, disclaimer, javascript)
only judge lines up to `max_line_chars` (a long paragraph mentioning 版权 is prose), and
widget rules (login, share, navigation, nav_bar) only judge short lines that do not end a
sentence (a share bar has no 。, "我想把它分享到朋友圈。" does).  Markdown table rows
(extracted tables start with "|") are never menus.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pyarrow as pa

from pipeline.config.boilerplate import BoilerplateConfig
from pipeline.steps import StepResult
from pipeline.steps.decode import split

STAGE = "boilerplate"
COLUMN_PREFIX = "boilerplate_"

Rule = Callable[[str, BoilerplateConfig], bool]

_SENTENCE_END = ("。", "！", "？", "；", ".", "!", "?", ";")


def _keyword_line(line: str, cfg: BoilerplateConfig) -> bool:
    return len(line) <= cfg.max_line_chars


def _widget_line(line: str, cfg: BoilerplateConfig) -> bool:
    return len(line) <= cfg.max_widget_chars and not line.endswith(_SENTENCE_END)


# --- C4 -----------------------------------------------------------------------------------

_JS_NOTICE = re.compile(
    r"(?:enable|turn on|activate|requires?|need)\s+(?:your\s+)?javascript"
    r"|javascript\s+(?:is\s+|must\s+be\s+|needs\s+to\s+be\s+)?(?:disabled|turned off|off|required|enabled|not enabled)"
    r"|(?:启用|开启|打开|允许|禁用|关闭|不支持|未启用|未开启)了?(?:浏览器的?|您的浏览器的?)?\s*javascript"
    r"|javascript\s*(?:已|被)?(?:禁用|关闭|未启用|未开启|不可用)",
    re.IGNORECASE,
)
_POLICY_C4 = (
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "use of cookies",
    "use cookies",
)
_POLICY_ZH = re.compile(
    r"隐私政策|隐私条款|隐私声明|隐私保护指引|使用条款|服务条款|用户协议|服务协议"
    r"|(?:使用|接受|同意)\s*cookies?|cookies?\s*(?:政策|设置|声明)",
    re.IGNORECASE,
)


def javascript(line: str, cfg: BoilerplateConfig) -> bool:
    if cfg.c4_exact:
        return "javascript" in line.lower()
    return _keyword_line(line, cfg) and "javascript" in line.lower() and _JS_NOTICE.search(line) is not None


def policy(line: str, cfg: BoilerplateConfig) -> bool:
    if not (cfg.c4_exact or _keyword_line(line, cfg)):
        return False
    lower = line.lower()
    return any(p in lower for p in _POLICY_C4) or _POLICY_ZH.search(line) is not None


def lorem_ipsum(line: str, cfg: BoilerplateConfig) -> bool:
    return "lorem ipsum" in line.lower()


def terminal_punctuation(line: str, cfg: BoilerplateConfig) -> bool:
    """C4: a line must end like a sentence, and not with a truncating ellipsis."""
    if line.endswith("……"):  # Chinese ellipsis ends sentences
        return False
    return not line.endswith((".", "!", "?", '"', "。", "！", "？", "”", "」", "』")) or line.endswith(
        ("...", "…")
    )


# --- Chinese sites ------------------------------------------------------------------------

_ICP = re.compile(
    # numbers only: a tutorial heading "如何办理ICP备案" is content
    r"ICP\s*[备證证]\s*[:：]?\s*\d{5,}|ICP\s*备案号\s*[:：]|公网安备\s*\d{6,}|经营许可证(?:编号)?\s*[:：]?\s*\S?[A-Z]\d",
    re.IGNORECASE,
)
_COPYRIGHT = re.compile(
    r"版权所有(?![者人权])|版權所有|版权归[^。，,]{0,20}所有|保留所有权利|all rights reserved"
    # "Copyright © 2024", "版權 © 2006", "Авторские права ©": a short label, then © and a year
    # (a bibliography entry "[TUT01] 教程. 版权 © 2002 …" has a sentence before it: kept)
    r"|^[^.。:：\[\]]{0,20}(?:©|\(c\)|copyright)\s*\d{4}|^©.{0,40}(?:\binc\b|\bltd\b|公司)"
    r"|转载请(?:注明|保留)|(?:本站|本网|本文)[^。\n]{0,30}(?:禁止|谢绝|未经[^。\n]{0,10})转载",
    re.IGNORECASE,
)
_DISCLAIMER_HEAD = re.compile(r"^[【\[]?(?:免责声明|免責聲明|disclaimer)[】\]]?\s*[:：]", re.IGNORECASE)
_DISCLAIMER = re.compile(
    r"[如若]有侵权|侵权请?联系|(?:转载|来源|来自)(?:自|于)?(?:网络|互联网)"
    r"|不代表本(?:站|网)(?:的)?(?:观点|立场)|仅供(?:学习|参考|交流)[^。\n]{0,20}(?:版权|删除)"
)


def icp(line: str, cfg: BoilerplateConfig) -> bool:
    return _keyword_line(line, cfg) and _ICP.search(line) is not None


def copyright(line: str, cfg: BoilerplateConfig) -> bool:
    return _keyword_line(line, cfg) and _COPYRIGHT.search(line) is not None


def disclaimer(line: str, cfg: BoilerplateConfig) -> bool:
    """A '免责声明：' paragraph at any length; other disclaimer phrases in short lines."""
    if _DISCLAIMER_HEAD.search(line):
        return True
    return _keyword_line(line, cfg) and _DISCLAIMER.search(line) is not None


_ITEM_SEP = re.compile(r"\s*[|｜•·»›→>]\s*|\s+/\s+")
# Traditional spellings too: t2s is optional and runs before this step only when enabled
_LOGIN_VERB = "(?:登录|登陆|登錄|登陸|登入)"
_REGISTER_VERB = "(?:注册|註冊)"
_LOGIN = re.compile(
    rf"(?:请|請|需要|需)先?{_LOGIN_VERB}|{_LOGIN_VERB}(?:后|後)(?:才能|才可以|可以|即可|方可)?"
    rf"(?:查看|评论|評論|回复|回覆|回帖|发表|發表|下载|下載|阅读|閱讀|参与|使用|继续|繼續|发言|收藏)|立即(?:{_LOGIN_VERB}|{_REGISTER_VERB})|免费{_REGISTER_VERB}"
    rf"|没有(?:账号|帐号)|忘记密码|{_LOGIN_VERB}\s*[|｜/]\s*{_REGISTER_VERB}|{_REGISTER_VERB}\s*[|｜/]\s*{_LOGIN_VERB}|(?:未|没有){_LOGIN_VERB}"
    rf"|(?:sign|log)\s*in\s+to\s+(?:comment|reply|continue|view|post|download)"
    rf"|(?:log\s*in|sign\s*in)\s*(?:/|\||or)\s*(?:register|sign\s*up)|forgot\s+(?:your\s+)?password"
    rf"|don'?t have an account",
    re.IGNORECASE,
)
# Simplified, then Traditional spellings (Taiwan, Hong Kong): t2s is optional.
_LOGIN_WORDS = {
    "登录", "登陆", "注册", "立即注册", "退出", "注销",
    "登入", "登出", "登錄", "登陸", "立即註冊", "註冊", "註銷",
    "login", "log in", "sign in", "sign up", "register", "logout",
}  # fmt: skip
_SHARE = re.compile(
    r"^(?:分享|share(?:\s+this)?(?:\s+(?:on|to|via))?)\s*[:：]|分享到|分享至|分享给(?:好友|朋友)|一键分享",
    re.IGNORECASE,
)
_SOCIAL = re.compile(
    r"微博|微信|QQ空间|QQ好友|朋友圈|豆瓣|人人网|贴吧|知乎|facebook|twitter|linkedin|weibo|wechat|reddit|whatsapp|telegram|复制链接",
    re.IGNORECASE,
)
_NAV_LINE = re.compile(
    r"^(?:上一篇|下一篇|上一页|下一页|上一頁|下一頁|上一章|下一章|上一条|下一条|上一條|下一條|上一节|下一节|上一節|下一節"
    r"|previous(?:\s+(?:post|article|page|chapter|topic))?|next(?:\s+(?:post|article|page|chapter|topic))?)\s*[:：]"
    r"|^(?:当前位置|當前位置|您的位置|你的位置|您现在的位置(?:是)?|您現在的位置(?:是)?|所在位置)\s*[:：]",
    re.IGNORECASE,
)
_NAV_WORDS = {
    "上一篇", "下一篇", "上一页", "下一页", "上一章", "下一章", "返回顶部", "回到顶部", "返回首页", "返回列表",
    "返回上一页", "返回", "首页", "尾页", "末页", "目录", "更多", "查看更多", "阅读全文", "展开全文", "收起",
    "上一頁", "下一頁", "回到頂部", "返回頂部", "返回首頁", "返回上一頁", "首頁", "尾頁", "末頁", "目錄",
    "檢視更多", "閱讀全文", "閲讀全文", "展開全文",
    "back to top", "top", "previous", "next", "previous topic", "next topic", "previous page", "next page",
    "read more", "more",
}  # fmt: skip
_MENU_WORDS = _NAV_WORDS | _LOGIN_WORDS | {
    "主页", "网站首页", "新闻", "资讯", "帮助", "帮助中心", "关于", "关于我们", "联系", "联系我们", "网站地图",
    "下载", "产品", "服务", "论坛", "社区", "博客", "文档", "招聘", "加入我们", "客服", "意见反馈", "反馈",
    "投稿", "正文",
    "主頁", "網站首頁", "新聞", "資訊", "幫助", "幫助中心", "關於", "關於我們", "聯繫", "聯繫我們", "聯絡",
    "聯絡我們", "網站地圖", "下載", "產品", "服務", "論壇", "社區", "社群", "部落格", "文檔", "加入我們",
    "意見反饋", "反饋",
    "home", "about", "about us", "contact", "contact us", "help", "blog", "news", "sitemap",
    "privacy", "terms", "faq", "docs", "documentation", "download", "downloads", "community", "forum",
    "support", "products", "services", "search", "careers",
}  # fmt: skip


def _items(line: str) -> list[str]:
    return [x.lower() for x in _ITEM_SEP.split(line) if x]


def login(line: str, cfg: BoilerplateConfig) -> bool:
    if not _widget_line(line, cfg):
        return False
    if _LOGIN.search(line):
        return True
    items = _items(line)
    words = items if len(items) > 1 else line.lower().split()
    return all(w in _LOGIN_WORDS for w in words)


def share(line: str, cfg: BoilerplateConfig) -> bool:
    if not _widget_line(line, cfg):
        return False
    return _SHARE.search(line) is not None or len(_SOCIAL.findall(line)) >= 3


def navigation(line: str, cfg: BoilerplateConfig) -> bool:
    """上一篇：… / 当前位置：… lines, and lines made only of nav words (上一篇 下一篇 返回顶部)."""
    if not _widget_line(line, cfg):
        return False
    if _NAV_LINE.search(line) or line.lower() in _NAV_WORDS:
        return True
    items = _items(line)
    return all(w in _NAV_WORDS for w in (items if len(items) > 1 else line.lower().split()))


def nav_bar(line: str, cfg: BoilerplateConfig) -> bool:
    """A menu: 3+ short items with at least one menu word ('首页 | 新闻 | 帮助 | 登录').

    Items split on explicit separators need one menu word; items split only on spaces
    need half of them to be menu words (so "Install the package" is not a menu).
    """
    if not _widget_line(line, cfg) or line.startswith("|"):
        return False
    items = _items(line)
    separated = len(items) > 1
    if not separated:
        items = line.lower().split()
    if len(items) < 3 or any(len(x) > 12 for x in items):
        return False
    menu = sum(x in _MENU_WORDS for x in items)
    return menu >= 1 if separated else 2 * menu >= len(items)


# Order = credit: the first matching rule is counted.  terminal_punctuation is the catch-all.
RULES: dict[str, Rule] = {
    "icp": icp,
    "disclaimer": disclaimer,
    "copyright": copyright,
    "policy": policy,
    "javascript": javascript,
    "login": login,
    "share": share,
    "navigation": navigation,
    "nav_bar": nav_bar,
    "lorem_ipsum": lorem_ipsum,
    "terminal_punctuation": terminal_punctuation,
}


def enabled_rules(cfg: BoilerplateConfig) -> list[str]:
    return [name for name in RULES if getattr(cfg, name)]


def matching_rule(line: str, cfg: BoilerplateConfig, rules: list[str]) -> str | None:
    """Name of the first rule in `rules` that removes `line` (already stripped), else None."""
    for name in rules:
        if RULES[name](line, cfg):
            return name
    return None


_BLANK_LINES = re.compile(r"\n{3,}")
MAX_VERDICTS = 100_000  # remembered lines per batch: ~10-20 MB of strings at most


def strip_boilerplate(
    text: str, cfg: BoilerplateConfig, verdicts: dict[str, str | None] | None = None
) -> tuple[str, dict[str, int]]:
    """(text without boilerplate lines, removed lines per enabled rule).

    `verdicts` remembers each distinct line's rule across the documents of a batch: menus,
    footers, code and table lines repeat from page to page of a site (a third to a half of
    the dev crawl's lines), and a line's verdict depends on nothing else.  It is emptied
    when it holds MAX_VERDICTS lines, so a big partition's memory stays bounded.
    """
    rules = enabled_rules(cfg)
    counts = dict.fromkeys(rules, 0)
    verdicts = {} if verdicts is None else verdicts
    kept = []
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped:
            if stripped in verdicts:
                rule = verdicts[stripped]
            else:
                if len(verdicts) >= MAX_VERDICTS:
                    verdicts.clear()
                rule = verdicts[stripped] = matching_rule(stripped, cfg, rules)
            if rule is not None:
                counts[rule] += 1
                continue
        kept.append(line)
    return _BLANK_LINES.sub("\n\n", "\n".join(kept)).strip(), counts


def remove_boilerplate(batch: pa.Table, cfg: BoilerplateConfig) -> StepResult:
    """Drop boilerplate lines; add `boilerplate_<rule>` counts; filter documents left empty."""
    if not cfg.enabled:
        return StepResult.keep_all(batch)
    rules = enabled_rules(cfg)
    texts = batch.column("text").to_pylist()
    counts = {rule: [0] * len(texts) for rule in rules}
    drops: dict[int, tuple[str, str]] = {}
    verdicts: dict[str, str | None] = {}
    for i, text in enumerate(texts):
        try:
            texts[i], doc_counts = strip_boilerplate(text or "", cfg, verdicts)
        except Exception as exc:  # a bad record must not take the partition down
            drops[i] = ("quarantined", f"boilerplate_error:{type(exc).__name__}")
            continue
        for rule, n in doc_counts.items():
            counts[rule][i] = n
        if not texts[i]:
            drops[i] = ("filtered", "empty_after_boilerplate")
    names = [COLUMN_PREFIX + rule for rule in rules]
    out = batch.drop_columns([c for c in names if c in batch.column_names])
    out = out.set_column(out.schema.get_field_index("text"), "text", pa.array(texts, pa.string()))
    for rule, name in zip(rules, names, strict=True):
        out = out.append_column(name, pa.array(counts[rule], pa.int32()))
    return split(out, drops, STAGE)
