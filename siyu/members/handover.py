"""Ownership (跟进人) and handover (离职继承).

    member_owner_set(members=[m], owner=user, by=admin)
    handover_run(workspace=w, from_user=leaving, to_user=taking_over, by=admin)
    handover_run(..., filter={"segment": 4})   # or {"tag": 7} or {"groups": [3, 5]}

A member's owner changes only through member.owner_changed events (source "siyu", actor the member
itself): the ledger keeps who owned whom when, and MemberOwnerProjection keeps Member.owner current.
A handover moves the members and the groups' duties (Group.staff) in one transaction, with a Handover
row and an AuditEntry: all of it happens, or none of it.
"""
import uuid

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.core.db import chunked, update_by_field_set
from siyu.core.events import EventType
from siyu.core.ingest import events_ingest
from siyu.core.models import AuditEntry, StaffRole
from siyu.core.projections import Projection

from .models import Handover, Member, MemberTag, Segment, SegmentMember, Tag
from .projections import MEMBER_REF, OWN_SOURCE

CHUNK = 5_000


class MemberOwnerProjection(Projection):
    """member.owner_changed → Member.owner (the last event per member wins).

    `reset` keeps the owners, as for profile fields: a rebuild replays the events over them.
    """

    name = "member_owner"

    def validate(self, batch):
        users = {}
        for event in batch.of_type(EventType.MEMBER_OWNER_CHANGED):
            owner = event.data.get("owner")
            if owner is not None and (not isinstance(owner, int) or isinstance(owner, bool)):
                yield event.index, "data.owner", _("must be a user id or null")
            elif owner is not None:
                users.setdefault(owner, event.index)
        if users:
            known = set(get_user_model().objects.filter(pk__in=users).values_list("pk", flat=True))
            for owner, index in users.items():
                if owner not in known:
                    yield index, "data.owner", _("no user %(id)s") % {"id": owner}

    def apply(self, batch):
        latest = {}
        for event in batch.of_type(EventType.MEMBER_OWNER_CHANGED):  # occurrence order: the last one wins
            if event.member_id:
                latest[event.member_id] = {"owner": event.data.get("owner")}
        update_by_field_set(Member, latest)

    def reset(self, *, workspace):
        return None


def _has_role(workspace, user):
    return StaffRole.objects.filter(workspace=workspace, user=user).exists()


def _owner_events(*, workspace, rows, owner_id, by_id, handover_id, at):
    """Ingest one member.owner_changed per (member id, previous owner id) in `rows`."""
    key = uuid.uuid4().hex
    kind = EventType.MEMBER_OWNER_CHANGED
    events = [
        {
            "type": kind.key,
            "source_id": f"{kind.key}:{key}:{n}",
            "occurred_at": at,
            "actor": {"id": str(member_id), "channel": MEMBER_REF},
            "data": {"owner": owner_id, "previous": previous, "handover": handover_id, "by": by_id},
        }
        for n, (member_id, previous) in enumerate(rows)
    ]
    for chunk in chunked(events, CHUNK):
        events_ingest(workspace=workspace, source=OWN_SOURCE, events=chunk)
    return len(events)


def member_owner_set(*, members, owner, by, handover=None):
    """Make `owner` (a staff member of the workspace, or None for nobody) the owner of `members` (Member
    rows of one workspace). Members already owned by `owner` are skipped. One transaction; returns how
    many changed."""
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
            handover_id=getattr(handover, "pk", handover), at=timezone.now(),
        )
    for m in members:
        m.owner_id = owner_id
    return changed


def _filter_clean(*, workspace, filter):
    """{} (all), {"segment": id}, {"tag": id} or {"groups": [ids]}; ValidationError naming what is wrong."""
    if not filter:
        return {}
    if not isinstance(filter, dict) or len(filter) != 1:
        raise ValidationError({"filter": [_("Restrict by one segment, one tag, or some groups.")]})
    (kind, value), = filter.items()
    if kind == "segment":
        if not Segment.objects.filter(workspace=workspace, pk=value, archived_at__isnull=True).exists():
            raise ValidationError({"filter": [_("No segment %(id)s in this workspace.") % {"id": value}]})
        return {"segment": int(value)}
    if kind == "tag":
        if not Tag.objects.filter(workspace=workspace, pk=value, deleted_at__isnull=True).exists():
            raise ValidationError({"filter": [_("No tag %(id)s in this workspace.") % {"id": value}]})
        return {"tag": int(value)}
    if kind == "groups":
        from siyu.groups.models import Group

        ids = sorted({int(g) for g in value or ()})
        if not ids or Group.objects.filter(workspace=workspace, pk__in=ids).count() != len(ids):
            raise ValidationError({"filter": [_("Choose groups of this workspace.")]})
        return {"groups": ids}
    raise ValidationError({"filter": [_("Restrict by one segment, one tag, or some groups.")]})


def _handover_sets(*, workspace, from_user, filter, include_groups):
    """(member queryset, group queryset) a handover with this filter would move."""
    from siyu.groups.models import Group, Membership

    members = Member.objects.filter(workspace=workspace, owner=from_user, merged_into__isnull=True)
    groups = Group.objects.filter(workspace=workspace, staff=from_user)
    if "segment" in filter:
        members = members.filter(pk__in=SegmentMember.objects.filter(segment_id=filter["segment"]).values("member_id"))
    elif "tag" in filter:
        members = members.filter(pk__in=MemberTag.objects.filter(tag_id=filter["tag"]).values("member_id"))
    elif "groups" in filter:
        members = members.filter(pk__in=Membership.objects.filter(
            group_id__in=filter["groups"], left_at__isnull=True).values("member_id"))
        groups = groups.filter(pk__in=filter["groups"])
    if not include_groups:
        groups = groups.none()
    return members, groups


def _check_people(*, workspace, from_user, to_user):
    if from_user is None or to_user is None:
        raise ValidationError({"to_user": [_("Choose who hands over and who takes over.")]})
    if from_user.pk == to_user.pk:
        raise ValidationError({"to_user": [_("A handover needs two different people.")]})
    if not _has_role(workspace, to_user):
        raise ValidationError({"to_user": [_("%(user)s has no role in this workspace.") % {"user": to_user}]})


def handover_preview(*, workspace, from_user, to_user=None, filter=None, include_groups=True):
    """{"members": n, "groups": n}: what handover_run would move now (nothing is written)."""
    if to_user is not None:
        _check_people(workspace=workspace, from_user=from_user, to_user=to_user)
    members, groups = _handover_sets(workspace=workspace, from_user=from_user,
                                     filter=_filter_clean(workspace=workspace, filter=filter), include_groups=include_groups)
    return {"members": members.count(), "groups": groups.count()}


def handover_run(*, workspace, from_user, to_user, by, filter=None, include_groups=True):
    """Hand `from_user`'s members (all, or those in `filter`) and the groups in their charge to `to_user`.

    One transaction: the member.owner_changed events (naming the handover), Group.staff, the Handover row
    and an AuditEntry "handover" all commit together or not at all. Refuses the same person twice and a
    `to_user` without a role in the workspace. Returns the Handover.
    """
    _check_people(workspace=workspace, from_user=from_user, to_user=to_user)
    filter = _filter_clean(workspace=workspace, filter=filter)
    with transaction.atomic():
        members, groups = _handover_sets(workspace=workspace, from_user=from_user, filter=filter,
                                         include_groups=include_groups)
        rows = list(members.select_for_update().order_by("pk").values_list("pk", "owner_id"))
        group_ids = list(groups.select_for_update().order_by("pk").values_list("pk", flat=True))
        handover = Handover.objects.create(workspace=workspace, from_user=from_user, to_user=to_user, by=by,
                                           filter=filter, members=len(rows), groups=len(group_ids))
        _owner_events(workspace=workspace, rows=rows, owner_id=to_user.pk, by_id=getattr(by, "pk", None),
                      handover_id=handover.pk, at=timezone.now())
        from siyu.groups.models import Group

        for ids in chunked(group_ids, 900):
            Group.objects.filter(pk__in=ids).update(staff=to_user)
        AuditEntry.objects.create(
            workspace=workspace, user=by, action="handover", subject=f"handover:{handover.pk}",
            data={"from": from_user.pk, "to": to_user.pk, "filter": filter, "members": len(rows),
                  "groups": len(group_ids), "group_ids": group_ids},
        )
    return handover


def handover_list(*, workspace, limit=50):
    """The workspace's handovers, newest first."""
    return list(Handover.objects.filter(workspace=workspace).select_related("from_user", "to_user", "by")
                .order_by("-at", "-pk")[:limit])
