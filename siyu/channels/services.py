import logging
from dataclasses import dataclass, field
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.core.models import OutboxMessage
from siyu.core.outbox import (
    Result,
    outbox_claim,
    outbox_claims_renew,
    outbox_record_results,
    outbox_release,
    rate_slots_take,
    worker_name,
)

from .base import AdapterError, UnknownChannel
from .registry import adapter_get

log = logging.getLogger(__name__)


def drainer_name() -> str:
    """A claim owner name unique to one drain call: threads of one process must not share claims."""
    return f"{worker_name()}:{uuid.uuid4().hex[:8]}"


RetryHook = Callable[[datetime], object]


def outbox_drain(
    *, limit: int = 100, worker: str | None = None, rounds: int = 20, on_retry: RetryHook | None = None
) -> dict[str, int]:
    """Send due outbox messages through their channels until none is due (or `rounds` claims).

    Messages are claimed in batches and sent in queue order; a batch's outcomes are recorded together.
    Before each send the worker renews its claims if half the lease is gone, and takes a slot from the
    adapter's rate limits (per bot, per room); without one, the message goes back to the queue until a
    slot is free, and the messages behind it to the same room wait with it. A platform's "slow down"
    (retry-after) holds the room's queue the same way. A worker that dies leaves claims that expire; the
    next worker sends them again with the same idempotency key, so the platform acts once.
    An exception other than AdapterError (a bug, an unwrapped network error) counts as temporary.
    `on_retry(due_at)` is called for each message put back in the queue. Returns counts per outcome;
    "deferred" counts messages given back to wait for a rate-limit slot.
    """
    worker = worker or drainer_name()
    counts = {"sent": 0, "retry": 0, "failed": 0, "lost": 0, "deferred": 0}
    for _round in range(rounds):
        messages = outbox_claim(limit=limit, worker=worker)
        if not messages:
            break
        _send_batch(messages, counts, on_retry)
    if any(counts.values()):
        log.info("outbox drained by %s: %s", worker, counts)
    return counts


def _send_batch(messages: list[OutboxMessage], counts: dict[str, int], on_retry: RetryHook | None) -> None:
    lease = timedelta(seconds=settings.SIYU_OUTBOX_LEASE_SECONDS)
    results = []
    # (workspace, channel, target) → Blocked: this room's queue waits for the rest of the batch
    blocked: dict[tuple[int, str, str], Blocked] = {}
    lost: set[int] = set()
    for position, message in enumerate(messages):
        lane = (message.workspace_id, message.channel, message.target)
        if lane in blocked:
            blocked[lane].behind.append(message)
            continue
        if message.pk in lost:
            continue
        if message.claimed_until is None or message.claimed_until - timezone.now() < lease / 2:
            still = outbox_claims_renew(messages=messages[position:])
            lost.update(m.pk for m in messages[position:] if m.pk not in still)
            if message.pk in lost:
                continue
        result, wait = _send_one(message)
        if result is None:  # no rate-limit slot: this message is held until one is free
            blocked[lane] = Blocked(due_at=timezone.now() + timedelta(seconds=wait), held=message)
            continue
        results.append(result)
        if result.error is not None and not result.permanent:
            blocked[lane] = Blocked(retried=message)  # due when the retry is recorded
    outcomes = outbox_record_results(results) if results else []
    for result, outcome in zip(results, outcomes):
        counts[outcome or "lost"] += 1
        if outcome == "retry" and on_retry:
            on_retry(result.message.due_at)
    counts["lost"] += len(lost)
    for waiting in blocked.values():
        due_at = waiting.due_at or (
            waiting.retried.due_at if waiting.retried is not None and waiting.retried.status == "pending" else timezone.now()
        )
        if waiting.held:
            counts["deferred"] += outbox_release(messages=[waiting.held], due_at=due_at, held=True, reason=_("waiting for a free send slot"))
        counts["deferred"] += outbox_release(messages=waiting.behind, due_at=due_at, held=False)
        if on_retry and (waiting.held or waiting.behind):
            on_retry(due_at)


@dataclass(slots=True)
class Blocked:
    due_at: datetime | None = None
    held: OutboxMessage | None = None  # the message our own rate limit refused
    retried: OutboxMessage | None = None  # the message the platform refused for now
    behind: list[OutboxMessage] = field(default_factory=list)  # claimed messages to the same target, queued after it


def _send_one(message: OutboxMessage) -> tuple[Result, float] | tuple[None, float]:
    """(Result, 0) after trying the send, or (None, seconds) when no rate-limit slot is free yet."""
    try:
        adapter = adapter_get(message.channel)
    except UnknownChannel as exc:
        return Result(message, exc, permanent=True), 0
    try:
        wait = rate_slots_take(adapter.rate_limits(message=message))
        if wait > 0:
            return None, wait
        value = adapter.send(message=message)
    except AdapterError as exc:
        return Result(message, exc, permanent=exc.permanent, retry_after=exc.retry_after), 0
    except Exception as exc:
        log.exception("outbox message %s: unexpected error from the %s adapter", message.pk, message.channel)
        return Result(message, f"{type(exc).__name__}: {exc}"), 0
    return Result(message, value=value), 0
