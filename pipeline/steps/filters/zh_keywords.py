"""A small shipped list of Chinese spam/ad keywords (gambling, fake invoices, porn, scams, SEO).

Written for this project.  The categories are the spam ones of ChineseWebText's sensitive-word
dictionary (`dict.txt`: 赌博, 色情, and 社会 entries such as 代开发票, 办证); its political
entries are left out on purpose: this is a quality filter, not a censor.  Traditional forms are
added at load time with OpenCC, so zh-Hant pages are judged alike.  The list is short and
specific; words that also occur in ordinary prose (彩票 in news) matter only at a density of
more than one hit every two lines.
"""

from __future__ import annotations

SPAM_KEYWORDS: tuple[str, ...] = (
    # gambling
    "澳门赌场", "网上赌场", "在线赌场", "博彩", "百家乐", "六合彩", "时时彩", "彩票", "棋牌",
    "老虎机", "真人娱乐", "娱乐城", "体育投注", "赌球", "开户送", "首存", "返水",
    # invoices, certificates
    "代开发票", "发票代开", "代开增值税", "办证", "代办证件", "刻章",
    # porn
    "色情", "成人电影", "激情视频", "裸聊", "一夜情", "约炮", "黄色网站", "av女优",
    # scams, easy money
    "网赚", "日赚", "兼职刷单", "刷单", "套现", "无抵押贷款", "高额返利", "私服", "外挂",
    # contact bait and SEO
    "加微信", "加qq", "微信号", "联系qq", "扫码加", "免费领取", "点击进入", "注册送",
    "快速排名", "蜘蛛池", "代发外链",
)  # fmt: skip
