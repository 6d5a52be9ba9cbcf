"""A member's source (来源 / 渠道) as an import's channel column gives it: a known source's key, or the text.

The labels are core's (`siyu.core.labels.SOURCES`, the same for a join's code and a member's source); this
module knows the other names a file may use for a known source, so "抖音", "Douyin" and "douyin" all become
"douyin" (shown 抖音 / Douyin). Any other text is stored as it was written, at most SOURCE_MAX characters.
"""
import re

from siyu.core.labels import SOURCES, source_label

SOURCE_MAX = 64

# key → names a file may use besides the key and its English and Chinese labels
SOURCE_ALIASES = {
    "wecom": ("企微", "work wechat", "wxwork"),
    "wechat": ("公众号", "微信公众号", "official account", "weixin"),
    "wechat-article": ("推文",),
    "wechat-channels": ("微信视频号", "channels"),
    "douyin": ("抖音号",),
    "douyin-live": ("直播",),
    "xiaohongshu": ("red", "rednote"),
    "bilibili": ("b站",),
    "website": ("网站", "web"),
    "ads": ("广告", "信息流", "ad", "advertising"),
    "offline": ("线下", "地推"),
    "friend-referral": ("转介绍", "朋友推荐", "老带新", "推荐", "referral"),
}
__all__ = ["SOURCE_MAX", "source_label", "source_normalise"]


def _alias_key(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _aliases() -> dict[str, str]:
    from django.utils import translation

    found: dict[str, str] = {}
    for key in SOURCES.keys():
        names = [key, *SOURCE_ALIASES.get(key, ())]
        for language in ("en", "zh-hans"):
            with translation.override(language):
                names.append(SOURCES(key))
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


def source_known(value: str) -> bool:
    """Whether `value` is a known source's key (core's SOURCES)."""
    return value in SOURCES.keys()
