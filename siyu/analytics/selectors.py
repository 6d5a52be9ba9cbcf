"""Reads for the console: distributions, member filters, a group's daily series and message heatmap."""
from datetime import date, timedelta

from django.db.models import Count, Exists, OuterRef
from typing import TYPE_CHECKING

from django.utils.translation import gettext_lazy as _

from siyu.core.events import EventType
from siyu.core.models import Event, Workspace
from siyu.groups.models import Group
from siyu.members.models import Member

from . import calendar

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise
from .models import ActivityTier, GroupDay, Loyalty, MemberModel, Pyramid, ValueTier, Watermark

MODELS = {
    "activity_tier": ActivityTier,
    "value_tier": ValueTier,
    "loyalty": Loyalty,
    "pyramid": Pyramid,
}


MODEL_LABELS = {
    "activity_tier": _("Activity tier"),
    "value_tier": _("Value tier"),
    "loyalty": _("Loyalty type"),
    "pyramid": _("Pyramid layer"),
}


def model_choices() -> list[tuple[str, str]]:
    """("activity_tier:core", "Activity tier: Core"), … for every tier and type."""
    return [
        (f"{field}:{value}", f"{MODEL_LABELS[field]}: {label}")
        for field, choices in MODELS.items() for value, label in choices.choices
    ]


def model_distribution(*, workspace: Workspace) -> "dict[str, list[tuple[str, StrOrPromise, int]]]":
    """{model field: [(value, label, count)]} over every member, in the choices' order."""
    result = {}
    for field, choices in MODELS.items():
        counts = dict(
            MemberModel.objects.filter(workspace=workspace).values_list(field).annotate(n=Count("pk")).values_list(field, "n")
        )
        result[field] = [(value, label, counts.get(value, 0)) for value, label in choices.choices]
    return result


def member_model_condition(*, field: str, value: str) -> Exists:
    """A filter expression for members.selectors.member_list: members in one tier or type."""
    if field not in MODELS or value not in MODELS[field].values:
        raise ValueError(f"unknown member model {field}={value}")
    return Exists(MemberModel.objects.filter(member=OuterRef("pk"), **{field: value}))


def member_model_get(*, member: Member) -> MemberModel | None:
    return MemberModel.objects.filter(member=member).first()


def group_series(*, group: Group, first: date, last: date) -> list[GroupDay]:
    """A group's GroupDay rows from `first` to `last` (days before its first day are absent)."""
    return list(GroupDay.objects.filter(group=group, day__gte=first, day__lte=last).order_by("day"))


def message_heatmap(*, group: Group, first: date, last: date) -> list[list[int]]:
    """Messages by local weekday (0 = Monday) and hour, 7 × 24 counts, over the period."""
    tz = group.workspace.tz
    start = calendar.day_start(tz, first)
    end = calendar.day_start(tz, last + timedelta(days=1))
    grid = [[0] * 24 for _ in range(7)]
    moments = Event.objects.filter(
        group=group, occurred_at__gte=start, occurred_at__lt=end, type=EventType.GROUP_MESSAGE
    ).exclude(data__has_key="replaces").values_list("occurred_at", flat=True)  # an edit is no new message
    for moment in moments.iterator(chunk_size=5000):
        local = moment.astimezone(tz)
        grid[local.weekday()][local.hour] += 1
    return grid


def watermark_get(*, workspace: Workspace) -> Watermark | None:
    return Watermark.objects.filter(workspace=workspace).first()
