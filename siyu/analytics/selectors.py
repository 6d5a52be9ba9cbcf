"""Reads for the console: distributions, member filters, a group's daily series and message heatmap."""
from datetime import timedelta

from django.db.models import Count, Exists, OuterRef
from django.utils.translation import gettext_lazy as _

from siyu.core.events import EventType
from siyu.core.models import Event

from . import calendar
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


def segment_choices():
    """("activity_tier:core", "Activity tier: Core"), … for every tier and type."""
    return [
        (f"{field}:{value}", f"{MODEL_LABELS[field]}: {label}")
        for field, choices in MODELS.items() for value, label in choices.choices
    ]


def model_distribution(*, workspace):
    """{model field: [(value, label, count)]} over every member, in the choices' order."""
    result = {}
    for field, choices in MODELS.items():
        counts = dict(
            MemberModel.objects.filter(workspace=workspace).values_list(field).annotate(n=Count("pk")).values_list(field, "n")
        )
        result[field] = [(value, label, counts.get(value, 0)) for value, label in choices.choices]
    return result


def member_model_condition(*, field, value):
    """A filter expression for members.selectors.member_list: members in one tier or type."""
    if field not in MODELS or value not in MODELS[field].values:
        raise ValueError(f"unknown member model {field}={value}")
    return Exists(MemberModel.objects.filter(member=OuterRef("pk"), **{field: value}))


def member_model_get(*, member):
    return MemberModel.objects.filter(member=member).first()


def group_series(*, group, first, last):
    """A group's GroupDay rows from `first` to `last` (days before its first day are absent)."""
    return list(GroupDay.objects.filter(group=group, day__gte=first, day__lte=last).order_by("day"))


def message_heatmap(*, group, first, last):
    """Messages by local weekday (0 = Monday) and hour, 7 × 24 counts, over the period."""
    tz = group.workspace.tz
    start = calendar.day_start(tz, first)
    end = calendar.day_start(tz, last + timedelta(days=1))
    grid = [[0] * 24 for _ in range(7)]
    moments = Event.objects.filter(
        group=group, occurred_at__gte=start, occurred_at__lt=end, type=EventType.GROUP_MESSAGE
    ).values_list("occurred_at", flat=True)
    for moment in moments.iterator(chunk_size=5000):
        local = moment.astimezone(tz)
        grid[local.weekday()][local.hour] += 1
    return grid


def watermark_get(*, workspace):
    return Watermark.objects.filter(workspace=workspace).first()
