"""Real-looking thread pages of common forum software, and an article with a comment list.

Each builder returns (html, post bodies). The markup follows what the software renders
(Discuz! X3, phpBB 3, vBulletin 4, XenForo 2, Baidu Tieba, a table-per-post BBS), with the
navigation, user panels, signatures and footers around the posts that extraction must drop.
"""

from __future__ import annotations

from html import escape

ZH_POSTS = [
    "家里的路由器用了三年，最近一个月老是掉线，一般是晚上八九点的时候，手机和电脑同时连不上，"
    "重启路由器以后又能用半个小时左右。宽带师傅上门测过光猫，说信号正常。\n"
    "我已经试过换信道、关掉双频合一，也升级了固件，都没有用。请问各位还有什么办法可以排查？"
    "是不是路由器老化了，需要直接换一个新的？",
    "晚上八九点正是邻居都在用网的时候，2.4G 信道很挤。建议下载一个无线信号分析的软件看看周围有多少个网络，"
    "再把 5G 频段单独设置一个名字，让电脑优先连 5G。",
    "三年的路由器散热不好也会这样，你摸一下外壳是不是很烫。可以先放在通风的地方观察两天，"
    "如果掉线的时间变少了，那基本就是散热问题，换个新的吧。",
    "同意楼上，我家以前那台也是夏天一热就断，换了以后再也没出过问题。",
    "谢谢大家！我把路由器从电视柜里拿出来放到书架上，又把 5G 单独分出来，这两天一次都没掉过。"
    "先观察一周，有结果再来汇报。",
]

EN_POSTS = [
    "After updating the BIOS to version 1.14 last week, the fan on my laptop runs at full speed all the "
    "time, even when the machine is idle and the CPU sits below ten percent. Temperatures look normal in "
    "every monitoring tool I tried.\nI already reset the BIOS to defaults and reinstalled the chipset "
    "drivers. Has anyone else seen this, and is there a way to roll back?",
    "The 1.14 release changed the default fan curve. In the BIOS, look under Advanced, then Thermal, and "
    "switch the profile from Performance back to Balanced. That fixed it on my unit.",
    "Rolling back is possible with the vendor's recovery tool, but only to 1.12; the 1.13 image was pulled "
    "because it bricked a few machines.",
    "Same problem here. Balanced profile helped a bit, but the fan still ramps up every few minutes.",
    "Switching to Balanced did the trick for me as well. Thanks everyone, marking this as solved.",
]

ZH_NAMES = ["小白兔", "网络老司机", "夜猫子", "路过的风", "小白兔"]
EN_NAMES = ["quietfan", "thermalpaste", "biosfixer", "nightowl", "quietfan"]


def _br(text: str) -> str:
    return escape(text).replace("\n", "<br />\n")


def _p(text: str) -> str:
    return "".join(f"<p>{escape(line)}</p>" for line in text.split("\n"))


def discuz(posts: list[str] = ZH_POSTS) -> tuple[str, list[str]]:
    title = "求助：家里的路由器老是掉线怎么办？"
    floors = ["楼主", "沙发", "板凳", "地板", "5#"]
    items = []
    for i, (text, name) in enumerate(zip(posts, ZH_NAMES, strict=False)):
        pid = 101 + i
        items.append(
            f'<div id="post_{pid}"><table id="pid{pid}" class="plhin" summary="pid{pid}" cellspacing="0" '
            'cellpadding="0"><tr><td class="pls" rowspan="2"><div class="pi"><div class="authi">'
            f'<a href="space-uid-{80 + i}.html" class="xw1">{name}</a></div></div><div class="avatar">'
            f'<a href="space-uid-{80 + i}.html"><img src="uc_server/avatar.php?uid={80 + i}&size=middle" />'
            '</a></div><div class="tns xg2"><table cellspacing="0" cellpadding="0"><tr><th><p>'
            f'<a href="home.php?mod=space&uid={80 + i}&do=thread" class="xi2">{3 + i}</a></p>主题</th><th>'
            f'<p><a href="#" class="xi2">{45 + 7 * i}</a></p>帖子</th><td><p><a href="#" class="xi2">'
            f'{130 + 11 * i}</a></p>积分</td></tr></table></div><p><em><a href="#">注册会员</a></em></p></td>'
            f'<td class="plc"><div class="pi"><strong><a href="#" id="postnum{pid}">{floors[i]}</a></strong>'
            f'<div class="pti"><div class="authi"><em id="authorposton{pid}">发表于 2021-3-{14 + i} 20:1{i}:32'
            '</em><span class="pipe">|</span><a href="#">只看该作者</a></div></div></div><div class="pct">'
            '<div class="pcb"><div class="t_fsz"><table cellspacing="0" cellpadding="0"><tr>'
            f'<td class="t_f" id="postmessage_{pid}">\n{_br(text)}</td></tr></table></div></div></div></td>'
            '</tr><tr><td class="plc plm"><div class="sign">生活不止眼前的苟且</div></td></tr><tr>'
            '<td class="pls"></td><td class="plc"><div class="po hin"><div class="pob cl"><em>'
            '<a class="fastre" href="#">回复</a></em><p><a href="#">举报</a></p></div></div></td></tr>'
            "</table></div>"
        )
    page = f"""<!DOCTYPE html><html><head><meta charset="utf-8" /><title>{title} - 网络技术 - 蓝天论坛 -
Powered by Discuz!</title><meta name="keywords" content="路由器,掉线" /></head>
<body id="nv_forum" class="pg_viewthread">
<div id="toptb" class="cl"><div class="wp"><div class="z"><a href="#">设为首页</a><a href="#">收藏本站</a></div>
<div class="y"><a href="member.php?mod=register">立即注册</a> <a href="member.php?mod=logging">登录</a></div></div></div>
<div id="hd"><div class="wp"><div class="hdc cl"><h2><a href="./"><img src="logo.png" alt="蓝天论坛" /></a></h2>
</div><div id="nv"><ul><li class="a" id="mn_forum"><a href="forum.php">论坛</a></li><li><a href="home.php">家园</a>
</li><li><a href="misc.php?mod=ranklist">排行榜</a></li><li><a href="group.php">群组</a></li></ul></div></div></div>
<div id="wp" class="wp"><div id="pt" class="bm cl"><div class="z"><a href="./" class="nvhm">蓝天论坛</a>
<em>›</em> <a href="forum.php">论坛</a> <em>›</em> <a href="forum-12-1.html">网络技术</a> <em>›</em>
<a href="thread-3456-1-1.html">{title}</a></div></div>
<div id="ct" class="wp cl"><div id="pgt" class="pgs mbm cl"><div class="pgt"><div class="pg"><strong>1</strong>
<a href="thread-3456-2-1.html">2</a><a href="thread-3456-2-1.html" class="nxt">下一页</a></div></div>
<a id="newspecial" href="#">发帖</a><a id="post_reply" href="#">回复</a></div>
<div id="postlist" class="pl bm"><table cellspacing="0" cellpadding="0"><tr><td class="pls ptn pbn">
<div class="hm ptn"><span class="xg1">查看:</span> <span class="xi1">2381</span><span class="pipe">|</span>
<span class="xg1">回复:</span> <span class="xi1">{len(posts) - 1}</span></div></td><td class="plc ptm pbn vwthd">
<h1 class="ts"><a href="#">[求助]</a> <span id="thread_subject">{title}</span></h1></td></tr></table>
{"".join(items)}</div>
<div id="f_pst" class="pl bm bmw"><form method="post" id="fastpostform" action="#"><table><tr><td class="pls"></td>
<td class="plc"><span id="fastpostreturn"></span><div class="pt hm">您需要登录后才可以回帖 <a href="#">登录</a> |
<a href="#">立即注册</a></div></td></tr></table></form></div></div></div>
<div id="ft" class="wp cl"><div id="flk" class="y"><p><a href="#">Archiver</a><span class="pipe">|</span>
<a href="#">手机版</a><span class="pipe">|</span><a href="#">小黑屋</a></p></div><div id="frt"><p>Powered by
<strong><a href="http://www.discuz.net">Discuz!</a></strong> <em>X3.4</em></p><p class="xs0">&copy; 2001-2021
<a href="#">Comsenz Inc.</a></p></div></div></body></html>"""
    return page, list(posts)


def phpbb(posts: list[str] = EN_POSTS) -> tuple[str, list[str]]:
    title = "Laptop fan running constantly after BIOS update"
    items = []
    for i, (text, name) in enumerate(zip(posts, EN_NAMES, strict=False)):
        pid = 456 + i
        subject = title if i == 0 else f"Re: {title}"
        items.append(
            f'<div id="p{pid}" class="post has-profile bg{2 - i % 2}"><div class="inner">'
            f'<dl class="postprofile" id="profile{pid}"><dt class="has-profile-rank no-avatar">'
            f'<a href="./memberlist.php?mode=viewprofile&amp;u={70 + i}" class="username">{name}</a></dt>'
            '<dd class="profile-rank">Registered User</dd><dd class="profile-posts"><strong>Posts:</strong> '
            f'<a href="#">{38 + 9 * i}</a></dd><dd class="profile-joined"><strong>Joined:</strong> '
            f"Sat Jan 0{i + 1}, 2019 3:12 pm</dd></dl>"
            f'<div class="postbody"><div id="post_content{pid}"><h3 class="first"><a href="#p{pid}">{subject}'
            '</a></h3><ul class="post-buttons"><li><a href="#" title="Reply with quote" class="button">'
            '<span>Quote</span></a></li></ul><p class="author"><span class="responsive-hide">by <strong>'
            f'<a href="#" class="username">{name}</a></strong> &raquo; </span><time datetime="2021-04-0{i + 2}">'
            f'Fri Apr 0{i + 2}, 2021 6:22 pm</time></p><div class="content">{_br(text)}</div>'
            f'<div id="sig{pid}" class="signature">Running Arch on everything since 2014.</div></div></div>'
            '<div class="back2top"><a href="#top" class="top" title="Top">Top</a></div></div></div>'
            '<hr class="divider" />'
        )
    page = f"""<!DOCTYPE html><html dir="ltr" lang="en-gb"><head><meta charset="utf-8" />
<title>{title} - Hardware Help Forum</title></head><body id="phpbb" class="nojs notouch section-viewtopic ltr">
<div id="wrap" class="wrap"><div id="page-header"><div class="headerbar" role="banner"><div class="inner">
<div id="site-description" class="site-description"><a id="logo" class="logo" href="./index.php">
<span class="site_logo"></span></a><h1>Hardware Help Forum</h1><p>Questions and answers about PC hardware</p>
</div><div id="search-box" class="search-box search-header" role="search"><form action="./search.php"
method="get" id="search"><fieldset><input name="keywords" id="keywords" type="search" title="Search for keywords"
placeholder="Search…" /><button class="button button-search" type="submit">Search</button></fieldset></form>
</div></div></div><div class="navbar" role="navigation"><ul id="nav-main" class="nav-main linklist">
<li><a href="/app.php/help/faq">FAQ</a></li><li><a href="./ucp.php?mode=register">Register</a></li>
<li><a href="./ucp.php?mode=login">Login</a></li></ul><ul id="nav-breadcrumbs" class="nav-breadcrumbs linklist">
<li class="breadcrumbs"><span class="crumb"><a href="./index.php">Board index</a></span><span class="crumb">
<a href="./viewforum.php?f=4">Laptops</a></span></li></ul></div></div>
<div id="page-body" class="page-body" role="main"><h2 class="topic-title"><a href="./viewtopic.php?t=123">{title}</a>
</h2><div class="action-bar bar-top"><a href="./posting.php?mode=reply&amp;t=123" class="button">Post Reply</a>
<div class="pagination">{len(posts)} posts &bull; Page <strong>1</strong> of <strong>1</strong></div></div>
{"".join(items)}
<div class="action-bar bar-bottom"><a href="#" class="button">Post Reply</a></div>
<div class="stat-block online-list"><h3>Who is online</h3><p>Users browsing this forum: No registered users and
2 guests</p></div></div>
<div id="page-footer" class="page-footer" role="contentinfo"><div class="navbar" role="navigation"><ul
class="linklist"><li><a href="./index.php">Board index</a></li><li><a href="./memberlist.php?mode=team">The team
</a></li><li>All times are UTC</li></ul></div><div class="copyright">Powered by <a href="https://www.phpbb.com/">
phpBB</a>&reg; Forum Software &copy; phpBB Limited</div></div></div></body></html>"""
    return page, list(posts)


def vbulletin(posts: list[str] = EN_POSTS) -> tuple[str, list[str]]:
    title = "Laptop fan running constantly after BIOS update"
    items = []
    for i, (text, name) in enumerate(zip(posts, EN_NAMES, strict=False)):
        pid = 1001 + i
        items.append(
            f'<li class="postbitlegacy postbitim postcontainer old" id="post_{pid}"><div class="posthead">'
            f'<span class="postdate old"><span class="date">03-{15 + i}-2018,&nbsp;<span class="time">09:41 AM'
            f'</span></span></span><span class="nodecontrols"><a name="post{pid}" href="#" class="postcounter">'
            f'#{i + 1}</a></span></div><div class="postdetails"><div class="userinfo"><div '
            f'class="username_container"><a class="username offline popupctrl" href="member.php?u={12 + i}">'
            f'<strong>{name}</strong></a></div><span class="usertitle">Senior Member</span><hr />'
            f'<dl class="userinfo_extra"><dt>Join Date</dt> <dd>Aug 2011</dd><dt>Posts</dt> <dd>{1204 + i}</dd>'
            '</dl></div><div class="postbody"><div class="postrow"><h2 class="title icon">'
            f'{"" if i else title}</h2><div class="content"><div id="post_message_{pid}"><blockquote '
            f'class="postcontent restore ">{_br(text)}</blockquote></div></div></div><div class="after_content">'
            '<blockquote class="signature restore"><div class="signaturecontainer">Sent from my desk</div>'
            '</blockquote></div><div class="cleardiv"></div></div></div><div class="postfoot"><div '
            'class="textcontrols floatcontainer"><span class="postcontrols"><a class="quote" href="#">Reply '
            "With Quote</a></span></div></div><hr /></li>"
        )
    page = f"""<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />
<title>{title} - Notebook Talk</title></head><body>
<div class="above_body"><div id="header" class="floatcontainer doc_header"><div><a name="top" href="forum.php"
class="logo-image"><img src="images/misc/logo.png" alt="Notebook Talk" /></a></div><div id="toplinks"
class="toplinks"><ul class="nouser"><li><a href="register.php" rel="nofollow">Register</a></li><li><a
href="faq.php">Help</a></li></ul></div></div><div id="navbar" class="navbar"><ul id="navtabs" class="navtabs
floatcontainer"><li class="selected"><a class="navtab" href="forum.php">Forum</a></li><li><a class="navtab"
href="search.php?do=getdaily">New Posts</a></li><li><a class="navtab" href="calendar.php">Calendar</a></li></ul>
</div></div><div class="body_wrapper"><div id="breadcrumb" class="breadcrumb"><ul class="floatcontainer"><li
class="navbithome"><a href="index.php">Home</a></li><li class="navbit"><a href="forum.php">Forum</a></li><li
class="navbit"><a href="forumdisplay.php?4-Laptops">Laptops</a></li></ul></div>
<div id="pagetitle"><h1>Thread: <span class="threadtitle"><a href="showthread.php?88">{title}</a></span></h1></div>
<div id="thread_controls" class="thread_controls"><div class="pagination_top">Results 1 to {len(posts)} of
{len(posts)}</div></div>
<div id="postlist" class="postlist restrain"><ol id="posts" class="posts" start="1">{"".join(items)}</ol></div>
<div id="similar_threads"><h4 class="threadinfohead blockhead">Similar Threads</h4><ol class="similar_threads">
<li class="floatcontainer"><a href="showthread.php?71">Fan noise after driver update</a> By oldtimer in forum
Laptops</li><li class="floatcontainer"><a href="showthread.php?65">BIOS rollback tool</a> By biosfixer in forum
Laptops</li></ol></div></div>
<div id="footer" class="floatcontainer footer"><ul id="footer_links" class="footer_links"><li><a
href="sendmessage.php">Contact Us</a></li><li><a href="#top">Top</a></li></ul></div><div id="footer_copyright"
class="shade footer_copyright">Powered by vBulletin&reg; Version 4.2.5<br />Copyright &copy; 2024 vBulletin
Solutions Inc. All rights reserved.</div></body></html>"""
    return page, list(posts)


def xenforo(posts: list[str] = EN_POSTS) -> tuple[str, list[str]]:
    title = "Laptop fan running constantly after BIOS update"
    items = []
    for i, (text, name) in enumerate(zip(posts, EN_NAMES, strict=False)):
        pid = 2001 + i
        items.append(
            f'<article class="message message--post js-post js-inlineModContainer" data-author="{name}" '
            f'data-content="post-{pid}" id="js-post-{pid}"><span class="u-anchorTarget" id="post-{pid}"></span>'
            '<div class="message-inner"><div class="message-cell message-cell--user"><section '
            f'class="message-user"><div class="message-avatar"><a href="/members/{name}.{55 + i}/" '
            f'class="avatar avatar--m"><img src="/data/avatars/m/0/{55 + i}.jpg" alt="{name}" /></a></div>'
            f'<div class="message-userDetails"><h4 class="message-name"><a href="/members/{name}.{55 + i}/" '
            f'class="username">{name}</a></h4><h5 class="userTitle message-userTitle">Well-known member</h5>'
            '</div><div class="message-userExtras"><dl class="pairs pairs--justified"><dt>Joined</dt><dd>Feb 3, '
            f'2017</dd></dl><dl class="pairs pairs--justified"><dt>Messages</dt><dd>{2318 + i}</dd></dl></div>'
            '</section></div><div class="message-cell message-cell--main"><div class="message-main '
            'js-quickEditTarget"><header class="message-attribution message-attribution--split"><ul '
            f'class="message-attribution-main listInline"><li class="u-concealed"><a href="#post-{pid}">'
            f'<time class="u-dt" datetime="2022-06-1{i}T14:03:26+0100">Jun 1{i}, 2022</time></a></li></ul><ul '
            f'class="message-attribution-opposite listInline"><li><a href="#post-{pid}">#{i + 1}</a></li></ul>'
            '</header><div class="message-content js-messageContent"><div class="message-userContent '
            'lbContainer js-lbContainer"><article class="message-body js-selectToQuote"><div class="bbWrapper">'
            f'{_br(text)}</div><div class="js-selectToQuoteEnd">&nbsp;</div></article></div></div><footer '
            'class="message-footer"><div class="message-actionBar actionBar"><a href="#" class="actionBar-action '
            'actionBar-action--reply">Reply</a><a href="#" class="actionBar-action actionBar-action--report">'
            "Report</a></div></footer></div></div></div></article>"
        )
    page = f"""<!DOCTYPE html><html id="XF" lang="en-US" dir="LTR" data-app="public"><head><meta charset="utf-8" />
<title>{title} | Tech Support Guild</title></head><body data-template="thread_view">
<div class="p-pageWrapper" id="top"><header class="p-header" id="header"><div class="p-header-inner"><div
class="p-header-content"><div class="p-header-logo p-header-logo--image"><a href="/"><img src="/logo.png"
alt="Tech Support Guild" /></a></div></div></div></header><div class="p-navSticky p-navSticky--primary"><nav
class="p-nav"><div class="p-nav-inner"><ul class="p-nav-list"><li><a href="/" class="p-navEl-link">Home</a></li>
<li><a href="/forums/" class="p-navEl-link">Forums</a></li><li><a href="/whats-new/" class="p-navEl-link">What's
new</a></li><li><a href="/members/" class="p-navEl-link">Members</a></li></ul></div></nav></div>
<div class="p-body"><div class="p-body-inner"><ul class="p-breadcrumbs"><li><a href="/forums/">Forums</a></li>
<li><a href="/forums/laptops.4/">Laptops</a></li></ul><div class="p-body-header"><div class="p-title"><h1
class="p-title-value">{title}</h1></div><div class="p-description"><ul class="listInline listInline--bullet">
<li>Thread starter <a href="#" class="username u-concealed">quietfan</a></li><li>Start date Jun 10, 2022</li>
</ul></div></div><div class="p-body-main"><div class="p-body-content"><div class="p-body-pageContent"><div
class="block block--messages"><div class="block-container lbContainer"><div class="block-body
js-replyNewMessageContainer">{"".join(items)}</div></div></div><div class="block"><div class="block-container">
<div class="block-body"><div class="block-row">You must log in or register to reply here.</div></div></div></div>
<div class="block"><h3 class="block-minorHeader">Similar threads</h3><ul class="listPlain"><li><a
href="/threads/fan-noise.71/">Fan noise after driver update</a></li><li><a href="/threads/rollback.65/">BIOS
rollback tool</a></li></ul></div></div></div></div></div></div>
<footer class="p-footer" id="footer"><div class="p-footer-inner"><ul class="p-footer-linkList"><li><a
href="/misc/contact">Contact us</a></li><li><a href="/help/terms/">Terms and rules</a></li><li><a
href="/help/privacy-policy/">Privacy policy</a></li></ul><div class="p-footer-copyright">Community platform by
XenForo&reg; &copy; 2010-2022 XenForo Ltd.</div></div></footer></div></body></html>"""
    return page, list(posts)


def tieba(posts: list[str] = ZH_POSTS) -> tuple[str, list[str]]:
    title = "求助：家里的路由器老是掉线怎么办？"
    items = []
    for i, (text, name) in enumerate(zip(posts, ZH_NAMES, strict=False)):
        first = " d_post_content_firstfloor" if i == 0 else ""
        items.append(
            f'<div class="l_post j_l_post l_post_bright{" noborder" if i == 0 else ""} " data-pid="{7001 + i}">'
            '<div class="d_author"><ul class="p_author"><li class="icon"><div class="icon_relative '
            'j_user_card"><a class="p_author_face" href="#"><img src="portrait.jpg" /></a></div></li>'
            f'<li class="d_name"><a class="p_author_name j_user_card" href="#">{name}</a></li>'
            '<li class="l_badge"><div class="d_badge_bright"><div class="d_badge_title">网络</div><div '
            f'class="d_badge_lv">{9 - i}</div></div></li></ul></div><div class="d_post_content_main{first}">'
            f'<div class="p_content"><cc><div id="post_content_{7001 + i}" class="d_post_content '
            f'j_d_post_content clearfix">{_br(text)}</div><br /></cc></div><div class="core_reply '
            'j_lzl_wrapper"><div class="core_reply_tail clearfix"><div class="post-tail-wrap"><span '
            f'class="tail-info">{i + 1}楼</span><span class="tail-info">2016-05-2{i} 22:13</span></div>'
            '<div class="j_lzl_r p_reply"><a href="#" class="lzl_link_unfold">回复</a></div></div></div></div>'
            "<br /></div>"
        )
    page = f"""<!DOCTYPE html><html><head><meta charset="UTF-8" /><title>{title}_路由器吧_百度贴吧</title></head>
<body><div id="com_userbar" class="userbar"><ul><li><a href="#">贴吧首页</a></li><li><a href="#">登录</a></li>
<li><a href="#">注册</a></li></ul></div><div class="wrap1"><div class="wrap2"><div id="container"
class="l_container"><div class="card_top_wrap clearfix card_top_theme"><div class="card_title"><a
class="card_title_fname" href="#">路由器吧</a><span class="card_menNum">关注：128,471</span><span
class="card_infoNum">贴子：2,301,889</span></div></div><div class="content clearfix"><div class="left_section">
<div class="core_title_wrap_bright clearfix"><h3 class="core_title_txt pull-left text-overflow" title="{title}"
>{title}</h3></div><div class="p_postlist" id="j_p_postlist">{"".join(items)}</div>
<div class="pb_footer"><div class="l_thread_info"><ul class="l_posts_num"><li class="l_reply_num">
<span class="red">{len(posts) - 1}</span>回复贴，共<span class="red">1</span>页</li></ul></div></div></div>
<div class="right_section"><div class="region_bright"><h4 class="region_title">贴吧热议榜</h4><ul><li><a href="#"
>新手如何选购路由器</a></li><li><a href="#">千兆宽带要用什么网线</a></li><li><a href="#">光猫桥接教程</a></li>
</ul></div></div></div></div></div></div><div class="footer"><p>&copy;2016 Baidu <a href="#">贴吧协议</a> |
<a href="#">隐私政策</a> | <a href="#">吧主制度</a></p></div></body></html>"""
    return page, list(posts)


def table_bbs(posts: list[str] = ZH_POSTS) -> tuple[str, list[str]]:
    """An early-2000s board: one layout table per post, no classes that say 'post'."""
    title = "求助：家里的路由器老是掉线怎么办？"
    items = []
    for i, (text, name) in enumerate(zip(posts, ZH_NAMES, strict=False)):
        items.append(
            '<table width="100%" border="0" cellspacing="1" cellpadding="2"><tr bgcolor="#F09F1F">'
            '<td width="18%"></td><td class="p4" width="82%"><font color="#FFFBB5">'
            f'{title if i == 0 else "回复：" + title}</font></td></tr><tr><td class="p4" valign="top" '
            f'bgcolor="#eeeeee"><p><a href="user.php?id={500 + i}">{name}</a>&nbsp;&nbsp;<br><br>&nbsp;</td>'
            f'<td class="p4" valign="top" bgcolor="#eeeeee">{_br(text)}<p>------------------------------<p>'
            f'〓 网易科技 网络技术版 发布时间 2005/05/1{i} 13:45:40 by <a href="user.php?id={500 + i}">'
            f'{name}</a> 〓</td></tr><tr bgcolor="#eeeeee"><td></td><td align="right" class="p2">← '
            '<a href="forum.php?code=18"><font color="#FB9306">返回</font></a></td></tr></table>'
        )
    page = f"""<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"><title>{title}
</title></head><body bgcolor="#FFFFFF" topmargin="0"><table width="760" border="0" align="center"><tr><td><a
href="/"><img src="logo.gif" border="0"></a></td><td><a href="/">首页</a> | <a href="/news/">新闻</a> | <a
href="/tech/">科技</a> | <a href="/bbs/">论坛</a> | <a href="/mail/">邮箱</a></td></tr></table>
<table width="760" align="center"><tr><td>网易科技 &gt; 网络技术 &gt; 讨论区</td></tr></table>
{"".join(items)}
<table width="760" align="center"><tr><td align="center">关于我们 | 广告服务 | 联系方式 | 招聘信息 | 网站地图<br>
网易公司版权所有 &copy;1997-2005</td></tr></table></body></html>"""
    return page, list(posts)


def discourse(posts: list[str] = EN_POSTS) -> tuple[str, list[str]]:
    """Discourse's crawler view (what it serves without JavaScript): one <p> per paragraph."""
    title = "Laptop fan running constantly after BIOS update"
    items = []
    for i, (text, name) in enumerate(zip(posts, EN_NAMES, strict=False)):
        ident = "" if i == 0 else f" id='post_{i + 1}'"
        kind = "articleBody" if i == 0 else "comment"
        items.append(
            f"<div{ident} itemprop='{kind}' class='topic-body crawler-post'><div class='crawler-post-meta'>"
            f"<span class='creator' itemprop='author'><a itemprop='url' href='/u/{name}'><span itemprop='name'>"
            f"{name}</span></a></span><span class='crawler-post-infos'><time itemprop='datePublished' "
            f"datetime='2023-01-0{i + 1}T10:11:12Z' class='post-time'>January {i + 1}, 2023, 10:11am</time>"
            f"<span itemprop='position'>{i + 1}</span></span></div><div class='post' itemprop='text'>"
            f"{_p(text)}</div><div itemprop='interactionStatistic' class='post-likes'>{3 + i} Likes</div></div>"
        )
    page = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title} - Hardware - Tinkerers
Forum</title></head><body class="crawler"><header><a href="/"><img src="/logo.png" alt="Tinkerers Forum"
id="site-logo"></a></header><div id="main-outlet" class="wrap" role="main"><div id="topic-title"><h1><a
href="/t/laptop-fan/412">{title}</a></h1><div class="topic-category"><span class="category-title">Hardware</span>
</div></div>{"".join(items)}<div role="navigation" itemscope class="topic-body crawler-post"><span
class="crawler-last-page"><a href="/t/laptop-fan/412?page=1">Page 1</a></span></div><div id="related-topics"
class="more-topics__list" role="complementary"><h3 id="related-topics-title" class="more-topics__list-title">
Related topics</h3><div class="topic-list-container"><table class="topic-list"><tr><td><a href="/t/88">Fan noise
after driver update</a></td><td>3</td></tr><tr><td><a href="/t/91">BIOS rollback tool</a></td><td>7</td></tr>
</table></div></div></div><footer class="container wrap"><nav class="crawler-nav"><ul><li><a href="/">Home</a>
</li><li><a href="/categories">Categories</a></li><li><a href="/guidelines">Guidelines</a></li><li><a
href="/tos">Terms of Service</a></li><li><a href="/privacy">Privacy Policy</a></li></ul></nav></footer>
<footer class="container wrap"><div class="footer"><p>Powered by <a href="https://www.discourse.org">Discourse
</a>, best viewed with JavaScript enabled</p></div></footer></body></html>"""
    return page, list(posts)


BLOG_POST = [
    "上周末去了一趟黄山，从云谷寺坐索道上山，先到始信峰，再沿着北海景区的步道走到光明顶。",
    "山上的天气变化很快，早上还是晴天，中午就起了大雾，能见度不到二十米。好在傍晚雾散了，"
    "在排云亭看到了很漂亮的晚霞。",
    "第二天四点半起床去看日出，人非常多，建议提前半个小时占位置。下山走的是西海大峡谷，台阶很陡，"
    "膝盖不好的朋友最好坐地轨缆车。",
]
BLOG_COMMENTS = [
    "写得很详细，收藏了！请问山上住的是哪家酒店？价格大概多少？我们打算十月份带父母一起去，"
    "不知道老人能不能走得动，有没有比较省力的路线推荐？",
    "西海大峡谷确实值得走一趟，不过下雨天一定要小心，台阶很滑。我上次去的时候就差点摔倒，"
    "后来买了一副登山杖才好一些。另外山上的东西比山下贵很多，最好自己带点水和干粮。",
    "照片拍得真好，是用手机拍的还是相机？晚霞那张太美了。",
]


def blog_with_comments() -> tuple[str, list[str]]:
    """An article followed by a comment list: the article is the main text, the comments are not."""
    comments = "".join(
        f'<li class="comment even thread-even depth-1" id="comment-{31 + i}"><article id="div-comment-{31 + i}" '
        f'class="comment-body"><footer class="comment-meta"><div class="comment-author vcard"><b class="fn">'
        f'{name}</b> <span class="says">说道：</span></div><div class="comment-metadata"><a href="#"><time '
        f'datetime="2023-09-1{i}">2023年9月1{i}日 下午3:2{i}</time></a></div></footer><div '
        f'class="comment-content"><p>{escape(text)}</p></div><div class="reply"><a rel="nofollow" '
        f'class="comment-reply-link" href="#">回复</a></div></article></li>'
        for i, (text, name) in enumerate(zip(BLOG_COMMENTS, ["山野", "阿杰", "小鹿"], strict=True))
    )
    page = f"""<!DOCTYPE html><html lang="zh-CN"><head><meta charset="UTF-8" /><title>黄山两日游记 – 行者手记</title>
</head><body class="post-template-default single single-post"><div id="page" class="site"><header id="masthead"
class="site-header"><div class="site-branding"><p class="site-title"><a href="/">行者手记</a></p></div><nav
id="site-navigation" class="main-navigation"><ul id="primary-menu" class="menu"><li><a href="/">首页</a></li><li>
<a href="/travel/">游记</a></li><li><a href="/about/">关于</a></li></ul></nav></header><div id="content"
class="site-content"><main id="main" class="site-main"><article id="post-88" class="post-88 post type-post">
<header class="entry-header"><h1 class="entry-title">黄山两日游记</h1><div class="entry-meta"><span
class="posted-on">发布于 2023年9月10日</span></div></header><div class="entry-content">{_p(chr(10).join(BLOG_POST))}
</div><footer class="entry-footer"><span class="cat-links">分类：<a href="/travel/">游记</a></span></footer>
</article><div id="comments" class="comments-area"><h2 class="comments-title">《黄山两日游记》有3条评论</h2><ol
class="comment-list">{comments}</ol><div id="respond" class="comment-respond"><h3 class="comment-reply-title">
发表回复</h3><form action="/wp-comments-post.php" method="post" id="commentform"><p class="comment-notes">
您的电子邮箱地址不会被公开。</p></form></div></div></main><aside id="secondary" class="widget-area"><section
class="widget widget_recent_entries"><h2 class="widget-title">近期文章</h2><ul><li><a href="#">桂林三日行</a></li>
<li><a href="#">成都美食地图</a></li></ul></section></aside></div><footer id="colophon" class="site-footer"><div
class="site-info">自豪地采用 WordPress</div></footer></div></body></html>"""
    return page, BLOG_POST


FORUMS = {
    "discourse": discourse,
    "discuz": discuz,
    "phpbb": phpbb,
    "vbulletin": vbulletin,
    "xenforo": xenforo,
    "tieba": tieba,
    "table_bbs": table_bbs,
}
