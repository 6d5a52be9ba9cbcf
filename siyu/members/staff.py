"""Staff (员工) among the members: identities that belong to the team, not to the community.

    member_staff_set(member=m, staff=True, by=operator)      # the member page's "Mark as staff"
    member_staff_roles_mark(workspace=ws, promoted={…}, demoted={…})   # groups' role projection, per batch

A member is staff for one of three reasons (`Member.staff_via`): the bot's own account (`bot`), a
group's owner or admin role given by the channel (`group_role`, kept by groups' StaffRoleProjection
in the ingest transaction), or an operator's mark (`operator`). An operator's mark, staff or not staff,
is a member.staff_changed event (the ledger is its audit, the timeline shows it, a rebuild replays
it) and is never changed by a later role or bot mark. Staff are left out of member lists, segments,
tag rules, lead lists, tiers and member figures unless a filter asks for them ({"staff": true}).
"""
import uuid
from collections.abc import Collection, Iterable, Iterator
from typing import Any

from django.contrib.auth.models import User
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.core.db import chunked
from siyu.core.events import OWN_SOURCE, EventType, own_member_event
from siyu.core.ingest import events_ingest
from siyu.core.models import Workspace
from siyu.core.projections import Batch, Projection, Refusal
from siyu.core.roles import OPERATORS, role_check, staff_role_get

from .models import Identity, Member, StaffVia

EVENT_VIAS = (StaffVia.OPERATOR, StaffVia.BOT)  # the reasons a member.staff_changed event may give


class MemberStaffProjection(Projection):
    """member.staff_changed → Member.is_staff and staff_via (the last event per member wins; a bot's mark
    does not change an operator's)."""

    name = "member_staff"

    def validate(self, batch: Batch) -> Iterator[Refusal]:
        for event in batch.of_type(EventType.MEMBER_STAFF_CHANGED):
            if not isinstance(event.data.get("staff"), bool):
                yield event.index, "data.staff", _("must be true or false")
            if event.data.get("via") not in EVENT_VIAS:
                yield event.index, "data.via", _("must be one of %(vias)s") % {"vias": ", ".join(EVENT_VIAS)}

    def apply(self, batch: Batch) -> None:
        events = [e for e in batch.of_type(EventType.MEMBER_STAFF_CHANGED) if e.member_id]
        if not events:
            return
        marked_by_operator = set(
            Member.objects.filter(pk__in={e.member_id for e in events}, staff_via=StaffVia.OPERATOR).values_list("pk", flat=True)
        )
        latest: dict[int, tuple[bool, str]] = {}
        for event in events:  # occurrence order
            member_id = event.member_id
            assert member_id is not None  # filtered above
            if event.data["via"] == StaffVia.OPERATOR:
                marked_by_operator.add(member_id)
            elif member_id in marked_by_operator:
                continue
            latest[member_id] = (event.data["staff"], event.data["via"])
        for (staff, via), ids in _grouped(latest).items():
            for chunk in chunked(ids, 900):
                Member.objects.filter(pk__in=chunk).update(is_staff=staff, staff_via=via)

    def reset(self, *, workspace: Workspace) -> None:
        # Role marks come back from the replayed joins and role changes (groups' StaffRoleProjection).
        Member.objects.filter(workspace=workspace).filter(Q(is_staff=True) | ~Q(staff_via="")).update(
            is_staff=False, staff_via=""
        )


def _grouped(latest: dict[int, tuple[bool, str]]) -> dict[tuple[bool, str], list[int]]:
    out: dict[tuple[bool, str], list[int]] = {}
    for member_id, value in latest.items():
        out.setdefault(value, []).append(member_id)
    return out


def member_staff_roles_mark(*, workspace: Workspace, promoted: Collection[int], demoted: Collection[int],
                            holding: Any) -> None:
    """Mark the `promoted` members (given a group owner or admin role) as staff and unmark the `demoted`
    ones (their role taken back) that hold no such role any more (`holding`: a subquery of the member ids
    that still do). Members an operator or the bot marked are left alone. At most one UPDATE per chunk
    of ids, in the caller's transaction (ingest's)."""
    for chunk in chunked(sorted(promoted), 900):
        Member.objects.filter(pk__in=chunk, is_staff=False, staff_via="").update(is_staff=True, staff_via=StaffVia.GROUP_ROLE)
    for chunk in chunked(sorted(demoted), 900):
        Member.objects.filter(pk__in=chunk, staff_via=StaffVia.GROUP_ROLE).exclude(pk__in=holding(chunk)).update(
            is_staff=False, staff_via=""
        )


def _staff_events(*, workspace: Workspace, member_ids: Iterable[int], staff: bool, via: str, by: User | None) -> int:
    key = uuid.uuid4().hex
    kind = EventType.MEMBER_STAFF_CHANGED
    at = timezone.now()
    events = [
        own_member_event(kind, member_id=member_id, source_id=f"{kind.key}:{key}:{n}", occurred_at=at,
                         data={"staff": staff, "via": via, "by": getattr(by, "pk", None)})
        for n, member_id in enumerate(member_ids)
    ]
    for chunk in chunked(events, 5_000):
        events_ingest(workspace=workspace, source=OWN_SOURCE, events=chunk)
    return len(events)


def member_staff_set(*, member: Member, staff: bool, by: User | None) -> bool:
    """An operator marks `member` as staff (`staff=True`) or as not staff, whatever its roles say, until
    marked again. Owners, admins and operators only (`by` None: the command line). Idempotent: a mark
    the member already has from an operator writes nothing and returns False; else one
    member.staff_changed event (data staff, via "operator", by), and True."""
    if by is not None:
        role_check(staff_role=staff_role_get(workspace_id=member.workspace_id, user=by), roles=OPERATORS,
                   message=_("Only owners, admins and operators can mark staff."))
    if member.staff_via == StaffVia.OPERATOR and member.is_staff == staff:
        return False
    _staff_events(workspace=member.workspace, member_ids=[member.pk], staff=staff, via=StaffVia.OPERATOR, by=by)
    member.is_staff, member.staff_via = staff, StaffVia.OPERATOR
    return True


def member_staff_identities_mark(*, workspace: Workspace, channel: str, external_ids: Collection[str]) -> int:
    """The bot's own accounts on `channel` (`external_ids`) are staff: mark the members holding them that
    are not staff yet and that no operator marked (one member.staff_changed event each, via "bot").
    Idempotent; returns how many were marked."""
    ids = list(
        Member.objects.filter(
            pk__in=Identity.objects.filter(workspace=workspace, channel=channel, external_id__in=list(external_ids))
            .values("member_id"),
            is_staff=False,
        ).exclude(staff_via=StaffVia.OPERATOR).values_list("pk", flat=True)
    )
    return _staff_events(workspace=workspace, member_ids=ids, staff=True, via=StaffVia.BOT, by=None)
