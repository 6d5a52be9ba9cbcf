from datetime import date, timedelta
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, Sum

from siyu.core.models import Event, Workspace
from siyu.members.models import Member

from .models import Group, GroupDailyStats, GroupStats, Membership


def group_list(*, workspace: Workspace, today: date, kind: str | None = None) -> list[Group]:
    """Groups with members now and joins, leaves and messages over the last 7 days (today included)."""
    rows = Group.objects.filter(workspace=workspace).order_by("kind", "name")
    if kind:
        rows = rows.filter(kind=kind)
    groups = list(rows)
    members_now = dict(GroupStats.objects.filter(workspace=workspace).values_list("group_id", "members_now"))
    week: dict[int, Any] = {
        row["group"]: row
        for row in GroupDailyStats.objects.filter(workspace=workspace, day__gt=today - timedelta(days=7), day__lte=today)
        .values("group").annotate(joins=Sum("joins"), leaves=Sum("leaves"), messages=Sum("messages"))
    }
    for group in groups:
        stats = week.get(group.pk, {})
        group.members_now = members_now.get(group.pk, 0)
        group.joins_7d = stats.get("joins") or 0
        group.leaves_7d = stats.get("leaves") or 0
        group.messages_7d = stats.get("messages") or 0
    return groups


def group_get(*, workspace: Workspace, group_id: int) -> Group:
    """One group of this workspace, or Group.DoesNotExist."""
    return Group.objects.get(workspace=workspace, pk=group_id)


def group_members(*, group: Group, include_past: bool = False) -> list[Membership]:
    """Memberships of a group, staff roles first, then by join time."""
    stays = Membership.objects.filter(group=group).select_related("member")
    if not include_past:
        stays = stays.filter(left_at__isnull=True)
    role_order = {"owner": 0, "admin": 1, "koc": 2, "member": 3}
    return sorted(stays, key=lambda s: (role_order.get(s.role, 9), s.joined_at))


def group_daily(*, group: Group, since: date) -> list[GroupDailyStats]:
    return list(GroupDailyStats.objects.filter(group=group, day__gte=since).order_by("day"))


def group_recent_events(*, group: Group, limit: int = 50) -> list[Event]:
    return list(
        Event.objects.filter(group=group).select_related("member").order_by("-occurred_at", "-id")[:limit]
    )


def group_counts(*, group: Group) -> dict[str, int]:
    return Membership.objects.filter(group=group).aggregate(
        members_now=Count("id", filter=Q(left_at__isnull=True)), stays=Count("id")
    )


def group_choices(*, workspace: Workspace) -> list[tuple[int, str]]:
    """(id, name) of every group, for filters."""
    return list(Group.objects.filter(workspace=workspace).order_by("kind", "name").values_list("pk", "name"))


def in_group_now(*, group_id: int | None = None, kind: str | None = None) -> Exists:
    """A member filter: now in the group (or in any group of the kind).

    An EXISTS probe per candidate member, so a keyset walk over members stops after one page
    instead of materialising every member of a big group first.
    """
    stays = Membership.objects.filter(member=OuterRef("pk"), left_at__isnull=True)
    if group_id:
        stays = stays.filter(group_id=group_id)
    if kind:
        stays = stays.filter(group__kind=kind)
    return Exists(stays)


def member_stays(*, member: Member) -> list[Membership]:
    """Every stay of a member in a group, current ones first."""
    return list(
        Membership.objects.filter(member=member).select_related("group")
        .order_by(F("left_at").desc(nulls_first=True), "-joined_at")
    )
