"""The outbox: side effects queued durably and claimed by one worker at a time.

Writers call `outbox_enqueue` inside their own transaction. Workers call `outbox_claim` and then
`outbox_record_results` with what the channel said. The task that drives adapters lives in
`siyu.channels.tasks` (core knows no channel).

Order per target: a room sees the bot's messages in the order they were queued. A message is not
claimed while an earlier one to the same target is being sent by another worker or is held (put back
by the platform's "slow down" or by our own rate limit); messages due later on purpose (a scheduled
announcement, a welcome that waits for more newcomers) do not hold the ones behind them.
"""
import os
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

import django.dispatch
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from .db import value_adapter
from .events import OWN_SOURCE, EventType
from .ingest import events_ingest
from .models import OutboxMessage, OutboxRateBucket, OutboxStatus, Workspace

# Sent after commit when a message is queued (or its due time moved): kwargs message_id, due_at, so a
# worker can be woken now or scheduled for the due time.
outbox_enqueued = django.dispatch.Signal()

CLAIM_LOCK = 0x51A1 << 32  # PostgreSQL advisory lock serialising claims


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def outbox_enqueue(
    *, workspace: Workspace, channel: str, kind: str, target: str, payload: dict[str, Any], idempotency_key: str,
    due_at: datetime | None = None,
) -> OutboxMessage:
    """Queue one side effect. Idempotent on (workspace, idempotency_key): a repeat returns the first row."""
    message, created = OutboxMessage.objects.get_or_create(
        workspace=workspace,
        idempotency_key=idempotency_key,
        defaults={
            "channel": channel, "kind": kind, "target": target, "payload": payload,
            "due_at": due_at or timezone.now(),
        },
    )
    if created:
        _wake_on_commit(message.pk, message.due_at)
    return message


def _wake_on_commit(message_id: int, due_at: datetime) -> None:
    transaction.on_commit(lambda: outbox_enqueued.send(sender=OutboxMessage, message_id=message_id, due_at=due_at))


def outbox_update_pending(*, message_id: int, payload: dict[str, Any], due_at: datetime | None = None) -> bool:
    """Change a message that no worker has claimed yet (e.g. add a newcomer to a queued welcome).

    True if it was still queued and now carries the new payload; False if a worker already claimed or
    sent it, so the caller must queue a new message instead. Atomic: a claim and this update never both win.
    """
    changes: dict[str, Any] = {"payload": payload}
    if due_at is not None:
        changes["due_at"] = due_at
    changed = bool(OutboxMessage.objects.filter(pk=message_id, status=OutboxStatus.PENDING).update(**changes))
    if changed and due_at is not None:
        _wake_on_commit(message_id, due_at)
    return changed


def outbox_claim(*, limit: int = 100, worker: str | None = None, now: datetime | None = None) -> list[OutboxMessage]:
    """Claim up to `limit` due messages for this worker and return them in sending order.

    Due means: queued with due_at reached, or claimed by a worker whose lease ran out (it died or hung).
    A message is skipped while an earlier one to its target is in flight elsewhere or held. Picking
    and claiming happen in one transaction that excludes other claimers (SQLite's write lock, taken at
    BEGIN IMMEDIATE; a transaction-scoped advisory lock on PostgreSQL), so two workers never split one
    room's queue between them. A claim lasts SIYU_OUTBOX_LEASE_SECONDS.
    """
    now = now or timezone.now()
    worker = worker or worker_name()
    until = now + timedelta(seconds=settings.SIYU_OUTBOX_LEASE_SECONDS)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CLAIM_LOCK])
        blockers = _blockers(now)
        fields = ("id", "workspace_id", "channel", "target", "due_at")
        due = OutboxMessage.objects.filter(status=OutboxStatus.PENDING, due_at__lte=now).order_by("due_at", "id")
        expired = OutboxMessage.objects.filter(status=OutboxStatus.CLAIMED, claimed_until__lt=now).order_by("due_at", "id")
        candidates = sorted(
            [*due.values_list(*fields)[: limit * 2], *expired.values_list(*fields)[:limit]], key=lambda c: (c[4], c[0])
        )
        picked = []
        for message_id, workspace_id, channel, target, _due in candidates:
            first_blocker = blockers.get((workspace_id, channel, target))
            if first_blocker is None or message_id <= first_blocker:  # the held message itself may go
                picked.append(message_id)
                if len(picked) == limit:
                    break
        if not picked:
            return []
        OutboxMessage.objects.filter(id__in=picked).update(
            status=OutboxStatus.CLAIMED, claimed_by=worker, claimed_until=until, attempts=F("attempts") + 1, held=False
        )
    return list(OutboxMessage.objects.filter(id__in=picked, claimed_by=worker).order_by("due_at", "id"))


def _blockers(now: datetime) -> dict[tuple[int, str, str], int]:
    """{(workspace, channel, target): the lowest id of a message in flight or held}: the targets whose
    later messages must wait. Few rows: what workers hold right now, and what the platform pushed back."""
    blockers: dict[tuple[int, str, str], int] = {}
    in_flight = OutboxMessage.objects.filter(status=OutboxStatus.CLAIMED, claimed_until__gte=now)
    held = OutboxMessage.objects.filter(held=True, status=OutboxStatus.PENDING)
    for query in (in_flight, held):
        for message_id, workspace_id, channel, target in query.values_list("id", "workspace_id", "channel", "target"):
            lane = (workspace_id, channel, target)
            blockers[lane] = min(message_id, blockers.get(lane, message_id))
    return blockers


def _moment() -> Callable[[Any], Any]:
    return value_adapter(OutboxMessage._meta.get_field("due_at"), connection) or (lambda value: value)


def outbox_claim_renew(*, message: OutboxMessage, now: datetime | None = None) -> bool:
    """Extend this worker's claim on a message before acting on it; False if the claim was lost."""
    return message.pk in outbox_claims_renew(messages=[message], now=now)


def outbox_claims_renew(*, messages: Sequence[OutboxMessage], now: datetime | None = None) -> set[int]:
    """Extend this worker's claims; returns the ids still held. A worker renews before its lease is half
    gone, so it never sends a message whose lease ran out while it was waiting its turn."""
    if not messages:
        return set()
    now = now or timezone.now()
    until = now + timedelta(seconds=settings.SIYU_OUTBOX_LEASE_SECONDS)
    held: set[int] = set()
    by_worker: dict[str, list[int]] = {}
    for message in messages:
        by_worker.setdefault(message.claimed_by, []).append(message.pk)
    for worker, ids in by_worker.items():
        mine = OutboxMessage.objects.filter(
            pk__in=ids, status=OutboxStatus.CLAIMED, claimed_by=worker, claimed_until__gte=now
        )
        held.update(mine.values_list("pk", flat=True))
        mine.update(claimed_until=until)
    for message in messages:
        if message.pk in held:
            message.claimed_until = until
    return held


class Result:
    """What the channel said about one claimed message: nothing (sent), or an error.

    `value` is what a successful send returned, if it was a dict: a created group's reference
    ({"group": {...}, "url": ...}) goes into the "sent" event, so the group exists from then on.
    """

    __slots__ = ("message", "error", "permanent", "retry_after", "value")

    def __init__(
        self, message: OutboxMessage, error: object = None, *, permanent: bool = False, retry_after: float | None = None,
        value: object = None,
    ) -> None:
        self.message, self.error, self.permanent, self.retry_after = message, error, permanent, retry_after
        self.value = value if isinstance(value, dict) else None


def outbox_record_result(
    *, message: OutboxMessage, error: object = None, permanent: bool = False, retry_after: float | None = None,
    now: datetime | None = None,
) -> str | None:
    """Record one message's outcome; see outbox_record_results."""
    return outbox_record_results([Result(message, error, permanent=permanent, retry_after=retry_after)], now=now)[0]


def outbox_record_results(results: Sequence[Result], *, now: datetime | None = None) -> list[str | None]:
    """Record what the channel said about claimed messages, and each outcome as an event, in one transaction.

    Success marks a message sent. A temporary error puts it back in the queue, held, after a back-off or
    the channel's retry-after (a platform's "slow down" is not a failed attempt); a permanent error, or
    running out of attempts, marks it failed. Only the worker that still holds the claim may record.
    Returns each outcome ("sent", "retry", "failed", or None if the claim was lost); on "retry",
    `message.due_at` is the new due time.
    """
    now = now or timezone.now()
    backoff = settings.SIYU_OUTBOX_BACKOFF_SECONDS
    outcomes: list[str | None] = []
    events: dict[int, list[dict[str, Any]]] = {}
    with transaction.atomic():
        sent = [r.message for r in results if r.error is None]
        won = _mark_sent(sent, now)
        for result in results:
            message, error = result.message, result.error
            if error is None:
                outcome = "sent" if message.pk in won else None
            else:
                outcome = _mark_unsent(result, now, backoff)
            outcomes.append(outcome)
            if outcome is None:
                continue
            if outcome == "sent":
                message.status = OutboxStatus.SENT
            event_type = {"sent": EventType.OUTBOX_SENT, "retry": EventType.OUTBOX_RETRY, "failed": EventType.OUTBOX_FAILED}[outcome]
            assert message.claimed_until is not None, "a recorded message was claimed, so it has a lease"
            event = {
                "type": event_type.key,
                # The claim's end time tells two "slow down" retries of one attempt apart.
                "source_id": f"outbox:{message.pk}:{message.attempts}:{outcome}:{message.claimed_until.timestamp():.3f}",
                "occurred_at": now,
                "data": {
                    "outbox_id": message.pk, "kind": message.kind, "channel": message.channel,
                    "target": message.target, "attempt": message.attempts, "error": str(error or "")[:500],
                },
            }
            if outcome == "sent" and result.value:
                _created_group_attach(event, message, result.value)
            events.setdefault(message.workspace_id, []).append(event)
        if events:
            workspaces = {w.pk: w for w in Workspace.objects.filter(pk__in=events)}
            for workspace_id, batch in events.items():
                events_ingest(workspace=workspaces[workspace_id], source=OWN_SOURCE, events=batch)
    return outcomes


def _created_group_attach(event: dict[str, Any], message: OutboxMessage, value: dict[str, Any]) -> None:
    """A send that created a group: its reference (on the message's channel) and join link go into the event."""
    group = value.get("group")
    if isinstance(group, dict) and isinstance(group.get("id"), str) and group["id"]:
        event["group"] = {**group, "channel": message.channel}
        event["data"]["url"] = str(value.get("url") or "")[:500]


def _mark_sent(messages: Sequence[OutboxMessage], now: datetime) -> set[int]:
    """Mark claimed messages sent in one statement; the ids this worker still held."""
    if not messages:
        return set()
    won: set[int] = set()
    by_worker: dict[str, list[int]] = {}
    for message in messages:
        by_worker.setdefault(message.claimed_by, []).append(message.pk)
    for worker, ids in by_worker.items():
        mine = OutboxMessage.objects.filter(pk__in=ids, status=OutboxStatus.CLAIMED, claimed_by=worker)
        won.update(mine.values_list("pk", flat=True))
        mine.update(status=OutboxStatus.SENT, sent_at=now, last_error="", claimed_until=None)
    return won


def _mark_unsent(result: Result, now: datetime, backoff: Sequence[float]) -> str | None:
    message = result.message
    owned = OutboxMessage.objects.filter(pk=message.pk, status=OutboxStatus.CLAIMED, claimed_by=message.claimed_by)
    error = str(result.error)[:2000]
    slow_down = not result.permanent and result.retry_after is not None
    if slow_down:
        message.attempts -= 1  # the platform asked us to wait: not a failed attempt
    changes: dict[str, Any]
    if result.permanent or message.attempts >= settings.SIYU_OUTBOX_MAX_ATTEMPTS:
        changes = {"status": OutboxStatus.FAILED, "last_error": error}
        outcome = "failed"
    else:
        wait = result.retry_after if result.retry_after is not None and slow_down else backoff[min(message.attempts, len(backoff)) - 1]
        message.due_at = now + timedelta(seconds=wait)
        changes = {"status": OutboxStatus.PENDING, "due_at": message.due_at, "last_error": error, "held": True}
        outcome = "retry"
    if not owned.update(claimed_until=None, attempts=message.attempts, **changes):
        return None
    message.status = changes["status"]
    return outcome


def outbox_release(*, messages: Iterable[OutboxMessage], due_at: datetime, held: bool, reason: str = "") -> int:
    """Give claimed messages back without counting an attempt: one our own rate limit refused (`held`,
    so the messages behind it wait), or messages claimed behind a held one. Returns how many went back."""
    released = 0
    for message in messages:
        changes = {"last_error": reason[:2000]} if reason else {}
        released += OutboxMessage.objects.filter(
            pk=message.pk, status=OutboxStatus.CLAIMED, claimed_by=message.claimed_by
        ).update(
            status=OutboxStatus.PENDING, due_at=due_at, claimed_until=None, attempts=max(message.attempts - 1, 0),
            held=held, **changes,
        )
    return released


def outbox_retry(*, message: OutboxMessage) -> bool:
    """Queue a failed message again now, from its first attempt (the console's "retry"). False if it had
    not failed."""
    return bool(
        OutboxMessage.objects.filter(pk=message.pk, status=OutboxStatus.FAILED).update(
            status=OutboxStatus.PENDING, due_at=timezone.now(), attempts=0, held=False, claimed_by="", claimed_until=None
        )
    )


class RateLimit(Protocol):
    """One send budget: `per_second` sends on average, bursts of up to `burst`, shared by all who use `key`."""

    @property
    def key(self) -> str: ...
    @property
    def per_second(self) -> float: ...
    @property
    def burst(self) -> int: ...


def rate_slots_take(limits: Sequence[RateLimit], *, now: datetime | None = None) -> float:
    """Take one send slot from every limit (objects with key, per_second, burst), or none of them.

    Returns 0.0 when the send may go now, else the seconds to wait until every limit has a slot.
    The generic cell rate algorithm: each key keeps a theoretical arrival time (tat); a send is allowed
    while tat is at most (burst - 1) intervals ahead of now, and moves it one interval on. Updates are
    compare-and-set, so concurrent workers share the budget without locks.
    """
    if not limits:
        return 0.0
    for _ in range(5):
        now_s = now.timestamp() if now else time.time()
        buckets = {b.key: b.tat for b in OutboxRateBucket.objects.filter(key__in=[limit.key for limit in limits])}
        wait = 0.0
        plan = []
        for limit in limits:
            interval = 1.0 / limit.per_second
            old = buckets.get(limit.key)
            tat = max(old or 0.0, now_s)
            allowed_at = tat - (max(limit.burst, 1) - 1) * interval
            wait = max(wait, allowed_at - now_s)
            plan.append((limit.key, old, tat + interval))
        if wait > 0:
            return wait
        raced = False
        with transaction.atomic():
            for key, old, new in plan:
                if old is None:
                    _, created = OutboxRateBucket.objects.get_or_create(key=key, defaults={"tat": new})
                    ok = created
                else:
                    ok = bool(OutboxRateBucket.objects.filter(key=key, tat=old).update(tat=new))
                if not ok:
                    raced = True
                    transaction.set_rollback(True)
                    break
        if not raced:
            return 0.0
    return 0.05  # lost every race: let the caller come back in a moment
