from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.utils.translation import gettext as _

from siyu.core.models import Event, Workspace
from siyu.core.text import natural_key
from siyu.members.models import Member

from .bot import group_first, moderation_find, reply_find, reply_payload
from .models import (
    BotSettings, Group, GroupDailyStats, GroupStats, KeywordReply, Membership, MembershipRole, ModerationRule,
)


def group_list(*, workspace: Workspace, today: date, kind: str | None = None) -> list[Group]:
    """Groups with members now and joins, leaves and messages over the last 7 days (today included)."""
    rows = Group.objects.filter(workspace=workspace)
    if kind:
        rows = rows.filter(kind=kind)
    groups = sorted(rows, key=lambda g: (g.kind, natural_key(g.name)))
    members_now = dict(GroupStats.objects.filter(workspace=workspace).values_list("group_id", "members_now"))
    for group_id, staff in staff_now(workspace=workspace).items():  # staff are no members (members.staff)
        members_now[group_id] = members_now.get(group_id, 0) - staff
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


def staff_now(*, workspace: Workspace) -> dict[int, int]:
    """{group id: staff members in it now} (members.staff), read from the few staff members' open stays."""
    return dict(
        Membership.objects.filter(
            member__in=Member.objects.filter(workspace=workspace, is_staff=True), left_at__isnull=True,
        ).values("group_id").annotate(n=Count("id")).values_list("group_id", "n")
    )


def group_counts(*, group: Group) -> dict[str, int]:
    """Members in the group now (staff left out), staff in it now, and stays ever (everyone)."""
    return Membership.objects.filter(group=group).aggregate(
        members_now=Count("id", filter=Q(left_at__isnull=True, member__is_staff=False)),
        staff_now=Count("id", filter=Q(left_at__isnull=True, member__is_staff=True)), stays=Count("id"),
    )


def group_choices(*, workspace: Workspace) -> list[tuple[int, str]]:
    """(id, name) of every group, for filters: by kind, then by name in natural order (1群 before 10群)."""
    rows = Group.objects.filter(workspace=workspace).values_list("kind", "pk", "name")
    return [(pk, name) for kind, pk, name in sorted(rows, key=lambda r: (r[0], natural_key(r[2])))]


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


@dataclass(frozen=True)
class ReplyTrial:
    """What the bot would do with one message: the moderation rule it breaks (and on what), else the
    keyword reply that answers and the send_text it would queue; all None when it stays silent."""

    rule: ModerationRule | None = None
    found: str | None = None
    reply: KeywordReply | None = None
    payload: dict[str, Any] | None = None


def keyword_reply_try(
    *, workspace: Workspace, group: Group | None, bot_settings: BotSettings, text: str, sender: dict[str, Any]
) -> ReplyTrial:
    """What the bot would do if `sender` (a plain member: {"id", "name", "number"}) sent `text` in `group`.

    `group` None: a group following the workspace defaults (only workspace-wide rules apply, the group is
    called "Sample group"). The same choice the bot makes (bot.moderation_find, bot.reply_find,
    bot.reply_payload) over the enabled rules, group rules first. Reads only: nothing is sent, stored or
    cooled down, so the cooldown that would hold back a repeated answer in a group is not applied.
    """
    scope = Q(group__isnull=True) | Q(group=group) if group is not None else Q(group__isnull=True)
    moderation_rules = group_first(ModerationRule.objects.filter(scope, workspace=workspace, enabled=True).order_by("id"), group)
    rule, found = moderation_find(
        moderation_rules=moderation_rules, role=MembershipRole.MEMBER, text=text, allowed_domains=bot_settings.domains,
    )
    if rule is not None:
        return ReplyTrial(rule=rule, found=str(found))
    replies = group_first(KeywordReply.objects.filter(scope, workspace=workspace, enabled=True).order_by("priority", "id"), group)
    reply = reply_find(replies=replies, text=text)
    if reply is None:
        return ReplyTrial()
    shown = group if group is not None else Group(workspace=workspace, name=_("Sample group"))
    return ReplyTrial(reply=reply, payload=reply_payload(reply=reply, sender=sender, group=shown, bot_settings=bot_settings))
