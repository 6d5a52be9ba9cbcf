from django.db.models import Q

from siyu.core.models import Event

from .models import Member


def member_list(*, workspace, query="", within=None, before=None, limit=50):
    """Members newest first, keyset-paginated on the member number.

    `before` is the last number of the previous page; each page is one index range scan, so the
    hundredth page costs what the first does. `query` matches a number exactly or a name by substring;
    `within` is a queryset of member ids to restrict to (e.g. the members of a group).
    Returns (members, next_before or None).
    """
    members = Member.objects.filter(workspace=workspace).select_related("stats")
    query = (query or "").strip()
    if query:
        match = Q(display_name__icontains=query) | Q(remark__icontains=query)
        if query.lstrip("#").isdigit():
            match |= Q(number=int(query.lstrip("#")))
        members = members.filter(match)
    if within is not None:
        members = members.filter(pk__in=within)
    if before is not None:
        members = members.filter(number__lt=before)
    page = list(members.order_by("-number")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, (page[-1].number if more and page else None)


def member_get(*, workspace, number):
    """One member of this workspace by number, or Member.DoesNotExist."""
    return Member.objects.select_related("stats").get(workspace=workspace, number=number)


def member_timeline(*, member, before_id=None, limit=50):
    """The member's events, newest first, keyset-paginated on the event id."""
    events = Event.objects.filter(member=member).select_related("group").order_by("-occurred_at", "-id")
    if before_id is not None:
        anchor = Event.objects.filter(member=member, pk=before_id).values_list("occurred_at", flat=True).first()
        if anchor is not None:
            events = events.filter(Q(occurred_at__lt=anchor) | Q(occurred_at=anchor, id__lt=before_id))
    page = list(events[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, (page[-1].pk if more and page else None)
