"""PII masking: positives and look-alikes per type, counts, placeholders, the batch step."""

from __future__ import annotations

import pyarrow as pa
import pytest

import pipeline.steps.pii as pii_mod
from pipeline.config.pii import PiiConfig
from pipeline.steps.pii import luhn_ok, mask_pii, mask_text, valid_cn_id, valid_cn_id15

CFG = PiiConfig()

# Valid resident IDs (the first is GB 11643's own example), checksums computed by MOD 11-2.
IDS = ["11010519491231002X", "44030419900307123x", "310115200011294569", "510108198510173618"]


def masked(text: str, cfg: PiiConfig = CFG) -> str:
    return mask_text(text, cfg)[0]


def counts(text: str, cfg: PiiConfig = CFG) -> dict[str, int]:
    return {k: v for k, v in mask_text(text, cfg)[1].items() if v}


def unchanged(text: str, cfg: PiiConfig = CFG) -> bool:
    return mask_text(text, cfg) == (text, dict.fromkeys(pii_mod.enabled_types(cfg), 0))


# --- e-mail -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("联系邮箱：zhang.san@163.com，欢迎来信。", "联系邮箱：<EMAIL>，欢迎来信。"),
        ("发送至 12345678@qq.com 即可", "发送至 <EMAIL> 即可"),  # one e-mail, not a QQ number
        ("Mail first.last+tag@mail.tsinghua.edu.cn.", "Mail <EMAIL>."),
        ("<a href='mailto:li.si@company.com.cn'>", "<a href='mailto:<EMAIL>'>"),
    ],
)
def test_email(text: str, expected: str) -> None:
    assert masked(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Set user@example.com as the sender, or admin@test.example",
        "git clone git@github.com:python/cpython.git",
        "![logo](images/logo@2x.png) and icon@3x.webp",
        "npm install vue@3.2.0 @babel/core",
        "@dataclass\nclass A: ...",
        "ssh root@localhost",
    ],
)
def test_email_lookalikes(text: str) -> None:
    assert unchanged(text)


# --- phone --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("手机：13812345678。", "手机：<PHONE>。"),
        ("电话13912345678或15012345678", "电话<PHONE>或<PHONE>"),
        ("+86 138 1234 5678", "<PHONE>"),
        ("+86-138-1234-5678", "<PHONE>"),
        ("(+86)13912345678", "<PHONE>"),
        ("0086 18612345678", "<PHONE>"),
        ("138-1234-5678", "<PHONE>"),
        ("座机：010-62345678", "座机：<PHONE>"),
        ("（021）64370045", "<PHONE>"),
        ("0755-86013388 转 8001", "<PHONE> 转 8001"),
        ("0571 87654321", "<PHONE>"),
        ("Call +1 (415) 555-2671 today", "Call <PHONE> today"),
        ("London: +44 20 7946 0958", "London: <PHONE>"),
        ("Tokyo +81 3-1234-5678", "Tokyo <PHONE>"),
    ],
)
def test_phone(text: str, expected: str) -> None:
    assert masked(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "发布日期 2023-10-01，更新于 2024-01-15 13:45:12",
        "价格 ¥1380.00，原价 13800 元，共 138,000,000 元",
        "版本 13.8.1 和 v1.13.812345",
        "时间戳 1696147200 和 1696147200000",
        "订单号 138123456789012",  # 15 digits: no phone inside
        "圆周率 3.13812345678",
        "ISBN 978-7-111-54742-6",
        "增长 +12.5%，C++ 17，UTC+8，+100 分",
        "编号 10-12345678",  # no such area code
        "https://news.example.cn/article/13812345678.html",  # an article id in a URL
    ],
)
def test_phone_lookalikes(text: str) -> None:
    assert unchanged(text)


# --- resident ID --------------------------------------------------------------------------


@pytest.mark.parametrize("cn_id", IDS)
def test_valid_ids(cn_id: str) -> None:
    assert valid_cn_id(cn_id)
    assert masked(f"身份证号：{cn_id}，姓名张三") == "身份证号：<CN_ID>，姓名张三"


@pytest.mark.parametrize(
    "cn_id",
    [
        "110105194912310021",  # wrong check digit
        "11010519491231002Y",  # check character must be a digit or X
        "110105194902300028",  # 30 February
        "990105194912310023",  # no province 99
        "110105199913310024",  # month 13
    ],
)
def test_invalid_ids(cn_id: str) -> None:
    assert not valid_cn_id(cn_id)
    assert unchanged(f"编号 {cn_id}")


def test_legacy_15_digit_ids_are_opt_in() -> None:
    old = "110105491231002"  # 1949-12-31
    assert valid_cn_id15(old)
    assert not valid_cn_id15("110105491331002")  # month 13
    assert unchanged(f"旧身份证 {old}")
    assert masked(f"旧身份证 {old}", PiiConfig(cn_id_legacy=True)) == "旧身份证 <CN_ID>"


# --- bank cards ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "card",
    [
        "4111111111111111",
        "4111 1111 1111 1111",
        "5500-0000-0000-0004",
        "378282246310005",
        "3782 822463 10005",
        "6011111111111117",
        "6228480402564890018",
        "6222 0212 3456 7890 128",
    ],
)
def test_bank_card(card: str) -> None:
    assert masked(f"卡号：{card}，户名张三") == "卡号：<BANK_CARD>，户名张三"


@pytest.mark.parametrize(
    "text",
    [
        "卡号 4111111111111112",  # Luhn fails
        "4111 1111 1111 1112",
        "时间戳 1696147200000",  # starts with 1: no card network
        "snowflake id 1712345678901234567",
        "sha 4111111111111111abc",
        "0x4111111111111111",
        "1234 5678 9012 3456",
    ],
)
def test_bank_card_lookalikes(text: str) -> None:
    assert unchanged(text)


def test_luhn() -> None:
    assert luhn_ok("79927398713")
    assert not luhn_ok("79927398710")


# --- QQ and WeChat ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("QQ:12345678", "QQ:<QQ>"),
        ("QQ号：987654321", "QQ号：<QQ>"),
        ("加QQ 55555 详聊", "加QQ <QQ> 详聊"),
        ("qq群 123456789", "qq群 <QQ>"),
        ("QQ/微信：2345678901", "QQ/微信：<QQ>"),
        ("微信：abc_123456", "微信：<WECHAT>"),
        ("加微信 wxid_abcdef 领取资料", "加微信 <WECHAT> 领取资料"),
        ("WeChat: zhang-san88", "WeChat: <WECHAT>"),
        ("微信号是hello_world", "微信号是<WECHAT>"),
        ("加我微信13812345678", "加我微信<WECHAT>"),
        ("vx：study2024", "vx：<WECHAT>"),
    ],
)
def test_qq_wechat_in_context(text: str, expected: str) -> None:
    assert masked(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "QQ 2023 新版发布",
        "QQ音乐 12345678 首歌",
        "访问 qq.com 或 weixin.qq.com",
        "编号 12345678",  # a bare number is not a QQ number
        "WeChat Developers documentation",
        "微信支付和微信公众号",
        "添加vuex_store模块",
        "wechat-sdk",
    ],
)
def test_qq_wechat_lookalikes(text: str) -> None:
    assert unchanged(text)


# --- IP addresses -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text,expected",
    [
        ("登录 IP：58.217.200.13", "登录 IP：<IP>"),
        (
            "www.debian.org instead of 130.89.148.77 or 2001:67c:2564:a119::77.",
            "www.debian.org instead of <IP> or <IP>.",
        ),
        # the host of a URL is still an address
        ("curl http://58.217.200.13:8080/api", "curl http://<IP>:8080/api"),
        ("来自 [2400:da00::6666] 的请求", "来自 [<IP>] 的请求"),
        ("58.217.200.13 - - [10/Oct/2023:13:55:36] GET /", "<IP> - - [10/Oct/2023:13:55:36] GET /"),
    ],
)
def test_public_ip(text: str, expected: str) -> None:
    assert masked(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "路由器地址 192.168.0.1，内网 10.0.0.8，172.16.5.4",
        "listen 127.0.0.1:8080 and 0.0.0.0",
        "documentation ranges 192.0.2.1, 198.51.100.7, 203.0.113.5, 2001:db8::1",
        "link-local fe80::1%eth0 and ::1",
        "DNS 设置为 8.8.8.8 或 114.114.114.114",
        "版本 1.2.3.4，version 4.0.0.1，v2.7.18.1",
        "OID 1.3.6.1.4.1.2021 and Chrome 116.0.5845.96",
        "12.1.1.1. Different RAID Levels\n6.1.2.1. Security Updates",  # section headings
        "see section 12.1.1.1 and 第 6.1.2.1 节",
        "256.1.1.1 and 01.02.03.04",
        "std::vector, a::b, 12:30:45, 00:1a:2b:3c:4d:5e, dead::beef",
    ],
)
def test_ip_lookalikes_and_private(text: str) -> None:
    assert unchanged(text)


def test_ip_allow_is_validated() -> None:
    assert PiiConfig(ip_allow=["2001:4860:4860:0:0:0:0:8888"]).ip_allow == ["2001:4860:4860::8888"]
    with pytest.raises(ValueError, match="ip_allow"):
        PiiConfig(ip_allow=["8.8.8"])


def test_ip_scope_all_and_allow_list() -> None:
    every = PiiConfig(ip_scope="all", ip_allow=[])
    assert masked("网关 192.168.0.1，DNS 8.8.8.8", every) == "网关 <IP>，DNS <IP>"
    assert masked("版本 1.2.3.4", every) == "版本 1.2.3.4"  # still a version
    assert masked("服务器 58.217.200.13", PiiConfig(ip_allow=["58.217.200.13"])) == "服务器 58.217.200.13"


# --- counts, switches, the step -----------------------------------------------------------


def test_counts_per_type() -> None:
    text = (
        "联系人：张三，手机 13812345678，座机 010-62345678，邮箱 zhang@163.com 或 zs@sina.cn，"
        f"QQ：12345678，微信：zhangsan_88，身份证 {IDS[0]}，卡号 6228480402564890018，登录 IP 58.217.200.13。"
    )
    text_out, n = mask_text(text, CFG)
    assert n == {"email": 2, "phone": 2, "cn_id": 1, "ip": 1, "bank_card": 1, "qq": 1, "wechat": 1}
    assert text_out == (
        "联系人：张三，手机 <PHONE>，座机 <PHONE>，邮箱 <EMAIL> 或 <EMAIL>，"
        "QQ：<QQ>，微信：<WECHAT>，身份证 <CN_ID>，卡号 <BANK_CARD>，登录 IP <IP>。"
    )


def test_types_switch_off() -> None:
    cfg = PiiConfig(phone=False, ip=False)
    text = "手机 13812345678，邮箱 a.b@163.com，IP 58.217.200.13"
    assert masked(text, cfg) == "手机 13812345678，邮箱 <EMAIL>，IP 58.217.200.13"
    assert set(mask_text(text, cfg)[1]) == {"email", "cn_id", "bank_card", "qq", "wechat"}


def _batch(texts: list[str]) -> pa.Table:
    return pa.table(
        {
            "id": [f"p-{i}" for i in range(len(texts))],
            "source": ["web"] * len(texts),
            "text": texts,
            "bytes": [len(t.encode()) for t in texts],
        }
    )


def test_step_adds_int_columns_per_type() -> None:
    batch = _batch(["邮箱 a@163.com 和 b@qq.com", "没有个人信息的正文。", "电话 13812345678"])
    result = mask_pii(batch, PiiConfig(qq=False))
    kept = result.kept
    assert result.dropped.num_rows == 0
    assert kept.column("text").to_pylist() == [
        "邮箱 <EMAIL> 和 <EMAIL>",
        "没有个人信息的正文。",
        "电话 <PHONE>",
    ]
    assert kept.column("pii_email").to_pylist() == [2, 0, 0]
    assert kept.column("pii_phone").to_pylist() == [0, 0, 1]
    assert "pii_qq" not in kept.column_names
    assert all(kept.schema.field(c).type == pa.int32() for c in kept.column_names if c.startswith("pii_"))


def test_step_disabled_passes_through() -> None:
    batch = _batch(["电话 13812345678"])
    assert mask_pii(batch, PiiConfig(enabled=False)).kept.equals(batch)


def test_unmaskable_document_is_quarantined(monkeypatch: pytest.MonkeyPatch) -> None:
    real = pii_mod.mask_text

    def flaky(text: str, cfg: PiiConfig) -> tuple[str, dict[str, int]]:
        if "boom" in text:
            raise ValueError("bad")
        return real(text, cfg)

    monkeypatch.setattr(pii_mod, "mask_text", flaky)
    result = mask_pii(_batch(["电话 13812345678", "boom 13912345678"]), CFG)
    assert result.kept.column("text").to_pylist() == ["电话 <PHONE>"]
    assert [(r["id"], r["stage"], r["decision"], r["reason"]) for r in result.dropped.to_pylist()] == [
        ("p-1", "pii", "quarantined", "pii_error:ValueError")
    ]
