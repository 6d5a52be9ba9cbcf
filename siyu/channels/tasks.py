"""Huey tasks that carry the outbox to the channels."""
import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from .services import outbox_drain

log = logging.getLogger(__name__)


@db_task()
def drain_outbox_task():
    return outbox_drain()


@db_periodic_task(crontab(minute="*"))
def drain_outbox_periodically():
    # Catches messages due later (scheduled sends, back-off retries) and expired claims.
    return outbox_drain()


def wake_drainer(sender, message_id, **kwargs):
    drain_outbox_task()
