"""Handover: a colleague's members, their open leads and groups go to another staff member, in one step.

    handover_run(workspace=w, from_user=leaving, to_user=taking_over, by=admin)            # 离职继承
    handover_run(..., filter={"segment": 4})   # or {"tag": 7}, {"groups": [3, 5]}, {"members": [12, 40]}
    handover_run(..., kind=HandoverKind.ACTIVE, include_groups=False,                  # 在职继承
                 message="您好 {name}，之后由 {staff} 为您服务。", key=form_key)

The members move through members.owners.member_owner_set (member.owner_changed events with data
{"via": "handover", "handover": id, "handover_kind": kind, "by": user id}), the groups through
groups.services.group_staff_set (group.staff_changed events, the same keys), the open leads (new or
contacted) assigned to `from_user` on the moving members go to `to_user` (a leaving colleague's
handover of all their members moves every open lead of theirs), and with a message each member is told
through the outbox (send_private, on a channel that can). A Handover row and an AuditEntry, in one
transaction: all of it happens, or none of it.
"""
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.core.kinds import SEND_PRIVATE, channel_can
from siyu.core.models import AuditEntry, StaffRole, Workspace
from siyu.core.outbox import outbox_enqueue
from siyu.core.roles import ADMINS, role_check, staff_role_get
from siyu.members.leads import OPEN
from siyu.members.models import (
    Handover, HandoverKind, Identity, Lead, Member, MemberTag, Segment, SegmentMember, Tag,
)
from siyu.members.owners import member_owner_set

from .models import Group, Membership
from .rules import render_text
from .services import group_staff_set

MAX_MESSAGE = 1000
MAX_SELECTED = 10_000


def _filter_clean(*, workspace: Workspace, filter: object) -> dict[str, Any]:
    """{} (all), {"segment": id}, {"tag": id}, {"groups": [ids]} or {"members": [member numbers]};
    ValidationError naming what is wrong."""
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
    if kind == "members":
        numbers = sorted({int(n) for n in value or ()})
        if not numbers or len(numbers) > MAX_SELECTED:
            raise ValidationError({"filter": [_("Choose between 1 and %(max)s members.") % {"max": MAX_SELECTED}]})
        known = set(Member.objects.filter(workspace=workspace, number__in=numbers, merged_into__isnull=True)
                    .values_list("number", flat=True))
        unknown = [str(n) for n in numbers if n not in known]
        if unknown:
            raise ValidationError({"filter": [_("No member %(numbers)s in this workspace.")
                                              % {"numbers": ", ".join(unknown[:10])}]})
        return {"members": numbers}
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
    elif "members" in filter:
        members = members.filter(number__in=filter["members"])
    if not include_groups:
        groups = groups.none()
    return members, groups


def _leads(*, workspace: Workspace, from_user: User, members: "QuerySet[Member]", kind: str,
           filter: dict[str, Any]) -> "QuerySet[Lead]":
    """The open leads assigned to `from_user` that move: those on the moving members, or every one of
    theirs when a leaving colleague hands over all their members."""
    leads = Lead.objects.filter(lead_list__workspace=workspace, assigned_to=from_user, status__in=OPEN)
    if kind == HandoverKind.LEAVING and not filter:
        return leads
    return leads.filter(member__in=members.values("pk"))


def _check_people(*, workspace: Workspace, from_user: User | None, to_user: User | None, kind: str) -> None:
    if kind not in HandoverKind.values:
        raise ValidationError({"kind": [_("Choose a leaving colleague's handover or one between active colleagues.")]})
    if from_user is None or to_user is None:
        raise ValidationError({"to_user": [_("Choose who hands over and who takes over.")]})
    if from_user.pk == to_user.pk:
        raise ValidationError({"to_user": [_("A handover needs two different people.")]})
    if not StaffRole.objects.filter(workspace=workspace, user=to_user).exists():
        raise ValidationError({"to_user": [_("%(user)s has no role in this workspace.") % {"user": to_user}]})
    if kind == HandoverKind.ACTIVE and not StaffRole.objects.filter(workspace=workspace, user=from_user).exists():
        raise ValidationError({"from_user": [_("%(user)s has no role in this workspace: a handover between active "
                                               "colleagues needs both in it.") % {"user": from_user}]})


def _message_clean(message: str) -> str:
    message = (message or "").strip()
    if len(message) > MAX_MESSAGE:
        raise ValidationError({"message": [_("The message has at most %(max)s characters.") % {"max": MAX_MESSAGE}]})
    return message


def staff_name(user: User) -> str:
    """How a member reads a colleague's name: the full name, else the username."""
    return user.get_full_name() or user.get_username()


def handover_message_render(*, message: str, member: Member, from_user: User, to_user: User) -> str:
    """The text one member is sent: {name} the member, {staff} who takes over, {previous} who hands over."""
    return render_text(message, {"name": member.display_name, "staff": staff_name(to_user),
                                 "previous": staff_name(from_user)})


def _reachable(members: "QuerySet[Member]") -> dict[int, Identity]:
    """{member id: the identity a private message reaches them on}, for members with a channel that can."""
    reach: dict[int, Identity] = {}
    for identity in Identity.objects.filter(member__in=members.values("pk")).order_by("member_id", "pk"):
        if identity.member_id not in reach and channel_can(channel=identity.channel, kind=SEND_PRIVATE):
            reach[identity.member_id] = identity
    return reach


def handover_preview(
    *, workspace: Workspace, from_user: User, to_user: User | None = None, filter: object = None,
    include_groups: bool = True, kind: str = HandoverKind.LEAVING, message: str = "",
) -> dict[str, Any]:
    """What handover_run would do now (nothing is written): {"members", "groups", "leads"} counts, and with
    a message "told" (members a channel can reach) and "sample" (the text the first of them reads)."""
    if to_user is not None:
        _check_people(workspace=workspace, from_user=from_user, to_user=to_user, kind=kind)
    cleaned = _filter_clean(workspace=workspace, filter=filter)
    message = _message_clean(message)
    members, groups = _handover_sets(workspace=workspace, from_user=from_user, filter=cleaned,
                                     include_groups=include_groups)
    preview: dict[str, Any] = {
        "members": members.count(), "groups": groups.count(),
        "leads": _leads(workspace=workspace, from_user=from_user, members=members, kind=kind, filter=cleaned).count(),
    }
    if message:
        reach = _reachable(members)
        preview["told"] = len(reach)
        first = Member.objects.filter(pk=min(reach)).first() if reach else members.order_by("number").first()
        if first is not None and to_user is not None:
            preview["sample"] = handover_message_render(message=message, member=first, from_user=from_user,
                                                        to_user=to_user)
    return preview


def handover_run(
    *, workspace: Workspace, from_user: User, to_user: User, by: User | None, filter: object = None,
    include_groups: bool = True, kind: str = HandoverKind.LEAVING, message: str = "", key: str = "",
) -> Handover:
    """Hand `from_user`'s members (all, or those in `filter`), their open leads and the groups in their
    charge to `to_user`; with a `message`, tell each member through the outbox where a channel can.

    One transaction: the member.owner_changed and group.staff_changed events (data via "handover",
    handover, handover_kind, by), the leads, the outbox messages, the Handover row and an AuditEntry
    "handover" all commit together or not at all. `by` must be an owner or admin (None: the command line).
    Refuses the same person twice, a `to_user` without a role in the workspace and, between active
    colleagues (kind "active"), a `from_user` without one. Idempotent on `key` (the form's): a repeat
    returns the first Handover and moves nothing.
    """
    if by is not None:
        role_check(staff_role=staff_role_get(workspace_id=workspace.pk, user=by), roles=ADMINS,
                   message=_("Only owners and admins can hand members over."))
    key = (key or "")[:64]
    if key and (done := Handover.objects.filter(workspace=workspace, key=key).first()) is not None:
        return done
    _check_people(workspace=workspace, from_user=from_user, to_user=to_user, kind=kind)
    cleaned = _filter_clean(workspace=workspace, filter=filter)
    message = _message_clean(message)
    try:
        with transaction.atomic():
            handover = Handover.objects.create(workspace=workspace, from_user=from_user, to_user=to_user, by=by,
                                               filter=cleaned, kind=kind, message=message, key=key)
            return _handover_apply(handover=handover, include_groups=include_groups)
    except IntegrityError:
        # A second submit of the same form raced the first one past the check above.
        done = Handover.objects.filter(workspace=workspace, key=key).first() if key else None
        if done is None:
            raise
        return done


def _handover_apply(*, handover: Handover, include_groups: bool) -> Handover:
    workspace, from_user, to_user, by = handover.workspace, handover.from_user, handover.to_user, handover.by
    assert from_user is not None and to_user is not None
    members, groups = _handover_sets(workspace=workspace, from_user=from_user, filter=handover.filter,
                                     include_groups=include_groups)
    moving = list(members.select_for_update().order_by("pk"))
    moving_groups = list(groups.select_for_update().order_by("pk"))
    group_ids = [group.pk for group in moving_groups]
    leads = list(_leads(workspace=workspace, from_user=from_user, members=members, kind=handover.kind,
                        filter=handover.filter).select_for_update().values_list("pk", flat=True))
    reach = _reachable(members) if handover.message else {}
    via = {"handover_kind": handover.kind}
    member_owner_set(members=moving, owner=to_user, by=by, handover=handover, data=via)
    group_staff_set(groups=moving_groups, staff=to_user, by=by, handover=handover, data=via)
    Lead.objects.filter(pk__in=leads).update(assigned_to=to_user, assigned_at=timezone.now())
    for member in moving:
        identity = reach.get(member.pk)
        if identity is not None:
            outbox_enqueue(
                workspace=workspace, channel=identity.channel, kind=SEND_PRIVATE, target=identity.external_id,
                payload={"text": handover_message_render(message=handover.message, member=member,
                                                         from_user=from_user, to_user=to_user)},
                idempotency_key=f"handover:{handover.pk}:{member.pk}",
            )
    handover.members, handover.groups, handover.leads, handover.told = len(moving), len(group_ids), len(leads), len(reach)
    handover.save(update_fields=["members", "groups", "leads", "told"])
    AuditEntry.objects.create(
        workspace=workspace, user=by, action="handover", subject=f"handover:{handover.pk}",
        data={"from": from_user.pk, "to": to_user.pk, "kind": handover.kind, "filter": handover.filter,
              "members": len(moving), "groups": len(group_ids), "group_ids": group_ids, "leads": len(leads),
              "lead_ids": leads, "told": len(reach)},
    )
    return handover


def handover_list(*, workspace: Workspace, limit: int = 50) -> list[Handover]:
    """The workspace's handovers, newest first."""
    return list(Handover.objects.filter(workspace=workspace).select_related("from_user", "to_user", "by")
                .order_by("-at", "-pk")[:limit])
