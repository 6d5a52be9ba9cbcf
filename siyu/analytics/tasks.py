"""Huey tasks that keep the rollups current: soon after ingest, and every minute as a safety net."""
import time
from typing import Any

from django.db import transaction
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from siyu.core.models import Workspace

from .rollups import rollups_rebuild, rollups_refresh_recorded

# Ingest may commit hundreds of batches a second; one queued refresh per workspace every few seconds
# is enough (the periodic task catches whatever a debounced wake-up missed).
DEBOUNCE_SECONDS = 5.0
_last_wake: dict[int, float] = {}


@db_task()
def refresh_task(workspace_id: int) -> None:
    workspace = Workspace.objects.filter(pk=workspace_id).first()
    if workspace is not None:
        rollups_refresh_recorded(workspace=workspace)


@db_periodic_task(crontab(minute="*"))
def refresh_all_periodically() -> None:
    """Each workspace on its own: a failure is recorded on that workspace's dashboard and the others carry on."""
    for workspace in Workspace.objects.all():
        rollups_refresh_recorded(workspace=workspace)


def refresh_soon(sender: object, workspace: Workspace, **kwargs: Any) -> None:
    now = time.monotonic()
    if now - _last_wake.get(workspace.pk, -DEBOUNCE_SECONDS) >= DEBOUNCE_SECONDS:
        _last_wake[workspace.pk] = now
        workspace_id = workspace.pk
        transaction.on_commit(lambda: refresh_task(workspace_id))


def rebuild_after_ledger(sender: object, workspace: Workspace, **kwargs: Any) -> None:
    rollups_rebuild(workspace=workspace)
