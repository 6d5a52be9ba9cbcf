"""Huey tasks of the group bot."""
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from .services import announcements_post_due


@db_periodic_task(crontab(minute="*"))
def post_due_announcements() -> int:
    # Each announcement is claimed by a conditional update, so overlapping runs post once.
    return announcements_post_due()
