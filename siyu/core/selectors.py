"""Reads of the ledger for the console: the events behind a figure."""
from .models import Event


def event_list(*, workspace, types=(), group_id=None, member_id=None, since=None, until=None, before_id=None, limit=100):
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


def keyset_page(queryset, *, field, limit):
    """The first `limit` rows by `field` descending, and the value to pass as "before" for the next page."""
    page = list(queryset.order_by(f"-{field}")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, (getattr(page[-1], field) if more and page else None)
