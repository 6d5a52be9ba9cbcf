"""Huey tasks of the links app: spooled clicks are flushed into the ledger every few seconds.

Huey's crontab has a one-minute resolution, so the periodic task flushes and then schedules
FLUSHES_PER_MINUTE - 1 more flushes spread over the minute. Overlapping flushes are safe (see links.spool).
"""
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from .spool import links_spool_flush

FLUSH_EVERY_SECONDS = 5
FLUSHES_PER_MINUTE = 60 // FLUSH_EVERY_SECONDS


@db_task()
def flush_clicks() -> None:
    links_spool_flush()


@db_periodic_task(crontab(minute="*"))
def flush_clicks_every_minute() -> None:
    links_spool_flush()
    for n in range(1, FLUSHES_PER_MINUTE):
        flush_clicks.schedule(delay=n * FLUSH_EVERY_SECONDS)
