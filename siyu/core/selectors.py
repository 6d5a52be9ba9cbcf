"""Reads of the ledger for the console: the events behind a figure."""
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar

from django.db.models import Model, QuerySet

from .models import Event, StaffRole, Workspace

M = TypeVar("M", bound=Model)


def event_list(
    *, workspace: Workspace, types: Iterable[int] = (), group_id: int | None = None, member_id: int | None = None,
    since: datetime | None = None, until: datetime | None = None, before_id: int | None = None, limit: int = 100,
) -> tuple[list[Event], int | None]:
    """Events newest first, filtered; keyset-paginated on id. Returns (events, next_before_id or None).

    `since`/`until` are aware datetimes (until exclusive).
    """
    events = Event.objects.filter(workspace=workspace).select_related("member", "group")
    if types:
        events = events.filter(type__in=list(types))
    if group_id is not None:
        events = events.filter(group_id=group_id)
    if member_id is not None:
        events = events.filter(member_id=member_id)
    if since is not None:
        events = events.filter(occurred_at__gte=since)
    if until is not None:
        events = events.filter(occurred_at__lt=until)
    if before_id is not None:
        events = events.filter(id__lt=before_id)
    return keyset_page(events, field="id", limit=limit)


def staff_list(*, workspace: Workspace) -> list[StaffRole]:
    """The workspace's staff roles with their users, by username."""
    return list(StaffRole.objects.filter(workspace=workspace).select_related("user").order_by("user__username"))


def keyset_page(queryset: "QuerySet[M]", *, field: str, limit: int) -> tuple[list[M], Any]:
    """The first `limit` rows by `field` descending, and the value to pass as "before" for the next page."""
    page = list(queryset.order_by(f"-{field}")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, (getattr(page[-1], field) if more and page else None)
