from collections.abc import Sequence
from typing import Any

from django.db.models import Model, Q

from siyu.core.events import EventType
from siyu.core.models import Event, Workspace
from siyu.core.selectors import keyset_page

from .models import Member, MemberTag, Segment, SegmentMember, Tag


def member_list(
    *, workspace: Workspace, query: str = "", condition: Any = None, before: int | None = None, limit: int = 50
) -> tuple[list[Member], int | None]:
    """Members newest first, keyset-paginated on the member number.

    `before` is the last number of the previous page; each page is one index range scan, so the
    hundredth page costs what the first does. `query` is a member number ("1024" or "#1024") or
    else a substring of the name or remark; `condition` is a further filter expression from
    another app (e.g. groups.selectors.in_group_now). Returns (members, next_before or None).
    """
    members = Member.objects.filter(workspace=workspace, merged_into__isnull=True).select_related("stats")
    query = (query or "").strip()
    if query.lstrip("#").isdigit():
        members = members.filter(number=int(query.lstrip("#")))
    elif query:
        members = members.filter(Q(display_name__icontains=query) | Q(remark__icontains=query))
    if condition is not None:
        members = members.filter(condition)
    if before is not None:
        members = members.filter(number__lt=before)
    return keyset_page(members, field="number", limit=limit)


def member_get(*, workspace: Workspace, number: int) -> Member:
    """One member of this workspace by number, or Member.DoesNotExist."""
    return Member.objects.select_related("stats").get(workspace=workspace, number=number)


def member_timeline(*, member: Member, before_id: int | None = None, limit: int = 50) -> tuple[list[Event], int | None]:
    """The member's events, newest first, keyset-paginated on the event id."""
    events = Event.objects.filter(member=member).select_related("group").order_by("-occurred_at", "-id")
    if before_id is not None:
        anchor = Event.objects.filter(member=member, pk=before_id).values_list("occurred_at", flat=True).first()
        if anchor is not None:
            events = events.filter(Q(occurred_at__lt=anchor) | Q(occurred_at=anchor, id__lt=before_id))
    page = list(events[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    timeline_subjects(page)
    return page, (page[-1].pk if more and page else None)


def timeline_subjects(events: Sequence[Event]) -> None:
    """Set `subject` on Siyu's own member events: the tag, segment or owner they name (three queries at most)."""
    from django.contrib.auth import get_user_model

    wanted: dict[int, tuple[Any, Any]] = {
        EventType.MEMBER_TAGGED: ("tag", Tag), EventType.MEMBER_UNTAGGED: ("tag", Tag),
        EventType.MEMBER_SEGMENT_ENTERED: ("segment", Segment), EventType.MEMBER_SEGMENT_LEFT: ("segment", Segment),
        EventType.MEMBER_OWNER_CHANGED: ("owner", get_user_model()),
    }
    ids: dict[type[Model], set[int]] = {}
    for event in events:
        key, model = wanted.get(event.type, (None, None))
        if key and isinstance((event.data or {}).get(key), int):
            ids.setdefault(model, set()).add(event.data[key])
    names: dict[type[Model], dict[Any, str]] = {}
    for model, pks in ids.items():
        rows = model._default_manager.filter(pk__in=pks)
        if model is Tag:
            rows = rows.select_related("group")
        names[model] = {row.pk: (row.get_username() if hasattr(row, "get_username") else str(row)) for row in rows}
    for event in events:
        key, model = wanted.get(event.type, (None, None))
        if key:
            value = (event.data or {}).get(key)
            event.subject = names.get(model, {}).get(value, "" if value is None else f"#{value}")


def tag_choices(*, workspace: Workspace) -> list[tuple[int, str]]:
    """(id, "group:tag") of the workspace's live tags, for filter selects."""
    return [(t.pk, str(t)) for t in Tag.objects.filter(workspace=workspace, deleted_at__isnull=True).select_related("group")]


def segments_live(*, workspace: Workspace) -> list[Segment]:
    """The workspace's segments that are not archived, by name."""
    return list(Segment.objects.filter(workspace=workspace, archived_at__isnull=True).order_by("name"))


def segment_choices(*, workspace: Workspace) -> list[tuple[int, str]]:
    """(id, name) of the workspace's saved segments, by name (for a form's choices)."""
    return [(segment.pk, segment.name) for segment in segments_live(workspace=workspace)]


def has_tag(*, tag_id: int | None) -> Q | None:
    """A Member condition: has this tag now (None when no tag is given)."""
    return None if tag_id is None else Q(pk__in=MemberTag.objects.filter(tag_id=tag_id).values("member_id"))


def in_segment(*, segment_id: int | None) -> Q | None:
    """A Member condition: on this saved segment's live list (None when no segment is given)."""
    return None if segment_id is None else Q(pk__in=SegmentMember.objects.filter(segment_id=segment_id).values("member_id"))
