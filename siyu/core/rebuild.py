"""Recompute every projection of a workspace from its ledger."""
from collections.abc import Callable

from django.db import transaction

from . import projections, signals
from .models import Event, Workspace

CHUNK = 5_000


def projections_rebuild(*, workspace: Workspace, progress: Callable[[int], object] | None = None) -> int:
    """Reset every registered projection and replay the ledger in occurrence order, then let the
    apps that follow the ledger (analytics) rebuild from it.

    Transactional: readers see the old state until the rebuilt one commits. Returns the number of
    events replayed. `progress(done)` is called after each chunk.
    """
    done = 0
    with transaction.atomic():
        for projection in projections.registered():
            projection.reset(workspace=workspace)
        rows = (
            Event.objects.filter(workspace=workspace)
            .order_by("occurred_at", "id")
            .values_list("type", "occurred_at", "source_id", "data", "member_id", "group_id")
        )
        chunk = []
        for type_, occurred_at, source_id, data, member_id, group_id in rows.iterator(chunk_size=CHUNK):
            chunk.append(
                projections.PreparedEvent(
                    type=type_, occurred_at=occurred_at, source_id=source_id, data=data,
                    member_id=member_id, group_id=group_id,
                )
            )
            if len(chunk) == CHUNK:
                _apply(workspace, chunk)
                done += len(chunk)
                chunk = []
                if progress:
                    progress(done)
        if chunk:
            _apply(workspace, chunk)
            done += len(chunk)
            if progress:
                progress(done)
        signals.ledger_rebuilt.send(sender=Event, workspace=workspace)
    return done


def _apply(workspace: Workspace, events: list[projections.PreparedEvent]) -> None:
    batch = projections.Batch(workspace=workspace, source="", events=events)
    for projection in projections.registered():
        projection.apply(batch)
