"""Labels: what an internal value is called, in the reader's language. One function per kind of value:

    source_label("douyin-live")    抖音直播 / Douyin live stream   (where a member came from: a join's code)
    product_label("trial")         体验课 / Trial course           (an order's product)
    product_kind_label("entry")    引流品 / Entry product          (an order's product_kind)
    cost_category_label("ads")     广告 / Ads                      (a cost's category)

A value nobody registered is shown as it is (a channel's own product name, a source an import brought).
Core holds the labels every workspace shares; an app that knows more values adds them in its
AppConfig.ready() (the simulator registers its products): `PRODUCTS.register({"trial": _("Trial course")})`.
The names of model fields and their choices are the models' own (verbose_name, choices): see
`field_label` and `field_value_label`.
"""
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.db.models import Model
    from django.utils.functional import _StrPromise as StrPromise


class Labels:
    """The labels of one kind of value; `labels(value)` is the label, or the value itself when unknown."""

    def __init__(self, labels: "Mapping[str, StrPromise]") -> None:
        self._labels: dict[str, StrPromise] = dict(labels)

    def register(self, labels: "Mapping[str, StrPromise]") -> None:
        self._labels.update(labels)

    def keys(self) -> list[str]:
        return list(self._labels)

    def __call__(self, value: object) -> str:
        if value is None:
            return ""
        label = self._labels.get(str(value))
        return str(value) if label is None else str(label)


SOURCES = Labels({
    "poster-moments": _("Moments poster"),
    "xiaohongshu": _("Xiaohongshu"),
    "douyin": _("Douyin"),
    "douyin-live": _("Douyin live stream"),
    "kuaishou": _("Kuaishou"),
    "bilibili": _("Bilibili"),
    "weibo": _("Weibo"),
    "wechat-article": _("WeChat article"),
    "wechat-channels": _("WeChat Channels"),
    "course-page": _("Course page"),
    "friend-referral": _("Friend referral"),
    "offline": _("Offline event"),
    "wecom": _("WeCom"),
    "wechat": _("WeChat"),
    "website": _("Website"),
    "ads": _("Paid ads"),
})
PRODUCTS = Labels({})
PRODUCT_KINDS = Labels({"entry": _("Entry product"), "paid": _("Paid product")})
COST_CATEGORIES = Labels({"ads": _("Ads"), "content": _("Content")})


def source_label(value: object) -> str:
    """Where a member came from (a join's or exposure's code name), e.g. 抖音直播."""
    return SOURCES(value)


def product_label(value: object) -> str:
    """An order's product, e.g. 体验课."""
    return PRODUCTS(value)


def product_kind_label(value: object) -> str:
    """An order's product kind: 引流品 (entry) or 正价品 (paid)."""
    return PRODUCT_KINDS(value)


def cost_category_label(value: object) -> str:
    """What a cost paid for, e.g. 广告."""
    return COST_CATEGORIES(value)


def field_label(model: "type[Model]", name: str) -> str:
    """A model field's name as forms and tables show it (its verbose_name), e.g. Member "city" → 城市."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return name
    return str(getattr(field, "verbose_name", name))


def field_value_label(model: "type[Model]", name: str, value: Any) -> str:
    """A field's value as the reader says it: a choice's label (gender "f" → 女), else the value."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return str(value)
    choices = dict(getattr(field, "flatchoices", ()))
    return str(choices.get(value, value))
