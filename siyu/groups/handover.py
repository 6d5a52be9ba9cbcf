"""Handover (离职继承): a leaving colleague's members and groups go to another staff member, in one step.

    handover_run(workspace=w, from_user=leaving, to_user=taking_over, by=admin)
    handover_run(..., filter={"segment": 4})   # or {"tag": 7} or {"groups": [3, 5]}

The members move through members.owners.member_owner_set (member.owner_changed events naming the
handover), the groups through groups.services.group_staff_set (group.staff_changed events, audited),
with a Handover row and an AuditEntry, in one transaction: all of it happens, or none of it.
"""
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.db import transaction
from django.utils.translation import gettext as _

from siyu.core.models import AuditEntry, StaffRole, Workspace
from siyu.members.models import Handover, Member, MemberTag, Segment, SegmentMember, Tag
from siyu.members.owners import member_owner_set

from .models import Group, Membership
from .services import group_staff_set


def _filter_clean(*, workspace: Workspace, filter: object) -> dict[str, Any]:
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
        ids = sorted({int(g) for g in value or ()})
        if not ids or Group.objects.filter(workspace=workspace, pk__in=ids).count() != len(ids):
            raise ValidationError({"filter": [_("Choose groups of this workspace.")]})
        return {"groups": ids}
    raise ValidationError({"filter": [_("Restrict by one segment, one tag, or some groups.")]})


def _handover_sets(
    *, workspace: Workspace, from_user: User, filter: dict[str, Any], include_groups: bool
) -> "tuple[QuerySet[Member], QuerySet[Group]]":
    """(member queryset, group queryset) a handover with this filter would move."""
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


def _check_people(*, workspace: Workspace, from_user: User | None, to_user: User | None) -> None:
    if from_user is None or to_user is None:
        raise ValidationError({"to_user": [_("Choose who hands over and who takes over.")]})
    if from_user.pk == to_user.pk:
        raise ValidationError({"to_user": [_("A handover needs two different people.")]})
    if not StaffRole.objects.filter(workspace=workspace, user=to_user).exists():
        raise ValidationError({"to_user": [_("%(user)s has no role in this workspace.") % {"user": to_user}]})


def handover_preview(
    *, workspace: Workspace, from_user: User, to_user: User | None = None, filter: object = None,
    include_groups: bool = True,
) -> dict[str, int]:
    """{"members": n, "groups": n}: what handover_run would move now (nothing is written)."""
    if to_user is not None:
        _check_people(workspace=workspace, from_user=from_user, to_user=to_user)
    members, groups = _handover_sets(workspace=workspace, from_user=from_user,
                                     filter=_filter_clean(workspace=workspace, filter=filter), include_groups=include_groups)
    return {"members": members.count(), "groups": groups.count()}


def handover_run(
    *, workspace: Workspace, from_user: User, to_user: User, by: User | None, filter: object = None,
    include_groups: bool = True,
) -> Handover:
    """Hand `from_user`'s members (all, or those in `filter`) and the groups in their charge to `to_user`.

    One transaction: the member.owner_changed and group.staff_changed events (naming the handover), the
    Handover row and an AuditEntry "handover" all commit together or not at all. Refuses the same person twice and a
    `to_user` without a role in the workspace. Returns the Handover.
    """
    _check_people(workspace=workspace, from_user=from_user, to_user=to_user)
    cleaned = _filter_clean(workspace=workspace, filter=filter)
    with transaction.atomic():
        members, groups = _handover_sets(workspace=workspace, from_user=from_user, filter=cleaned,
                                         include_groups=include_groups)
        moving = list(members.select_for_update().order_by("pk"))
        moving_groups = list(groups.select_for_update().order_by("pk"))
        group_ids = [group.pk for group in moving_groups]
        handover = Handover.objects.create(workspace=workspace, from_user=from_user, to_user=to_user, by=by,
                                           filter=cleaned, members=len(moving), groups=len(group_ids))
        member_owner_set(members=moving, owner=to_user, by=by, handover=handover)
        group_staff_set(groups=moving_groups, staff=to_user, by=by, handover=handover)
        AuditEntry.objects.create(
            workspace=workspace, user=by, action="handover", subject=f"handover:{handover.pk}",
            data={"from": from_user.pk, "to": to_user.pk, "filter": cleaned, "members": len(moving),
                  "groups": len(group_ids), "group_ids": group_ids},
        )
    return handover


def handover_list(*, workspace: Workspace, limit: int = 50) -> list[Handover]:
    """The workspace's handovers, newest first."""
    return list(Handover.objects.filter(workspace=workspace).select_related("from_user", "to_user", "by")
                .order_by("-at", "-pk")[:limit])
