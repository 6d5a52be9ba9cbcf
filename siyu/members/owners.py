"""Ownership (跟进人): which staff member follows up a member.

    member_owner_set(members=[m], owner=user, by=admin)

A member's owner changes only through member.owner_changed events (source "siyu", actor the member
itself): the ledger keeps who owned whom when, and MemberOwnerProjection keeps Member.owner current.
A handover (离职继承, groups.handover) moves a leaving colleague's members through member_owner_set.
"""
import uuid
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.core.db import chunked
from siyu.core.events import OWN_SOURCE, EventType, own_member_event
from siyu.core.ingest import events_ingest
from siyu.core.models import StaffRole
from siyu.core.projections import LatestUserProjection

from .models import Member

CHUNK = 5_000


class MemberOwnerProjection(LatestUserProjection):
    """member.owner_changed → Member.owner (the last event per member wins); a rebuild replays them."""

    name = "member_owner"
    model = Member
    event_type = EventType.MEMBER_OWNER_CHANGED
    user_field = "owner"


def _has_role(workspace, user):
    return StaffRole.objects.filter(workspace=workspace, user=user).exists()


def _owner_events(*, workspace, rows, owner_id, by_id, handover_id, at, data):
    """Ingest one member.owner_changed per (member id, previous owner id) in `rows`."""
    key = uuid.uuid4().hex
    kind = EventType.MEMBER_OWNER_CHANGED
    via = "handover" if handover_id is not None else "manual"
    events = [
        own_member_event(kind, member_id=member_id, source_id=f"{kind.key}:{key}:{n}", occurred_at=at,
                         data={**data, "owner": owner_id, "previous": previous, "via": via, "handover": handover_id,
                               "by": by_id})
        for n, (member_id, previous) in enumerate(rows)
    ]
    for chunk in chunked(events, CHUNK):
        events_ingest(workspace=workspace, source=OWN_SOURCE, events=chunk)
    return len(events)


def member_owner_set(
    *, members: Iterable[Member], owner: User | None, by: User | None, handover: Any = None,
    data: dict[str, Any] | None = None,
) -> int:
    """Make `owner` (a staff member of the workspace, or None for nobody) the owner of `members` (Member
    rows of one workspace). Members already owned by `owner` are skipped. One transaction; returns how
    many changed. Each event's data: owner, previous, by (who made the change), via ("handover" with
    `handover` its id, else "manual") and any extra `data` (a handover's handover_kind)."""
    members = list(members)
    if not members:
        return 0
    workspace = members[0].workspace
    if any(m.workspace_id != workspace.pk for m in members):
        raise ValidationError(_("The members belong to different workspaces."))
    if owner is not None and not _has_role(workspace, owner):
        raise ValidationError({"owner": [_("%(user)s has no role in this workspace.") % {"user": owner}]})
    owner_id = getattr(owner, "pk", None)
    rows = [(m.pk, m.owner_id) for m in members if m.owner_id != owner_id]
    with transaction.atomic():
        changed = _owner_events(
            workspace=workspace, rows=rows, owner_id=owner_id, by_id=getattr(by, "pk", None),
            handover_id=getattr(handover, "pk", handover), at=timezone.now(), data=data or {},
        )
    for m in members:
        m.owner_id = owner_id
    return changed
