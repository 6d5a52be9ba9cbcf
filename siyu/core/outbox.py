"""The outbox: side effects queued durably and claimed by one worker at a time.

Writers call `outbox_enqueue` inside their own transaction. Workers call `outbox_claim` and then
`outbox_record_result` with what the channel said. The task that drives adapters lives in
`siyu.channels.tasks` (core knows no channel).
"""
import os
import socket
from datetime import timedelta

import django.dispatch
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from .events import EventType
from .ingest import events_ingest
from .models import OutboxMessage, OutboxStatus

# Sent after commit when a message is queued, so a worker can be woken.
outbox_enqueued = django.dispatch.Signal()

OUTCOME_SOURCE = "siyu"
CLAIM_ROUNDS = 5


def worker_name():
    return f"{socket.gethostname()}:{os.getpid()}"


def outbox_enqueue(*, workspace, channel, kind, target, payload, idempotency_key, due_at=None):
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
        transaction.on_commit(lambda: outbox_enqueued.send(sender=OutboxMessage, message_id=message.pk))
    return message


def outbox_update_pending(*, message_id, payload, due_at=None):
    """Change a message that no worker has claimed yet (e.g. add a newcomer to a queued welcome).

    True if it was still queued and now carries the new payload; False if a worker already claimed or
    sent it, so the caller must queue a new message instead. Atomic: a claim and this update never both win.
    """
    changes = {"payload": payload}
    if due_at is not None:
        changes["due_at"] = due_at
    return bool(OutboxMessage.objects.filter(pk=message_id, status=OutboxStatus.PENDING).update(**changes))


def _claimable(now):
    # Due and queued, or claimed by a worker whose lease ran out (it died or hung).
    return Q(status=OutboxStatus.PENDING, due_at__lte=now) | Q(status=OutboxStatus.CLAIMED, claimed_until__lt=now)


def outbox_claim(*, limit=50, worker=None, now=None):
    """Claim up to `limit` due messages for this worker and return them.

    PostgreSQL: rows are locked with FOR UPDATE SKIP LOCKED, so concurrent workers take disjoint sets.
    SQLite: each row is taken with a conditional update; 0 rows updated means another worker won it.
    A claim lasts SIYU_OUTBOX_LEASE_SECONDS; a worker that dies loses its claim when the lease ends.
    """
    now = now or timezone.now()
    worker = worker or worker_name()
    until = now + timedelta(seconds=settings.SIYU_OUTBOX_LEASE_SECONDS)
    claimed_ids = []
    if connection.vendor == "postgresql":
        with transaction.atomic():
            ids = list(
                OutboxMessage.objects.select_for_update(skip_locked=True)
                .filter(_claimable(now))
                .order_by("due_at", "id")
                .values_list("id", flat=True)[:limit]
            )
            OutboxMessage.objects.filter(id__in=ids).update(
                status=OutboxStatus.CLAIMED, claimed_by=worker, claimed_until=until, attempts=F("attempts") + 1
            )
            claimed_ids = ids
    else:
        # Workers reading at the same moment see the same first rows; whoever loses a row tries the
        # next one, and a worker that lost every race reads again rather than concluding none is due.
        for _ in range(CLAIM_ROUNDS):
            candidates = list(
                OutboxMessage.objects.filter(_claimable(now)).order_by("due_at", "id")
                .values_list("id", "status", "claimed_until")[: limit * 2]
            )
            for message_id, status, claimed_until in candidates:
                won = OutboxMessage.objects.filter(id=message_id, status=status, claimed_until=claimed_until).update(
                    status=OutboxStatus.CLAIMED, claimed_by=worker, claimed_until=until, attempts=F("attempts") + 1
                )
                if won:
                    claimed_ids.append(message_id)
                    if len(claimed_ids) == limit:
                        break
            if claimed_ids or not candidates:
                break
    return list(OutboxMessage.objects.filter(id__in=claimed_ids, claimed_by=worker).order_by("due_at", "id"))


def outbox_claim_renew(*, message, now=None):
    """Extend this worker's claim on a message before acting on it; False if the claim was lost.

    A worker renews each message right before sending, so a long batch never sends a message whose
    lease ran out while it was waiting its turn.
    """
    now = now or timezone.now()
    until = now + timedelta(seconds=settings.SIYU_OUTBOX_LEASE_SECONDS)
    renewed = OutboxMessage.objects.filter(
        pk=message.pk, status=OutboxStatus.CLAIMED, claimed_by=message.claimed_by, claimed_until__gte=now
    ).update(claimed_until=until)
    return bool(renewed)


def outbox_record_result(*, message, error=None, permanent=False, retry_after=None, now=None):
    """Record what the channel said about a claimed message, and the outcome as an event.

    Success marks it sent. A temporary error puts it back in the queue after a back-off (or the
    channel's retry-after); a permanent error, or running out of attempts, marks it failed.
    Only the worker that still holds the claim may record. Returns the outcome ("sent", "retry" or
    "failed"), or None if the claim was lost to another worker; on "retry", `message.due_at` is the
    new due time.
    """
    now = now or timezone.now()
    backoff = settings.SIYU_OUTBOX_BACKOFF_SECONDS
    with transaction.atomic():
        owned = OutboxMessage.objects.filter(pk=message.pk, status=OutboxStatus.CLAIMED, claimed_by=message.claimed_by)
        if error is None:
            changes = {"status": OutboxStatus.SENT, "sent_at": now, "last_error": ""}
            outcome, event_type = "sent", EventType.OUTBOX_SENT
        elif permanent or message.attempts >= settings.SIYU_OUTBOX_MAX_ATTEMPTS:
            changes = {"status": OutboxStatus.FAILED, "last_error": str(error)[:2000]}
            outcome, event_type = "failed", EventType.OUTBOX_FAILED
        else:
            wait = retry_after if retry_after is not None else backoff[min(message.attempts, len(backoff)) - 1]
            message.due_at = now + timedelta(seconds=wait)
            changes = {"status": OutboxStatus.PENDING, "due_at": message.due_at, "last_error": str(error)[:2000]}
            outcome, event_type = "retry", EventType.OUTBOX_RETRY
        if not owned.update(claimed_until=None, **changes):
            return None
        events_ingest(
            workspace=message.workspace,
            source=OUTCOME_SOURCE,
            events=[
                {
                    "type": event_type.key,
                    "source_id": f"outbox:{message.pk}:{message.attempts}:{outcome}",
                    "occurred_at": now,
                    "data": {
                        "outbox_id": message.pk, "kind": message.kind, "channel": message.channel,
                        "target": message.target, "attempt": message.attempts, "error": str(error or "")[:500],
                    },
                }
            ],
        )
    return outcome

