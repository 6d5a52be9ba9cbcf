import logging
import uuid

from siyu.core.outbox import outbox_claim, outbox_claim_renew, outbox_record_result, worker_name

from .base import AdapterError, UnknownChannel
from .registry import adapter_get

log = logging.getLogger(__name__)


def drainer_name():
    """A claim owner name unique to one drain call: threads of one process must not share claims."""
    return f"{worker_name()}:{uuid.uuid4().hex[:8]}"


def outbox_drain(*, limit=50, worker=None, rounds=20, on_retry=None):
    """Send due outbox messages through their channels until none is due (or `rounds` claims).

    Each message is claimed before sending, its claim renewed right before the send, and its outcome
    recorded after; a worker that dies in between leaves a claim that expires, and the next worker
    sends it (adapters pass the idempotency key to the platform, so the platform sees one send).
    An exception other than AdapterError (a bug, an unwrapped network error) counts as temporary.
    `on_retry(due_at)` is called for each message put back in the queue. Returns counts per outcome.
    """
    worker = worker or drainer_name()
    counts = {"sent": 0, "retry": 0, "failed": 0, "lost": 0}
    for _ in range(rounds):
        messages = outbox_claim(limit=limit, worker=worker)
        if not messages:
            break
        for message in messages:
            outcome = _send_one(message) if outbox_claim_renew(message=message) else None
            counts[outcome or "lost"] += 1
            if outcome == "retry" and on_retry:
                on_retry(message.due_at)
    if any(counts.values()):
        log.info("outbox drained by %s: %s", worker, counts)
    return counts


def _send_one(message):
    try:
        adapter_get(message.channel).send(message=message)
    except UnknownChannel as exc:
        return outbox_record_result(message=message, error=exc, permanent=True)
    except AdapterError as exc:
        return outbox_record_result(message=message, error=exc, permanent=exc.permanent, retry_after=exc.retry_after)
    except Exception as exc:
        log.exception("outbox message %s: unexpected error from the %s adapter", message.pk, message.channel)
        return outbox_record_result(message=message, error=f"{type(exc).__name__}: {exc}", permanent=False)
    return outbox_record_result(message=message)
