import logging

from siyu.core.outbox import outbox_claim, outbox_record_result, worker_name

from .base import AdapterError, UnknownChannel
from .registry import adapter_get

log = logging.getLogger(__name__)


def outbox_drain(*, limit=50, worker=None, rounds=20):
    """Send due outbox messages through their channels until none is due (or `rounds` claims).

    Each message is claimed before sending and its outcome recorded after; a worker that dies in
    between leaves a claim that expires, and the next worker sends it (adapters pass the idempotency
    key to the platform, so the platform sees one send). Returns counts per outcome.
    """
    worker = worker or worker_name()
    counts = {"sent": 0, "retry": 0, "failed": 0, "lost": 0}
    for _ in range(rounds):
        messages = outbox_claim(limit=limit, worker=worker)
        if not messages:
            break
        for message in messages:
            try:
                adapter_get(message.channel).send(message=message)
            except UnknownChannel as exc:
                outcome = outbox_record_result(message=message, error=exc, permanent=True)
            except AdapterError as exc:
                outcome = outbox_record_result(
                    message=message, error=exc, permanent=exc.permanent, retry_after=exc.retry_after
                )
            else:
                outcome = outbox_record_result(message=message)
            counts[outcome or "lost"] += 1
    if any(counts.values()):
        log.info("outbox drained by %s: %s", worker, counts)
    return counts
