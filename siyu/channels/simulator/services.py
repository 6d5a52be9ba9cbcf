from collections.abc import Callable
from datetime import date

from django.utils import timezone

from siyu.core.models import Workspace

from siyu.core.ingest import events_ingest

from .generator import Community, Plan

BATCH = 5_000


def simulation_plan(*, workspace: Workspace, groups: int, members: int, days: int, seed: int, until: date | None = None) -> Plan:
    """A plan ending at the start of today (workspace time) unless `until` is given."""
    until = until or timezone.now().astimezone(workspace.tz).date()
    return Plan(groups=groups, members=members, days=days, seed=seed, until=until, time_zone=workspace.time_zone)


def simulation_run(*, workspace: Workspace, plan: Plan, progress: Callable[[int, int], object] | None = None) -> tuple[int, int]:
    """Feed a simulated community through the ingest service, a day at a time.

    Idempotent: running the same plan again stores nothing new. `progress(day, stored)` is called
    after each simulated day. Returns (received, stored).
    """
    received = stored = 0
    for day, events in Community(plan).days():
        for start in range(0, len(events), BATCH):
            result = events_ingest(workspace=workspace, source="simulator", events=events[start : start + BATCH])
            received += result.received
            stored += result.stored
        if progress:
            progress(day, stored)
    return received, stored
