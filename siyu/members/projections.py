"""Member resolution and member projections, registered with core in MembersConfig.ready()."""
from collections import defaultdict
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.core.db import chunked, fetch_existing, insert_many, update_by_field_set, upsert
from siyu.core.events import MEMBER_REF, OWN_SOURCE, EventType, is_message_edit, ref_channel
from siyu.core.ingest import IngestError, IngestRejected
from siyu.core.models import Workspace
from siyu.core.projections import Batch, LatestFieldsProjection, Projection, text_error

from .models import Gender, Identity, Member, MemberDailyActivity, MemberDay, MemberStats, MemberTag, Tag, TagRule, TagVia


def member_numbers_allocate(*, workspace: Workspace, count: int) -> range:
    """Reserve `count` consecutive member numbers (学号) and return them.

    The counter row is updated in the caller's transaction, which holds its lock until commit, so two
    concurrent writers never get the same number; a rolled-back transaction rolls the counter back
    with it, so numbers stay gap-free, and a committed number is never handed out again.
    """
    Workspace.objects.filter(pk=workspace.pk).update(member_number_seq=F("member_number_seq") + count)
    last = Workspace.objects.filter(pk=workspace.pk).values_list("member_number_seq", flat=True).get()
    return range(last - count + 1, last + 1)


def _direct_members(batch, wanted):
    """Resolve MEMBER_REF references (own events only); an id that is not a member of the workspace is an error."""
    direct = {key for key in wanted if key[0] == MEMBER_REF}
    if not direct:
        return {}
    ids = {int(external_id) for _c, external_id in direct if external_id.isdigit()}
    found = set(Member.objects.filter(workspace=batch.workspace, pk__in=ids).values_list("pk", flat=True))
    missing = [external_id for _c, external_id in direct if not external_id.isdigit() or int(external_id) not in found]
    if missing:
        index = next(e.index for e in batch.events if e.actor and e.actor.get("id") in missing)
        raise IngestRejected([IngestError(index, "actor.id", _("no member %(id)s in this workspace") % {"id": missing[0]})])
    return {(MEMBER_REF, external_id): int(external_id) for _c, external_id in direct}


def resolve_actors(batch: Batch) -> None:
    """Set member_id on events with an actor, creating the member and identity on first sight.

    Raw SQL on this path: it runs for every batch, and ORM query building for a 900-id IN list
    costs more than the query itself.
    """
    wanted: dict[Any, Any] = {}
    own, source = batch.source == OWN_SOURCE, batch.source
    for event in batch.events:
        if event.actor and event.member_id is None:
            wanted.setdefault((ref_channel(batch, event.actor) if own else source, event.actor["id"]), event.actor)
    if not wanted:
        return
    known = _direct_members(batch, wanted) if own else {}
    for channel in {channel for channel, _id in wanted} - {MEMBER_REF}:
        ids = {external_id for c, external_id in wanted if c == channel}
        known.update(
            ((channel, external_id), member_id)
            for external_id, member_id in fetch_existing(
                Identity._meta.db_table, ["external_id", "member_id"], key="external_id", values=ids,
                filters={"workspace_id": batch.workspace.pk, "channel": channel},
            )
        )
    missing = [(key, ref) for key, ref in wanted.items() if key not in known]
    if missing:
        known.update(_members_create(batch, missing))
    for event in batch.events:
        if event.actor and event.member_id is None:
            event.member_id = known[(ref_channel(batch, event.actor) if own else source, event.actor["id"])]


def _members_create(batch, refs):
    """Create a member and an identity for each ((channel, external id), actor reference); return {key: member id}."""
    workspace_id = batch.workspace.pk
    numbers = member_numbers_allocate(workspace=batch.workspace, count=len(refs))
    now = timezone.now()
    insert_many(
        Member,
        [
            {"workspace": workspace_id, "number": number, "display_name": (ref.get("name") or ref["id"])[:128],
             "gender": "", "city": "", "remark": "", "profile": {}, "created_at": now, "barred_reason": "",
             "phone": "", "phone_digest": "", "email": "", "wechat": ""}
            for number, (_key, ref) in zip(numbers, refs)
        ],
    )
    db = connections[DEFAULT_DB_ALIAS]
    with db.cursor() as cursor:
        cursor.execute(
            f"SELECT number, id FROM {db.ops.quote_name(Member._meta.db_table)} "
            "WHERE workspace_id = %s AND number BETWEEN %s AND %s",
            [workspace_id, numbers[0], numbers[-1]],
        )
        member_ids = dict(cursor.fetchall())
    insert_many(
        Identity,
        [
            {"workspace": workspace_id, "member": member_ids[number], "channel": channel,
             "external_id": ref["id"], "display_name": ref.get("name", ""), "created_at": now}
            for number, ((channel, _id), ref) in zip(numbers, refs)
        ],
    )
    return {key: member_ids[number] for number, (key, _ref) in zip(numbers, refs)}


# What Siyu did to a member (strikes, bars, undos) is not the member being seen.
NOT_SEEN = frozenset({
    EventType.MEMBER_BARRED, EventType.MEMBER_UNBARRED, EventType.GROUP_STRIKE_ADDED, EventType.GROUP_STRIKE_UNDONE,
    EventType.MEMBER_TAGGED, EventType.MEMBER_UNTAGGED, EventType.MEMBER_SEGMENT_ENTERED, EventType.MEMBER_SEGMENT_LEFT,
    EventType.MEMBER_OWNER_CHANGED, EventType.MEMBER_IMPORTED, EventType.MEMBER_STAFF_CHANGED,
})


class MemberStatsProjection(Projection):
    """MemberStats (first/last seen, messages, orders, spend) and MemberDailyActivity (messages a day)."""

    name = "member_stats"

    def apply(self, batch):
        # Batches arrive in occurrence order (ingest sorts them, rebuild reads them sorted), so within
        # a batch the first event of a member is its earliest and the last its latest; the upsert
        # merges with what is stored by min/max.
        stats: dict[int, dict[str, Any]] = {}
        daily: defaultdict[Any, int] = defaultdict(int)
        totals: dict[Any, dict[str, Any]] = {}
        workspace_id = batch.workspace.pk
        local_day = batch.local_day
        message, paid, refunded = EventType.GROUP_MESSAGE, EventType.ORDER_PAID, EventType.ORDER_REFUNDED
        clicked = EventType.LINK_CLICKED
        for event in batch.events:
            member_id = event.member_id
            if member_id is None or event.type in NOT_SEEN:
                continue
            at = event.occurred_at
            row = stats.get(member_id)
            if row is None:
                row = stats[member_id] = {
                    "member": member_id, "workspace": workspace_id, "first_seen_at": at, "last_seen_at": at,
                    "last_message_at": None, "messages": 0, "orders": 0, "spend_cents": 0,
                }
            else:
                row["last_seen_at"] = at
            kind = event.type
            if kind not in (message, paid, refunded, clicked) or is_message_edit(kind, event.data):
                continue
            day = local_day(at)
            total = totals.get((member_id, day))
            if total is None:
                total = totals[(member_id, day)] = {
                    "workspace": workspace_id, "member": member_id, "day": day,
                    "messages": 0, "orders": 0, "spend_cents": 0, "clicks": 0,
                }
            if kind == message:
                row["messages"] += 1
                row["last_message_at"] = at
                total["messages"] += 1
                if event.group_id is not None:
                    daily[(member_id, event.group_id, day)] += 1
            elif kind == paid:
                row["orders"] += 1
                row["spend_cents"] += event.data["amount_cents"]
                total["orders"] += 1
                total["spend_cents"] += event.data["amount_cents"]
            elif kind == refunded:
                row["spend_cents"] -= event.data["amount_cents"]
                total["spend_cents"] -= event.data["amount_cents"]
            elif not event.data.get("bot"):
                total["clicks"] += 1
        upsert(
            MemberStats, list(stats.values()), key=["member"],
            add=["messages", "orders", "spend_cents"], least=["first_seen_at"],
            greatest=["last_seen_at", "last_message_at"],
        )
        upsert(
            MemberDailyActivity,
            [
                {"workspace": workspace_id, "member": m, "group": g, "day": day, "messages": n}
                for (m, g, day), n in daily.items()
            ],
            key=["day", "group", "member"], add=["messages"],
        )
        upsert(MemberDay, list(totals.values()), key=["day", "member"], add=["messages", "orders", "spend_cents", "clicks"])

    def reset(self, *, workspace):
        MemberStats.objects.filter(workspace=workspace).delete()
        MemberDailyActivity.objects.filter(workspace=workspace).delete()
        MemberDay.objects.filter(workspace=workspace).delete()


class MemberImportedProjection(Projection):
    """member.imported gives a member a first-seen time (the import's) unless an earlier one is stored;
    it is not the member being seen, so last seen stays (MemberStatsProjection skips it: NOT_SEEN)."""

    name = "member_imported"

    def apply(self, batch: Batch) -> None:
        first: dict[int, Any] = {}
        for event in batch.of_type(EventType.MEMBER_IMPORTED):
            if event.member_id is not None:
                first.setdefault(event.member_id, event.occurred_at)
        if first:
            upsert(MemberStats, [
                {"member": member_id, "workspace": batch.workspace.pk, "first_seen_at": at, "last_seen_at": None,
                 "last_message_at": None, "messages": 0, "orders": 0, "spend_cents": 0}
                for member_id, at in first.items()
            ], key=["member"], least=["first_seen_at"])

    def reset(self, *, workspace: Workspace) -> None:
        """Nothing of its own: MemberStatsProjection.reset empties MemberStats."""


class MemberProfileProjection(LatestFieldsProjection):
    """member.profile_updated events set the profile fields they carry."""

    name = "member_profile"
    model = Member
    event_type = EventType.MEMBER_PROFILE_UPDATED
    fields = ("display_name", "gender", "city")

    def field_errors(self, data):
        if "gender" in data and data["gender"] not in Gender.values:
            yield "gender", _("must be one of: f, m, or empty")
        for name, shortest, longest in (("display_name", 1, 128), ("city", 0, 64)):
            if reason := text_error(data, name, shortest=shortest, longest=longest):
                yield name, reason


class MemberBarProjection(Projection):
    """member.barred sets Member.barred_at and barred_reason; member.unbarred clears them."""

    name = "member_bars"
    TYPES = (EventType.MEMBER_BARRED, EventType.MEMBER_UNBARRED)

    def validate(self, batch):
        for event in batch.of_type(EventType.MEMBER_BARRED):
            if reason := text_error(event.data, "reason", shortest=0, longest=200):
                yield event.index, "data.reason", reason

    def apply(self, batch):
        latest = {}
        for event in batch.events:  # in occurrence order: the last bar or unbar of a member wins
            if event.type in self.TYPES and event.member_id:
                barred = event.type == EventType.MEMBER_BARRED
                latest[event.member_id] = {
                    "barred_at": event.occurred_at if barred else None,
                    "barred_reason": str(event.data.get("reason", ""))[:200] if barred else "",
                }
        update_by_field_set(Member, latest)

    def reset(self, *, workspace):
        Member.objects.filter(workspace=workspace, barred_at__isnull=False).update(barred_at=None, barred_reason="")


class MemberTagProjection(Projection):
    """member.tagged / member.untagged → MemberTag (a member's tags now; the last event per tag wins)."""

    name = "member_tags"
    TYPES = (EventType.MEMBER_TAGGED, EventType.MEMBER_UNTAGGED)

    def validate(self, batch):
        wanted: dict[Any, Any] = {}
        for event in batch.events:
            if event.type in self.TYPES:
                tag = event.data.get("tag")
                if not isinstance(tag, int) or isinstance(tag, bool):
                    yield event.index, "data.tag", _("must be a tag id")
                    continue
                if event.data.get("via", TagVia.MANUAL) not in TagVia.values:
                    yield event.index, "data.via", _("must be one of: %(values)s") % {"values": ", ".join(TagVia.values)}
                wanted.setdefault(tag, event.index)
        if wanted:
            known = set(Tag.objects.filter(workspace=batch.workspace, pk__in=wanted).values_list("pk", flat=True))
            for tag, index in wanted.items():
                if tag not in known:
                    yield index, "data.tag", _("no tag %(id)s in this workspace") % {"id": tag}

    def apply(self, batch):
        from django.contrib.auth import get_user_model

        final = {}
        for event in batch.events:  # in occurrence order: the last event per (member, tag) wins
            if event.type in self.TYPES and event.member_id:
                key = (event.member_id, event.data["tag"])
                final[key] = event if event.type == EventType.MEMBER_TAGGED else None
        if not final:
            return
        rules = {e.data.get("rule") for e in final.values() if e is not None and isinstance(e.data.get("rule"), int)}
        users = {e.data.get("by") for e in final.values() if e is not None and isinstance(e.data.get("by"), int)}
        rules = set(TagRule.objects.filter(pk__in=rules).values_list("pk", flat=True)) if rules else set()
        users = set(get_user_model().objects.filter(pk__in=users).values_list("pk", flat=True)) if users else set()
        by_member = defaultdict(set)
        for member_id, tag_id in final:
            by_member[member_id].add(tag_id)
        for chunk in chunked(sorted(by_member), 900):
            stale = [
                pk for pk, member_id, tag_id in MemberTag.objects.filter(member_id__in=chunk).values_list("pk", "member_id", "tag_id")
                if tag_id in by_member[member_id]
            ]
            for pks in chunked(stale, 900):
                MemberTag.objects.filter(pk__in=pks).delete()
        insert_many(
            MemberTag,
            [
                {"workspace": batch.workspace.pk, "member": member_id, "tag": tag_id,
                 "via": event.data.get("via", TagVia.MANUAL),
                 "rule": event.data.get("rule") if event.data.get("rule") in rules else None,
                 "by": event.data.get("by") if event.data.get("by") in users else None,
                 "added_at": event.occurred_at}
                for (member_id, tag_id), event in final.items() if event is not None
            ],
        )

    def reset(self, *, workspace):
        MemberTag.objects.filter(workspace=workspace).delete()
