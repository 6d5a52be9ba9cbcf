"""Huey tasks of the members app: large imports run here, not in the web request."""
from django.utils import translation
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from .imports import import_options, import_run
from .models import MemberImport
from .segments import live_recount_due


@db_task()
def member_import_run(import_id: int, commit: bool) -> None:
    """Dry-run or commit one MemberImport (the console queues files of more than INLINE_ROWS rows)."""
    member_import = MemberImport.objects.select_related("workspace").get(pk=import_id)
    with translation.override(import_options(member_import).get("language") or None):
        import_run(member_import=member_import, commit=commit)


@db_periodic_task(crontab(minute="7"))
def live_recount_hourly() -> None:
    """Segments and tag rules with time windows, last-seen or tier conditions: recounted every hour."""
    live_recount_due()
