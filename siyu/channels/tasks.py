"""Huey tasks that carry the outbox to the channels."""
from datetime import datetime
from typing import Any

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from .services import outbox_drain

__all__ = ["HUEY", "drain_outbox_task", "drain_outbox_periodically", "wake_drainer"]


def _drain_again_at(due_at: datetime) -> None:
    drain_outbox_task.schedule(eta=due_at)


@db_task()
def drain_outbox_task() -> dict[str, int]:
    return outbox_drain(on_retry=_drain_again_at)


@db_periodic_task(crontab(minute="*"))
def drain_outbox_periodically() -> dict[str, int]:
    # A safety net: catches scheduled sends and claims whose worker died.
    return outbox_drain(on_retry=_drain_again_at)


def wake_drainer(sender: object, message_id: int, due_at: datetime | None = None, **kwargs: Any) -> None:
    """Drain now, or at the message's due time if it is later (a welcome waiting for more newcomers, a
    send held until quiet hours end); the periodic drain stays the safety net."""
    if due_at is not None and due_at > timezone.now():
        drain_outbox_task.schedule(eta=due_at)
    else:
        drain_outbox_task()
