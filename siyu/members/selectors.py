from typing import Any

from django.db.models import Count, F, Q, QuerySet

from siyu.core.models import Event, Workspace
from siyu.core.selectors import keyset_page

from .models import LeadList, Member, MemberTag, Segment, SegmentMember, SegmentSize, Tag, TagGroup, TagRule


# The members list's orders: newest first (the default, keyset-paginated) or by a figure, biggest first.
MEMBER_SORTS: dict[str, tuple[Any, ...]] = {
    "new": ("-number",),
    "old": ("number",),
    "last_seen": (F("stats__last_seen_at").desc(nulls_last=True), "-number"),
    "messages": (F("stats__messages").desc(nulls_last=True), "-number"),
    "spend": (F("stats__spend_cents").desc(nulls_last=True), "-number"),
}


def member_list_matching(
    *, workspace: Workspace, query: str = "", condition: Any = None, with_staff: bool = False
) -> "QuerySet[Member]":
    """The members the members list shows for this search and filter, unordered (see member_list); staff
    (members.staff) only `with_staff`."""
    members = Member.objects.filter(workspace=workspace, merged_into__isnull=True)
    if not with_staff:
        members = members.filter(is_staff=False)
    query = (query or "").strip()
    if query.lstrip("#").isdigit():
        members = members.filter(number=int(query.lstrip("#")))
    elif query:
        members = members.filter(Q(display_name__icontains=query) | Q(remark__icontains=query))
    if condition is not None:
        members = members.filter(condition)
    return members


def member_list(
    *, workspace: Workspace, query: str = "", condition: Any = None, before: int | None = None, limit: int = 50,
    sort: str = "new", start: int = 0, with_staff: bool = False,
) -> tuple[list[Member], int | None]:
    """Members newest first, keyset-paginated on the member number, or in another order of MEMBER_SORTS.

    `before` is the last number of the previous page; each page is one index range scan, so the
    hundredth page costs what the first does. `query` is a member number ("1024" or "#1024") or
    else a substring of the name or remark; `condition` is a further filter expression from
    another app (e.g. groups.selectors.in_group_now). Returns (members, next_before or None).
    Another `sort` pages by position instead: `start` is the number of rows before the page, and the
    second value returned is the next page's `start` (or None). Staff (members.staff) are left out
    unless `with_staff`.
    """
    members = member_list_matching(
        workspace=workspace, query=query, condition=condition, with_staff=with_staff
    ).select_related("stats", "owner")
    if sort == "new" or sort not in MEMBER_SORTS:
        if before is not None:
            members = members.filter(number__lt=before)
        return keyset_page(members, field="number", limit=limit)
    page = list(members.order_by(*MEMBER_SORTS[sort])[start: start + limit + 1])
    return page[:limit], (start + limit if len(page) > limit else None)


def member_count(*, workspace: Workspace, query: str = "", condition: Any = None, with_staff: bool = False) -> int:
    """How many members the members list shows for this search and filter (every page together)."""
    return member_list_matching(workspace=workspace, query=query, condition=condition, with_staff=with_staff).count()


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
    return page, (page[-1].pk if more and page else None)


def tag_choices(*, workspace: Workspace) -> list[tuple[int, str]]:
    """(id, "group:tag") of the workspace's live tags, for filter selects."""
    return [(t.pk, str(t)) for t in Tag.objects.filter(workspace=workspace, deleted_at__isnull=True).select_related("group")]


def lead_list_choices(*, workspace: Workspace) -> list[tuple[int, str]]:
    """(id, name) of the workspace's lead lists, by name."""
    return list(LeadList.objects.filter(workspace=workspace).order_by("name", "pk").values_list("pk", "name"))


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


def tags_live(*, workspace: Workspace) -> list[Tag]:
    """The workspace's tags that are not deleted, with their tag group."""
    return list(Tag.objects.filter(workspace=workspace, deleted_at__isnull=True).select_related("group"))


def tag_get(*, workspace: Workspace, tag_id: int | None) -> Tag | None:
    """A live tag of the workspace, or None (no id, deleted, or another workspace's)."""
    if tag_id is None:
        return None
    return Tag.objects.filter(workspace=workspace, pk=tag_id, deleted_at__isnull=True).select_related("group").first()


def tag_group_get(*, workspace: Workspace, group_id: int | None) -> TagGroup | None:
    """A tag group of the workspace, or None."""
    return TagGroup.objects.filter(workspace=workspace, pk=group_id).first() if group_id is not None else None


def tag_rule_get(*, workspace: Workspace, rule_id: int | None) -> TagRule | None:
    """A tag rule of the workspace, or None."""
    return TagRule.objects.filter(workspace=workspace, pk=rule_id).first() if rule_id is not None else None


def tag_holders(*, tag: Tag) -> int:
    """How many members have the tag now."""
    return MemberTag.objects.filter(tag=tag).count()


def tag_manager(*, workspace: Workspace) -> tuple[list[tuple[TagGroup, list[Tag]]], list[Tag], list[TagRule]]:
    """The tag page's reads: (tag groups with their live tags, tags in no group, tag rules), each tag with
    `members` (how many have it) and each rule with `tag` and `members` (how many it gave the tag to)."""
    tags = (Tag.objects.filter(workspace=workspace, deleted_at__isnull=True)
            .annotate(members=Count("member_tags")).select_related("group"))
    groups = list(TagGroup.objects.filter(workspace=workspace))
    by_group: dict[int, list[Tag]] = {g.pk: [] for g in groups}
    loose: list[Tag] = []
    for tag in tags:
        (by_group[tag.group_id] if tag.group_id else loose).append(tag)
    rules = list(TagRule.objects.filter(workspace=workspace).select_related("tag"))
    given = dict(MemberTag.objects.filter(rule__in=rules).values("rule_id").annotate(n=Count("pk")).values_list("rule_id", "n"))
    for rule in rules:
        rule.members = given.get(rule.pk, 0)
    return [(g, by_group[g.pk]) for g in groups], loose, rules


def segment_get(*, workspace: Workspace, segment_id: int) -> Segment | None:
    """A segment of the workspace that is not archived, or None."""
    return Segment.objects.filter(workspace=workspace, pk=segment_id, archived_at__isnull=True).first()


def segment_members_page(*, segment: Segment, before: int | None = None, limit: int = 100) -> tuple[list[Member], int | None]:
    """One page of the segment's live list, newest member number first (with their stats), and the number
    to pass as `before` for the next page."""
    members = Member.objects.filter(pk__in=SegmentMember.objects.filter(segment=segment).values("member_id"))
    if before:
        members = members.filter(number__lt=before)
    page = list(members.select_related("stats").order_by("-number")[: limit + 1])
    return page[:limit], (page[limit - 1].number if len(page) > limit else None)


def segment_sizes(*, segment: Segment, days: int = 30) -> list[SegmentSize]:
    """The segment's size on its last `days` recorded days, oldest first."""
    return list(SegmentSize.objects.filter(segment=segment).order_by("-day")[:days])[::-1]


def member_tags_held(*, member: Member) -> list[MemberTag]:
    """The member's tags, with the tag's group and the rule or staff member who gave it, by tag name."""
    return list(MemberTag.objects.filter(member=member).select_related("tag__group", "rule", "by").order_by("tag__name"))


def member_segments(*, member: Member) -> list[Segment]:
    """The live segments the member is in now, by name."""
    return list(Segment.objects.filter(
        pk__in=SegmentMember.objects.filter(member=member).values("segment_id"), archived_at__isnull=True,
    ).order_by("name"))
