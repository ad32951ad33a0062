"""PII masking settings: one switch per type, and the IP policy for technical text."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator

from pipeline.config.base import Strict

# Public DNS resolvers: configuration manuals name them constantly and they identify no one.
PUBLIC_RESOLVERS = [
    "8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "208.67.222.222", "208.67.220.220",
    "114.114.114.114", "114.114.115.115", "223.5.5.5", "223.6.6.6", "119.29.29.29", "180.76.76.76",
    "2001:4860:4860::8888", "2001:4860:4860::8844", "2606:4700:4700::1111",
]  # fmt: skip


class PiiConfig(Strict):
    enabled: bool = True
    email: bool = Field(
        default=True,
        description="name@domain.tld; not example.com/.test/.invalid addresses, git@ remotes, icon@2x.png",
    )
    phone: bool = Field(
        default=True,
        description="Chinese mobile (+86 138 1234 5678), landline (010-12345678, (0755)1234567) "
        "and international numbers written with a leading +",
    )
    cn_id: bool = Field(
        default=True,
        description="18-character resident ID with valid region, birth date and MOD 11-2 checksum",
    )
    cn_id_legacy: bool = Field(
        default=False,
        description="also 15-digit pre-1999 IDs (region + YYMMDD + sequence, no checksum: many false positives)",
    )
    ip: bool = True
    ip_scope: Literal["public", "all"] = Field(
        default="public",
        description="public: mask only globally routable addresses; private (192.168.x.x, 10.x), "
        "loopback, link-local and documentation ranges identify no one and are everywhere in manuals",
    )
    ip_allow: list[str] = Field(
        default_factory=lambda: list(PUBLIC_RESOLVERS), description="addresses never masked"
    )
    bank_card: bool = Field(
        default=True, description="13-19 digits with a card-network prefix (2-6) and a valid Luhn digit"
    )
    qq: bool = Field(default=True, description="QQ numbers after QQ/QQ号/扣扣 only")
    wechat: bool = Field(default=True, description="WeChat IDs after 微信号/微信：/加微信/WeChat: only")

    @field_validator("ip_allow")
    @classmethod
    def _addresses(cls, v: list[str]) -> list[str]:
        """Normalised spellings (2001:4860:4860:0::8888 → 2001:4860:4860::8888); typos fail early."""
        try:
            return [str(ipaddress.ip_address(a.strip())) for a in v]
        except ValueError as exc:
            raise ValueError(f"ip_allow: {exc}") from None
