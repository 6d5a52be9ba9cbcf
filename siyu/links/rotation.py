"""Which target of a channel code (活码) is live: the rotation strategies.

    choice = code_target_choose(code=code)        # read-only: which target would the next visit get
    choice = code_visit_route(code=code)          # the same, and records the send (a visit's path)

A target is *open* when it is active, under its daily cap (TargetDay.sends today plus the sends not
yet flushed) and under its capacity: for a target with a group, the group's live member count
(GroupStats.members_now, kept by the membership projection) and the visitors sent to it today; for
one without, the visitors sent so far.

- next_when_full: the first open target in position order;
- round_robin: the open targets in turn, by the code's cursor;
- weighted: an open target drawn with probability weight / sum of weights, from a generator seeded by
  the code's cursor, so a sequence of visits is reproducible.

When no target is open, the code's backup URL (empty: none, and the visitor gets the "full" page).
"""
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from siyu.core.events import EventType
from siyu.core.kinds import CREATE_GROUP, channel_kinds
from siyu.core.models import OutboxMessage, Workspace
from siyu.core.projections import PreparedEvent
from siyu.core.outbox import outbox_enqueue
from siyu.groups.models import Group, GroupStats

from .models import ChannelCode, CodeTarget, Strategy, TargetDay
from .services import code_target_add

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Choice:
    target: CodeTarget | None  # None: the backup (or nothing)
    url: str  # where the visitor goes; "" when every target is full and there is no backup
    all_full: bool


@dataclass(frozen=True, slots=True)
class TargetLoad:
    """A target's figures as rotation sees them (also what the console shows as fill levels)."""

    target: CodeTarget
    used: int  # members now (with a group) or visitors sent (without)
    sends_today: int
    open: bool


def code_targets_load(*, code: ChannelCode, today: date | None = None) -> list[TargetLoad]:
    """Every target of the code in position order with its fill figures. Four queries."""
    today = today or timezone.localtime(timezone.now(), code.workspace.tz).date()
    targets = list(code.targets.all())
    ids = [t.pk for t in targets]
    today_sends = dict(TargetDay.objects.filter(target_id__in=ids, day=today).values_list("target_id", "sends"))
    total_sends = dict(
        TargetDay.objects.filter(target_id__in=ids).values("target_id").annotate(n=Sum("sends")).values_list("target_id", "n")
    )
    members = dict(
        GroupStats.objects.filter(group_id__in=[t.group_id for t in targets if t.group_id]).values_list("group_id", "members_now")
    )
    loads = []
    for target in targets:
        sends_today = today_sends.get(target.pk, 0) + target.pending_sends
        used = members.get(target.group_id, 0) if target.group_id else total_sends.get(target.pk, 0) + target.pending_sends
        # A group's member count lags the visitors sent to it (they join later, or never), so a target
        # with a group is also full once the visitors sent today reach its capacity.
        is_open = (
            target.active and used < target.capacity
            and (target.group_id is None or sends_today < target.capacity)
            and (target.daily_cap is None or sends_today < target.daily_cap)
        )
        loads.append(TargetLoad(target=target, used=used, sends_today=sends_today, open=is_open))
    return loads


def _pick(code: ChannelCode, open_targets: Sequence[CodeTarget], cursor: int) -> CodeTarget | None:
    if code.strategy == Strategy.ROUND_ROBIN:
        return open_targets[cursor % len(open_targets)]
    if code.strategy == Strategy.WEIGHTED:
        weighted = [t for t in open_targets if t.weight > 0]
        if not weighted:
            return None
        point = random.Random(cursor).random() * sum(t.weight for t in weighted)
        for target in weighted:
            point -= target.weight
            if point < 0:
                return target
        return weighted[-1]
    return open_targets[0]


def code_target_choose(*, code: ChannelCode, today: date | None = None, cursor: int | None = None) -> Choice:
    """The target the next visit of `code` goes to, without recording anything."""
    open_targets = [load.target for load in code_targets_load(code=code, today=today) if load.open]
    target = _pick(code, open_targets, code.cursor if cursor is None else cursor) if open_targets else None
    if target is None:
        return Choice(target=None, url=code.backup_url, all_full=True)
    return Choice(target=target, url=target.url, all_full=False)


def code_visit_route(*, code: ChannelCode, today: date | None = None) -> Choice:
    """Choose the target of one visit and record it: the code's cursor moves on (round robin,
    weighted) and the target's unflushed sends go up by one, so caps apply at once.

    Not transactional with the click's spool line (links.redirect writes that first); a crash
    between the two leaves a send counted that the flush never subtracts, at most one per crash.
    """
    cursor = code.cursor
    if code.strategy != Strategy.NEXT_WHEN_FULL:
        # A conditional update claims this cursor value; a concurrent visit that lost takes the next one.
        for _attempt in range(5):
            if ChannelCode.objects.filter(pk=code.pk, cursor=cursor).update(cursor=cursor + 1):
                break
            cursor = ChannelCode.objects.filter(pk=code.pk).values_list("cursor", flat=True).get()
    choice = code_target_choose(code=code, today=today, cursor=cursor)
    if choice.target is not None:
        CodeTarget.objects.filter(pk=choice.target.pk).update(pending_sends=F("pending_sends") + 1)
    elif code.auto_create_group:
        code_group_request(code=code)
    return choice


def code_group_request(*, code: ChannelCode, now: datetime | None = None) -> OutboxMessage | None:
    """Ask the channel of the code's last group for a new group, once until a target is added.

    Queued through the outbox as kind "create_group" (target: the last group's external id; payload:
    name, capacity, kind, code) on channels that can do that kind (core.kinds: Matrix); elsewhere this
    logs and does nothing. When the channel has made the group, code_groups_created adds it as the
    code's next target. Returns the outbox message or None.
    """
    last = code.targets.filter(group__isnull=False).select_related("group").order_by("-position", "-id").first()
    if last is None or last.group is None:
        return None
    kinds = channel_kinds(channel=last.group.channel)
    if kinds is None:
        return None
    if CREATE_GROUP not in kinds:
        log.info("links: channel %s cannot create groups; code %s stays on its backup", last.group.channel, code.pk)
        return None
    now = now or timezone.now()
    with transaction.atomic():
        if not ChannelCode.objects.filter(pk=code.pk, group_requested_at__isnull=True).update(group_requested_at=now):
            return None
        count = code.targets.count()
        return outbox_enqueue(
            workspace=code.workspace, channel=last.group.channel, kind=CREATE_GROUP,
            target=last.group.external_id,
            payload={
                "name": f"{code.name} {count + 1}", "capacity": last.capacity, "kind": last.group.kind, "code": code.pk,
            },
            idempotency_key=f"links:code:{code.pk}:group:{count + 1}",
        )


def code_groups_created(
    sender: object, *, workspace: Workspace, source: str, events: Sequence[PreparedEvent], **kwargs: Any
) -> None:
    """On the outbox's "sent" event of a create_group message: the new group becomes the code's next target.

    Runs inside the ingest transaction that records the send, so the target exists as soon as the send
    is recorded; a target for that group already on the code (a replayed event) is not added twice.
    """
    sent = EventType.OUTBOX_SENT
    for event in events:
        if event.type != sent or event.group_id is None or event.data.get("kind") != CREATE_GROUP:
            continue
        outbox_id = event.data.get("outbox_id")
        message = OutboxMessage.objects.filter(pk=outbox_id, workspace=workspace).first() if outbox_id is not None else None
        payload = message.payload if message is not None and isinstance(message.payload, dict) else {}
        code_id = payload.get("code")
        code = ChannelCode.objects.filter(pk=code_id, workspace=workspace).first() if code_id is not None else None
        if code is None or code.targets.filter(group_id=event.group_id).exists():
            continue
        group = Group.objects.get(pk=event.group_id)
        capacity = payload.get("capacity")
        try:
            code_target_add(
                code=code, url=event.data.get("url", ""), group=group,
                capacity=capacity if isinstance(capacity, int) and capacity > 0 else None,
            )
        except ValidationError as exc:
            log.error("links: group %s made for code %s could not be added: %s", group.pk, code.pk, exc)
