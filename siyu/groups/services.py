"""Writes for the group bot's rules: settings, replies, moderation rules, announcements, strike undo.

Views, tasks and commands call these; each is one use case and one transaction.
"""
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, tzinfo
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.core.db import UTC
from siyu.core.events import OWN_SOURCE, EventType, member_ref
from siyu.core.ingest import events_ingest
from siyu.core.kinds import SET_ANNOUNCEMENT
from siyu.core.models import AuditEntry, Event, OutboxMessage, StaffRole, Workspace
from siyu.core.outbox import outbox_enqueue
from siyu.members.models import Identity

from . import rules
from .bot import own_id
from .models import (
    Announcement, BotSettings, Group, GroupStatus, KeywordReply, MatchKind, ModerationKind, ModerationRule, Repeat, Strike,
    StrikeAction,
)

SETTINGS_FIELDS = [
    f.name for f in BotSettings._meta.get_fields()
    if getattr(f, "concrete", False) and f.name not in ("id", "workspace", "group", "updated_at")
]


# -- settings -------------------------------------------------------------------------------------

def bot_settings_get(*, workspace: Workspace, group: Group | None = None) -> BotSettings:
    """The settings the bot uses: the group's own row, else the workspace row, else the defaults (unsaved)."""
    if group is not None:
        own = BotSettings.objects.filter(group=group).first()
        if own is not None:
            return own
    return BotSettings.objects.filter(workspace=workspace, group__isnull=True).first() or BotSettings(workspace=workspace)


def bot_settings_save(*, workspace: Workspace, group: Group | None = None, values: Mapping[str, Any]) -> BotSettings:
    """Store the workspace defaults (group None) or a group's own settings, creating the row if needed."""
    with transaction.atomic():
        row = bot_settings_get(workspace=workspace, group=group)
        if row.pk is None or row.group_id != (group.pk if group else None):
            row = BotSettings(workspace=workspace, group=group, **{f: getattr(row, f) for f in SETTINGS_FIELDS})
        for name, value in values.items():
            if name in SETTINGS_FIELDS:
                setattr(row, name, value)
        row.full_clean(exclude=["workspace", "group"])
        row.save()
    return row


def bot_settings_reset(*, group: Group) -> bool:
    """Put a group back on the workspace defaults (its own settings are deleted)."""
    return BotSettings.objects.filter(group=group).delete()[0] > 0


def recommended_rules_create(*, workspace: Workspace) -> int:
    """The recommended starting rules (seed 002 "禁止广告刷屏,违规者警告→移除"), each created once.

    Workspace-wide: links not on the allow-list and invite codes (delete, warn, strike), and a
    "群规" keyword that answers with the group rules. Returns the number of rows created.
    """
    created = 0
    with transaction.atomic():
        for name, kind in (("广告链接", ModerationKind.LINKS), ("拉群邀请", ModerationKind.INVITES)):
            _, made = ModerationRule.objects.get_or_create(
                workspace=workspace, group=None, name=name, defaults={"kind": kind},
            )
            created += made
        _, made = KeywordReply.objects.get_or_create(
            workspace=workspace, group=None, match=MatchKind.EXACT, pattern="群规", defaults={"reply": "{rules}"},
        )
        created += made
    return created


def rule_save(*, rule: KeywordReply | ModerationRule) -> KeywordReply | ModerationRule:
    """Validate and store a keyword reply or a moderation rule (new or changed)."""
    rule.full_clean(exclude=["workspace", "group"])
    rule.save()
    return rule


def rule_delete(*, rule: KeywordReply | ModerationRule) -> None:
    rule.delete()


# -- strikes --------------------------------------------------------------------------------------

def strike_undo(*, strike: Strike, by_user: User | None, now: datetime | None = None) -> bool:
    """Take back a strike: it stops counting towards removal (group.strike_undone, source "siyu").

    If the strike barred the member and that is still the member's latest bar, the bar is lifted too
    (member.unbarred). A removal cannot be undone here: the member has to be invited again.
    Idempotent: undoing twice stores one undo. Returns False if the strike was already undone.
    """
    if strike.undone_at is not None:
        return False
    now = now or timezone.now()
    group = strike.group
    identity = (
        Identity.objects.filter(member_id=strike.member_id, channel=group.channel).order_by("created_at").first()
        or Identity.objects.filter(member_id=strike.member_id).order_by("created_at").first()
    )
    if identity is not None:
        actor = {"id": identity.external_id, "name": identity.display_name[:128], "channel": identity.channel}
    else:  # an erased member has no identity left
        actor = member_ref(strike.member_id, name=strike.member.display_name)
    by = by_user.get_username() if by_user is not None else ""
    events = [{
        "type": EventType.GROUP_STRIKE_UNDONE.key, "source_id": own_id("undo", strike.source_id), "occurred_at": now,
        "actor": actor, "group": {"id": group.external_id, "name": group.name, "channel": group.channel},
        "data": {"strike": strike.source_id, "by": by},
    }]
    if StrikeAction.BAR in strike.actions and _latest_bar_is(strike):
        events.append({
            "type": EventType.MEMBER_UNBARRED.key, "source_id": own_id("unbar", strike.source_id), "occurred_at": now,
            "actor": actor, "data": {"strike": strike.source_id, "by": by},
        })
    events_ingest(workspace=strike.workspace, source=OWN_SOURCE, events=events)
    return True


def _latest_bar_is(strike: Strike) -> bool:
    latest = (
        Event.objects.filter(member_id=strike.member_id, type__in=[EventType.MEMBER_BARRED, EventType.MEMBER_UNBARRED])
        .order_by("-occurred_at", "-id").values_list("type", "data").first()
    )
    return latest is not None and latest[0] == EventType.MEMBER_BARRED and latest[1].get("strike") == strike.source_id


# -- announcements --------------------------------------------------------------------------------

def announcement_create(
    *, workspace: Workspace, text: str, group: Group | None = None, channel: str = "", at: datetime | None = None,
    repeat: str = Repeat.NONE, every_hours: int | None = None, created_by: str = "", now: datetime | None = None,
) -> Announcement:
    """Schedule an announcement for one group, or every active group of `channel`; at=None posts it now.

    Posting now goes through the same path as the periodic task, in this transaction.
    """
    now = now or timezone.now()
    first = at or now
    announcement = Announcement(
        workspace=workspace, group=group, channel=group.channel if group else channel, text=text, repeat=repeat,
        every_hours=every_hours if repeat == Repeat.HOURS else None, next_at=first, created_by=created_by,
    )
    announcement.full_clean(exclude=["workspace", "group"])
    with transaction.atomic():
        announcement.save()
        if first <= now:
            announcement_fire(announcement=announcement, now=now)
    announcement.refresh_from_db()
    return announcement


def announcement_targets(*, announcement: Announcement) -> list[Group]:
    if announcement.group_id:
        group = announcement.group
        return [group] if group is not None and group.status == GroupStatus.ACTIVE else []
    return list(Group.objects.filter(workspace=announcement.workspace, channel=announcement.channel, status=GroupStatus.ACTIVE))


def _announce(*, announcement: Announcement, occurrence: datetime, now: datetime) -> list[OutboxMessage]:
    """Queue set_announcement for each target group, due now or at the end of its quiet hours."""
    workspace = announcement.workspace
    targets = announcement_targets(announcement=announcement)
    moment = occurrence.astimezone(UTC).isoformat()  # the same key whichever zone the datetime came in
    key = own_id("announce", announcement.pk, moment)
    messages = []
    for group in targets:
        settings = bot_settings_get(workspace=workspace, group=group)
        messages.append(outbox_enqueue(
            workspace=workspace, channel=group.channel, kind=SET_ANNOUNCEMENT, target=group.external_id,
            payload={"text": announcement.text},
            idempotency_key=key if announcement.group_id else own_id("announce", announcement.pk, moment, group.pk),
            due_at=rules.quiet_hours_defer(bot_settings=settings, due_at=now, tz=workspace.tz),
        ))
    return messages


def next_occurrence(*, announcement: Announcement, after: datetime, tz: tzinfo) -> datetime | None:
    """The first occurrence of a repeating announcement later than `after` (None if it does not repeat).

    Daily and weekly keep the local wall-clock time; every N hours is absolute. Occurrences missed
    while no worker ran are skipped, not posted in a burst.
    """
    at = announcement.next_at
    if at is None:  # stopped: no schedule left
        return None
    if announcement.repeat == Repeat.HOURS:
        step = timedelta(hours=announcement.every_hours or 1)
        missed = max(0, int((after - at) / step))
        at += step * missed
        while at <= after:
            at += step
        return at
    if announcement.repeat in (Repeat.DAILY, Repeat.WEEKLY):
        period = 1 if announcement.repeat == Repeat.DAILY else 7
        local = at.astimezone(tz)
        day = local.date()
        behind = (after.astimezone(tz).date() - day).days
        if behind > 0:
            day += timedelta(days=behind - behind % period)
        while True:
            candidate = datetime.combine(day, local.time(), tzinfo=tz)
            if candidate > after:
                return candidate
            day += timedelta(days=period)
    return None


def announcement_fire(*, announcement: Announcement, now: datetime | None = None) -> list[OutboxMessage]:
    """Post one due occurrence and advance the schedule, or do nothing if another worker already did.

    The schedule moves with a conditional update on next_at (the claim), in the same transaction as
    the outbox messages, whose idempotency keys name the occurrence: a crash or a second worker can
    neither lose nor repeat a post. A one-off announcement is deactivated after it is posted.
    """
    now = now or timezone.now()
    occurrence = announcement.next_at
    if occurrence is None:  # stopped: nothing is due
        return []
    following = next_occurrence(announcement=announcement, after=now, tz=announcement.workspace.tz)
    with transaction.atomic():
        claimed = Announcement.objects.filter(pk=announcement.pk, active=True, next_at=occurrence).update(
            next_at=following, active=following is not None, last_posted_at=now,
        )
        if not claimed:
            return []
        return _announce(announcement=announcement, occurrence=occurrence, now=now)


def announcements_post_due(*, now: datetime | None = None) -> int:
    """Post every announcement whose time has come (the periodic task). Returns how many were posted."""
    now = now or timezone.now()
    posted = 0
    due = Announcement.objects.filter(active=True, next_at__lte=now).select_related("workspace", "group").order_by("next_at")
    for announcement in due:
        if announcement_fire(announcement=announcement, now=now):
            posted += 1
    return posted


def announcement_post_now(*, announcement: Announcement, now: datetime | None = None) -> list[OutboxMessage]:
    """Post an announcement right away (the console's "post now"), keeping its schedule.

    The occurrence is this second: a double click posts once. A one-off announcement is done after it.
    """
    now = (now or timezone.now()).replace(microsecond=0)
    with transaction.atomic():
        messages = _announce(announcement=announcement, occurrence=now, now=now)
        changes: dict[str, Any] = {"last_posted_at": now}
        if announcement.repeat == Repeat.NONE:
            changes.update(active=False, next_at=None)
        Announcement.objects.filter(pk=announcement.pk).update(**changes)
    return messages


def announcement_stop(*, announcement: Announcement) -> bool:
    """Stop a scheduled announcement (it stays in the list, inactive)."""
    return bool(Announcement.objects.filter(pk=announcement.pk, active=True).update(active=False))


def group_staff_set(
    *, groups: Iterable[Group], staff: User | None, by: User | None = None, handover: Any = None,
    data: dict[str, Any] | None = None,
) -> int:
    """Put a staff member (with a role in the groups' workspace) in charge of `groups`, or nobody (None).

    The one write path of Group.staff: one group.staff_changed event per group that changes (source
    "siyu"; data staff, previous, by, via ("handover" or "manual"), handover and any extra `data`), projected by GroupStaffProjection, and one AuditEntry
    "group_staff" per group, in one transaction. Groups already in `staff`'s charge are skipped. A
    handover (groups.handover) moves a leaving colleague's groups through here. Returns how many changed.
    """
    groups = list(groups)
    staff_id = staff.pk if staff else None
    changing = [group for group in groups if group.staff_id != staff_id]
    if not changing:
        return 0
    workspace_id = changing[0].workspace_id
    if any(group.workspace_id != workspace_id for group in changing):
        raise ValidationError(_("The groups belong to different workspaces."))
    if staff is not None and not StaffRole.objects.filter(workspace_id=workspace_id, user=staff).exists():
        raise ValidationError({"staff": [_("%(user)s has no role in this workspace.") % {"user": staff.get_username()}]})
    kind, key, now = EventType.GROUP_STAFF_CHANGED, uuid.uuid4().hex, timezone.now()
    handover_id = getattr(handover, "pk", handover)
    events = [
        {"type": kind.key, "source_id": f"{kind.key}:{key}:{n}", "occurred_at": now,
         "group": {"id": group.external_id, "channel": group.channel},
         "data": {**(data or {}), "staff": staff_id, "previous": group.staff_id, "by": getattr(by, "pk", None),
                  "via": "manual" if handover_id is None else "handover", "handover": handover_id}}
        for n, group in enumerate(changing)
    ]
    with transaction.atomic():
        events_ingest(workspace=changing[0].workspace, source=OWN_SOURCE, events=events)
        for group in changing:
            audit = {"previous": group.staff_id, "staff": staff_id}
            AuditEntry.objects.create(
                workspace_id=workspace_id, user=by, action="group_staff", subject=f"group:{group.pk}",
                data=audit if handover_id is None else {**audit, "handover": handover_id},
            )
            group.staff = staff
    return len(changing)
