"""The lead score's tier inputs (members.leads: "value_tier:<value>", "activity_tier:<value>"), registered
in AnalyticsConfig.ready()."""
from collections.abc import Iterator
from typing import Any

from django.utils.translation import gettext_lazy

from siyu.members.leads import ScoreFacts

from .models import ActivityTier, MemberModel, ValueTier

CHOICES = {"value_tier": ValueTier.choices, "activity_tier": ActivityTier.choices}


def _choices(name: str) -> list[tuple[str, Any]]:
    return CHOICES[name]


def _read(member_ids: Any) -> Iterator[tuple[int, dict[str, str]]]:
    rows = MemberModel.objects.filter(member_id__in=member_ids).values_list("member_id", "value_tier", "activity_tier")
    return ((member_id, {"value_tier": value, "activity_tier": activity}) for member_id, value, activity in rows)


TIERS = ScoreFacts(
    app="analytics",
    names={"value_tier": gettext_lazy("Value tier"), "activity_tier": gettext_lazy("Activity tier")},
    choices=_choices, read=_read,
)
