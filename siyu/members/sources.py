"""A member's source (来源 / 渠道): where the member came from, as an import's channel column says.

A known source is stored by its key ("douyin") and shown by its label in the reader's language (抖音 /
Douyin); the file may name it by key, by either label or by a common alias (抖音号, 朋友推荐). Any other text
is stored as it was written (at most SOURCE_MAX characters) and shown as it is.
"""
import re

from django.utils.translation import gettext_lazy as _

SOURCE_MAX = 64

# key → (label, aliases a file may use besides the key and the labels)
KNOWN_SOURCES = {
    "wecom": (_("WeCom"), ("企业微信", "企微", "work wechat", "wxwork")),
    "wechat": (_("WeChat"), ("微信", "公众号", "微信公众号", "official account", "weixin")),
    "douyin": (_("Douyin"), ("抖音", "抖音号")),
    "xiaohongshu": (_("Xiaohongshu"), ("小红书", "red", "rednote")),
    "kuaishou": (_("Kuaishou"), ("快手",)),
    "weibo": (_("Weibo"), ("微博",)),
    "bilibili": (_("Bilibili"), ("哔哩哔哩", "b站")),
    "website": (_("Website"), ("官网", "网站", "web")),
    "ads": (_("Paid ads"), ("广告", "广告投放", "信息流", "ad", "advertising")),
    "offline": (_("Offline event"), ("线下", "线下活动", "地推", "offline")),
    "referral": (_("Referral"), ("转介绍", "朋友推荐", "老带新", "推荐", "referral")),
}


def _alias_key(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _aliases() -> dict[str, str]:
    from django.utils import translation

    found: dict[str, str] = {}
    for key, (label, aliases) in KNOWN_SOURCES.items():
        names = [key, *aliases]
        for language in ("en", "zh-hans"):
            with translation.override(language):
                names.append(str(label))
        for name in names:
            found.setdefault(_alias_key(name), key)
    return found


_ALIASES: dict[str, str] = {}


def source_normalise(text: str) -> str:
    """The value to store for `text`: a known source's key ("抖音", "Douyin" → "douyin"), else the text
    trimmed (the caller refuses one longer than SOURCE_MAX)."""
    if not _ALIASES:
        _ALIASES.update(_aliases())
    text = re.sub(r"\s+", " ", text).strip()
    return _ALIASES.get(_alias_key(text), text)


def source_label(value: str) -> str:
    """A stored source in the reader's language: a known source's label, other text as it is."""
    known = KNOWN_SOURCES.get(value)
    return str(known[0]) if known else value
