"""The one rule for what a visit of a link gets now: the redirect, the console and `siyu link list` use it.

The checks run in this order and the first that applies wins: disabled, scheduled (not yet valid),
expired, exhausted (maximum visits reached), else live. The redirect makes the first three with
`link_refusal` on its cached values (no query) and the last with its conditional increment;
`link_status` and `link_status_filter` make all of them on stored links, in the same order.
"""
from datetime import datetime
from typing import TypeVar

from django.db.models import F, Q

from .models import Link

STATUSES = ("live", "scheduled", "expired", "exhausted", "disabled")
Moment = TypeVar("Moment", float, datetime)  # the redirect's epoch seconds, or an aware datetime


def link_refusal(*, disabled: bool, valid_from: Moment | None, valid_until: Moment | None, now: Moment) -> str | None:
    """"disabled", "scheduled" or "expired", the first that applies, or None: the checks made before a visit
    is counted against the link's maximum."""
    if disabled:
        return "disabled"
    if valid_from is not None and now < valid_from:
        return "scheduled"
    if valid_until is not None and now >= valid_until:
        return "expired"
    return None


def link_status(*, link: Link, now: datetime) -> str:
    """live, scheduled, expired, exhausted or disabled: what a visit of `link` gets now."""
    refusal = link_refusal(disabled=link.disabled, valid_from=link.valid_from, valid_until=link.valid_until, now=now)
    if refusal is not None:
        return refusal
    if link.max_visits is not None and link.visits >= link.max_visits:
        return "exhausted"
    return "live"


def link_status_filter(*, status: str, now: datetime) -> Q:
    """The links whose `link_status` is `status` now, as a filter (the same checks in the same order)."""
    disabled = Q(disabled=True)
    scheduled = Q(valid_from__gt=now)
    expired = Q(valid_until__lte=now)
    exhausted = Q(max_visits__isnull=False, visits__gte=F("max_visits"))
    return {
        "disabled": disabled,
        "scheduled": ~disabled & scheduled,
        "expired": ~disabled & ~scheduled & expired,
        "exhausted": ~disabled & ~scheduled & ~expired & exhausted,
        "live": ~disabled & ~scheduled & ~expired & ~exhausted,
    }[status]
