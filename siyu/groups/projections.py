"""Group resolution and group projections, registered with core in GroupsConfig.ready()."""
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any, cast

from django.utils.translation import gettext as _

from siyu.core.db import chunked, insert_many, update_many, upsert
from siyu.core.events import EventType, is_message_edit, ref_channel
from siyu.core.ingest import IngestError, IngestRejected
from siyu.core.models import Workspace
from siyu.members.staff import member_staff_roles_mark
from siyu.core.projections import (
    Batch, LatestFieldsProjection, LatestUserProjection, PreparedEvent, Projection, Refusal, text_error,
)

from .models import Group, GroupDailyStats, GroupKind, GroupStats, Membership, MembershipRole, Strike, StrikeAction


def resolve_groups(batch: Batch) -> None:
    """Set group_id on events with a group reference, creating the group on first sight.

    Siyu's own events (strikes, staff changes) name the group's channel in the reference (see core.events.ref_channel).
    """
    wanted: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
    for event in batch.events:
        ref = event.group_ref
        if ref and event.group_id is None:
            key = (ref_channel(batch, ref), ref["id"])
            first = wanted.get(key)
            if first is None or event.index < first[0]:  # the first reference in submitted order wins
                wanted[key] = (event.index, ref)
    if not wanted:
        return
    known: dict[tuple[str, str], int] = {}
    for channel in {channel for channel, _id in wanted}:
        for ids in chunked([external_id for c, external_id in wanted if c == channel], 900):
            known.update(
                ((channel, external_id), pk)
                for external_id, pk in Group.objects.filter(
                    workspace=batch.workspace, channel=channel, external_id__in=ids
                ).values_list("external_id", "pk")
            )
    errors = []
    new_groups = []
    for (channel, external_id), (index, ref) in wanted.items():
        if (channel, external_id) in known:
            continue
        kind = ref.get("kind", GroupKind.LEAD)
        capacity = ref.get("capacity", 500)
        errors += [IngestError(index, f"group.{name}", reason) for name, reason in kind_and_capacity_errors(kind, capacity)]
        new_groups.append(
            Group(
                workspace=batch.workspace, channel=channel, external_id=external_id,
                name=(ref.get("name") or external_id)[:128], kind=kind, capacity=capacity,
            )
        )
    if errors:
        raise IngestRejected(errors)
    for group in Group.objects.bulk_create(new_groups):
        known[(group.channel, group.external_id)] = group.pk
    for event in batch.events:
        if event.group_ref is not None and event.group_id is None:
            event.group_id = known[(ref_channel(batch, event.group_ref), event.group_ref["id"])]


def kind_and_capacity_errors(kind: object, capacity: object) -> Iterator[tuple[str, str]]:
    """(field, reason) pairs for a group kind and capacity that are not allowed."""
    if kind not in GroupKind.values:
        yield "kind", _("must be one of %(kinds)s") % {"kinds": ", ".join(GroupKind.values)}
    if not isinstance(capacity, int) or isinstance(capacity, bool) or not 1 <= capacity <= 1_000_000:
        yield "capacity", _("must be a whole number from 1 to 1000000")


class GroupDetailsProjection(LatestFieldsProjection):
    """group.updated events set the group's name, kind and capacity."""

    name = "group_details"
    model = Group
    event_type = EventType.GROUP_UPDATED
    row_id_attribute = "group_id"
    fields = ("name", "kind", "capacity")

    def field_errors(self, data: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
        yield from kind_and_capacity_errors(data.get("kind", GroupKind.LEAD), data.get("capacity", 1))
        if reason := text_error(data, "name", shortest=1, longest=128):
            yield "name", reason


ROLE_VALUES = set(MembershipRole.values)


def _role(event: PreparedEvent) -> str:
    role = event.data.get("role")
    return role if role in ROLE_VALUES else MembershipRole.MEMBER


class MembershipProjection(Projection):
    """Memberships: a join opens a stay, a leave closes it, a role change updates the open stay.

    Also keeps GroupStats.members_now, the number of open stays per group.
    """

    name = "memberships"
    TYPES = {EventType.GROUP_JOINED, EventType.GROUP_LEFT, EventType.GROUP_ROLE_CHANGED}

    def apply(self, batch: Batch) -> None:
        relevant = [e for e in batch.events if e.type in self.TYPES and e.member_id and e.group_id]
        if not relevant:
            return
        pairs = cast("set[tuple[int, int]]", {(e.group_id, e.member_id) for e in relevant})  # both set: see above
        open_stays: dict[tuple[int | None, int | None], dict[str, Any]] = {}
        for chunk in chunked({member for _group, member in pairs}, 900):
            rows = Membership.objects.filter(member_id__in=chunk, left_at__isnull=True).values_list(
                "pk", "group_id", "member_id", "role"
            )
            for pk, group_id, member_id, role in rows:
                if (group_id, member_id) in pairs:
                    open_stays[(group_id, member_id)] = {"pk": pk, "role": role, "left_at": None}
        created: list[dict[str, Any]] = []
        changed: dict[int, dict[str, Any]] = {}
        members_delta: defaultdict[int | None, int] = defaultdict(int)
        for event in relevant:
            pair = (event.group_id, event.member_id)
            stay = open_stays.get(pair)
            if event.type == EventType.GROUP_JOINED:
                if stay is None:
                    stay = open_stays[pair] = {
                        "pk": None, "workspace": batch.workspace.pk, "group": event.group_id,
                        "member": event.member_id, "role": _role(event), "joined_at": event.occurred_at,
                        "left_at": None,
                    }
                    created.append(stay)
                    members_delta[event.group_id] += 1
                elif "role" in event.data:
                    stay["role"] = _role(event)
                    self._touch(stay, changed)
            elif stay is not None and event.type == EventType.GROUP_LEFT:
                stay["left_at"] = event.occurred_at
                del open_stays[pair]
                members_delta[event.group_id] -= 1
                self._touch(stay, changed)
            elif stay is not None and event.type == EventType.GROUP_ROLE_CHANGED:
                stay["role"] = _role(event)
                self._touch(stay, changed)
        # Close before opening: a stay closed and reopened in one batch must not meet itself open twice.
        update_many(Membership, ["role", "left_at"], [(s["pk"], s["role"], s["left_at"]) for s in changed.values()])
        insert_many(Membership, [{k: v for k, v in stay.items() if k != "pk"} for stay in created])
        upsert(
            GroupStats,
            [{"group": g, "workspace": batch.workspace.pk, "members_now": n} for g, n in members_delta.items() if n],
            key=["group"], add=["members_now"],
        )

    @staticmethod
    def _touch(stay: dict[str, Any], changed: dict[int, dict[str, Any]]) -> None:
        if stay["pk"] is not None:
            changed[stay["pk"]] = stay

    def reset(self, *, workspace: Workspace) -> None:
        Membership.objects.filter(workspace=workspace).delete()
        GroupStats.objects.filter(workspace=workspace).delete()


STAFF_ROLES = (MembershipRole.OWNER, MembershipRole.ADMIN)


def _holding_staff_role(member_ids: list[int]) -> Any:
    """The members among `member_ids` who are a group's owner or admin now (a subquery)."""
    return Membership.objects.filter(member_id__in=member_ids, left_at__isnull=True, role__in=STAFF_ROLES).values("member_id")


class StaffRoleProjection(Projection):
    """A group owner or admin (a join with that role, or a role change to it) is staff; a role change away
    from both unmarks a member who holds neither in any group (members.staff). Runs after memberships:
    the stays' roles are current. Batches without such roles cost one pass over their joins."""

    name = "staff_roles"

    def apply(self, batch: Batch) -> None:
        changes = batch.of_type(EventType.GROUP_ROLE_CHANGED)
        promoted = {e.member_id for e in batch.of_type(EventType.GROUP_JOINED) if e.data.get("role") in STAFF_ROLES}
        demoted: set[int | None] = set()
        for event in changes:  # after the joins: a role change follows the join it changes
            (promoted if event.data.get("role") in STAFF_ROLES else demoted).add(event.member_id)
            (demoted if event.data.get("role") in STAFF_ROLES else promoted).discard(event.member_id)
        promoted.discard(None)
        demoted.discard(None)
        if promoted or demoted:
            member_staff_roles_mark(
                workspace=batch.workspace, promoted=cast("set[int]", promoted), demoted=cast("set[int]", demoted),
                holding=_holding_staff_role,
            )

    def reset(self, *, workspace: Workspace) -> None:
        """Nothing of its own: members' MemberStaffProjection.reset clears every mark."""


class GroupDailyStatsProjection(Projection):
    """Per group and local day: joins, leaves, messages and exposures.

    Exposures are link.exposed events (reported by a channel) and the non-bot link.clicked events
    of a link or channel code that carry a group (links.spool): a visit of a group's link or code is
    one exposure of that group.
    """

    name = "group_daily_stats"
    COUNTERS: dict[int, str] = {
        EventType.GROUP_JOINED: "joins",
        EventType.GROUP_LEFT: "leaves",
        EventType.GROUP_MESSAGE: "messages",
        EventType.LINK_EXPOSED: "exposures",
    }

    def apply(self, batch: Batch) -> None:
        days: defaultdict[tuple[int, date], dict[str, int]] = defaultdict(
            lambda: {"joins": 0, "leaves": 0, "messages": 0, "exposures": 0}
        )
        for event in batch.events:
            counter = self.COUNTERS.get(event.type)
            if is_message_edit(event.type, event.data):
                continue
            if event.type == EventType.LINK_CLICKED and not event.data.get("bot"):
                counter = "exposures"
            if counter and event.group_id:
                days[(event.group_id, batch.local_day(event.occurred_at))][counter] += 1
        upsert(
            GroupDailyStats,
            [{"workspace": batch.workspace.pk, "group": g, "day": day, **counts} for (g, day), counts in days.items()],
            key=["group", "day"], add=["joins", "leaves", "messages", "exposures"],
        )

    def reset(self, *, workspace: Workspace) -> None:
        GroupDailyStats.objects.filter(workspace=workspace).delete()


def strike_errors(data: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, reason) pairs for the data of a group.strike_added event the moderation log cannot take."""
    if reason := text_error(data, "rule", shortest=1, longest=64):
        yield "rule", reason
    elif "rule" not in data:
        yield "rule", _("is required: the rule's name")
    for name, lowest in (("strike", 0), ("limit", 1)):
        value = data.get(name)
        if not isinstance(value, int) or isinstance(value, bool) or not lowest <= value <= 1000:
            yield name, _("must be a whole number from %(min)s to 1000") % {"min": lowest}
    rule_id = data.get("rule_id")
    if rule_id is not None and (not isinstance(rule_id, int) or isinstance(rule_id, bool) or rule_id < 1):
        yield "rule_id", _("must be a positive whole number")
    actions = data.get("actions", [])
    if not isinstance(actions, list) or any(a not in StrikeAction.values for a in actions):
        yield "actions", _("must be a list of %(actions)s") % {"actions": ", ".join(StrikeAction.values)}
    for name, longest in (("message_id", 191), ("excerpt", 200)):
        if reason := text_error(data, name, shortest=0, longest=longest):
            yield name, reason


class GroupStaffProjection(LatestUserProjection):
    """group.staff_changed → Group.staff (the last event per group wins); a rebuild replays them."""

    name = "group_staff"
    model = Group
    event_type = EventType.GROUP_STAFF_CHANGED
    row_id_attribute = "group_id"
    user_field = "staff"


class StrikeProjection(Projection):
    """The moderation log: group.strike_added adds a Strike row, group.strike_undone marks it undone."""

    name = "strikes"

    def validate(self, batch: Batch) -> Iterator[Refusal]:
        for event in batch.of_type(EventType.GROUP_STRIKE_ADDED):
            for field_name, reason in strike_errors(event.data):
                yield event.index, f"data.{field_name}", reason
        for event in batch.of_type(EventType.GROUP_STRIKE_UNDONE):
            if undo_reason := text_error(event.data, "strike", shortest=1, longest=191) or (
                None if "strike" in event.data else _("is required: the strike event's source id")
            ):
                yield event.index, "data.strike", undo_reason

    def apply(self, batch: Batch) -> None:
        added = batch.of_type(EventType.GROUP_STRIKE_ADDED)
        undone = batch.of_type(EventType.GROUP_STRIKE_UNDONE)
        if added:
            insert_many(Strike, [
                {
                    "workspace": batch.workspace.pk, "group": e.group_id, "member": e.member_id, "source_id": e.source_id,
                    "rule_id": e.data.get("rule_id"), "rule_name": e.data["rule"], "number": e.data["strike"],
                    "limit": e.data["limit"], "counts": bool(e.data.get("counts", True)),
                    "actions": e.data.get("actions", []), "message_id": e.data.get("message_id", ""),
                    "excerpt": e.data.get("excerpt", ""), "occurred_at": e.occurred_at, "undone_at": None, "undone_by": "",
                }
                for e in added if e.group_id and e.member_id
            ])
        for event in undone:  # after the inserts: a strike and its undo may arrive in one batch
            Strike.objects.filter(workspace=batch.workspace, source_id=event.data["strike"], undone_at__isnull=True).update(
                undone_at=event.occurred_at, undone_by=str(event.data.get("by", ""))[:150]
            )

    def reset(self, *, workspace: Workspace) -> None:
        Strike.objects.filter(workspace=workspace).delete()
