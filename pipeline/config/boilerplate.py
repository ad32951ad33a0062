"""Boilerplate line removal settings: one switch per rule, plus the length guards.

C4's rules (Raffel et al. 2020, §2.2) were written for English web pages; the Chinese ones
cover what trafilatura leaves behind on Chinese sites (ICP 备案 footers, share bars, 上一篇/
下一篇).  Rules that judge a line by a keyword only look at short lines, so a paragraph that
merely mentions 版权 or cookies is never removed.
"""

from __future__ import annotations

from pydantic import Field

from pipeline.config.base import Strict


class BoilerplateConfig(Strict):
    enabled: bool = True
    # C4
    javascript: bool = Field(
        default=True,
        description="'please enable JavaScript' / '请启用JavaScript' notices (C4 drops every line "
        "mentioning javascript, which deletes JavaScript documentation; see c4_exact)",
    )
    policy: bool = Field(
        default=True,
        description="C4: terms of use, privacy policy, cookie notices; also 隐私政策, 用户协议, 使用Cookie",
    )
    lorem_ipsum: bool = Field(
        default=False,
        description="drop 'lorem ipsum' lines; off because C4 drops the whole page for it "
        "(filters.c4.lorem_ipsum), which cannot see a placeholder page once its lines are gone",
    )
    terminal_punctuation: bool = Field(
        default=False,
        description='C4: keep only lines ending in . ! ? " (or 。！？”」……); off because it '
        "deletes headings, list items, code and most Chinese forum text",
    )
    c4_exact: bool = Field(
        default=False,
        description="javascript and policy rules as C4 wrote them: any line containing the words, any length",
    )
    # Chinese sites
    icp: bool = Field(default=True, description="京ICP备12345678号, 京公网安备…号, 增值电信业务经营许可证")
    copyright: bool = Field(
        default=True, description="版权所有, Copyright © 2024, All rights reserved, 转载请注明出处"
    )
    disclaimer: bool = Field(default=True, description="免责声明：…, 本文转载自网络, 如有侵权请联系删除")
    login: bool = Field(default=True, description="登录 | 注册, 请登录后评论, 忘记密码, sign in to comment")
    share: bool = Field(default=True, description="分享到：微博 微信 QQ空间, Share on Facebook")
    navigation: bool = Field(
        default=True, description="上一篇：…, 下一篇, 返回顶部, 当前位置：…, Back to top"
    )
    nav_bar: bool = Field(
        default=True,
        description="menu lines such as '首页 | 新闻 | 帮助 | 登录' or 'Home | Docs | Download'",
    )
    # guards
    max_line_chars: int = Field(
        default=200,
        ge=1,
        description="keyword rules (policy, copyright, …) ignore longer lines: those are prose",
    )
    max_widget_chars: int = Field(
        default=60,
        ge=1,
        description="login/share/navigation/nav_bar only judge lines this short that do not end a sentence",
    )
