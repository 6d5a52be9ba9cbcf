"""Merging two members who are the same person, and undoing it.

    merge_candidates(workspace=w)                 # [(member, member), ...] with the same phone
    merge = member_merge(kept=a, merged=b, by=user, reason="same phone")
    member_merge_undo(merge=merge, by=user)

A merge moves every row that names `merged` to `kept`: identities, tags, notes, leads, segment
memberships, group stays, strikes, analytics facts, and the ledger's events (their member_id). Rows of
any table with a foreign key to Member are found from the model registry, so a table added later is
moved too. Where `kept` already has the matching row (the same tag, an open stay in the same group,
a lead in the same list…) the merged one stays with `merged` (hidden, kept for undo); for tags,
segment entry, link reach, campaign touches and invites the earlier date wins, copied onto kept's row.
MemberStats and MemberDailyActivity are recomputed from the ledger for both. `MemberMerge.moved`
records every change, so undo puts every row back exactly. Member numbers never change.
"""
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.apps import apps
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Count, ForeignKey, Model, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from siyu.core.models import AuditEntry, Event, Workspace
from siyu.core.projections import Batch, PreparedEvent

from .models import Member, MemberMerge, MemberStats
from .personal import personal_data
from .projections import MemberStatsProjection

# Rows not moved: the member's own merge records, and projections recomputed from the ledger.
SKIPPED = {("members.Member", "merged_into"), ("members.MemberMerge", "kept"), ("members.MemberMerge", "merged"),
           ("members.MemberStats", "member"), ("members.MemberDailyActivity", "member"), ("members.MemberDay", "member"),
           ("core.Event", "member")}
# Per-member tables recomputed from the ledger (MemberStatsProjection writes them), with their natural keys.
RECOMPUTED = (("members.MemberDailyActivity", ("day", "group_id", "member_id")), ("members.MemberDay", ("day", "member_id")))
# On a clash, the earlier of these dates wins (with the fields that explain it); other apps register
# theirs (members.personal: link reach, campaign touches, invites).
EARLIEST = {
    "members.MemberTag": ("added_at", ("via", "rule_id", "by_id")),
    "members.SegmentMember": ("since", ()),
}
# Fields of kept filled from merged when kept has none.
FILLED = ("owner_id", "remark", "phone", "phone_digest", "email", "wechat")


def _label(model):
    return f"{model._meta.app_label}.{model.__name__}"


def _earliest():
    found = dict(EARLIEST)
    for entry in personal_data():
        found.update(entry.merge_earliest)
    return found


def member_relations() -> list[tuple[type[Model], Any]]:
    """(model, foreign key field) for every field pointing at Member that a merge moves."""
    found = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if (isinstance(field, ForeignKey) and field.related_model is Member and not field.primary_key
                    and (_label(model), field.name) not in SKIPPED):
                found.append((model, field))
    return found


def _clash_keys(model, field):
    """[(other fields, condition)] of the unique constraints that include `field`."""
    keys = []
    if field.unique:
        keys.append(((), None))
    for constraint in model._meta.constraints:
        fields = getattr(constraint, "fields", ())
        if field.name in fields:
            keys.append((tuple(model._meta.get_field(f).attname for f in fields if f != field.name), constraint.condition))
    return keys


def merge_candidates(*, workspace: Workspace) -> list[tuple[Member, Member]]:
    """Pairs (older, newer) of members with the same phone, neither merged nor erased. Reads only."""
    live = Member.objects.filter(workspace=workspace, merged_into__isnull=True, erased_at__isnull=True).exclude(phone_digest="")
    digests = live.values("phone_digest").annotate(n=Count("id")).filter(n__gt=1).values_list("phone_digest", flat=True)
    by_digest = defaultdict(list)
    for member in live.filter(phone_digest__in=list(digests)).order_by("number"):
        by_digest[member.phone_digest].append(member)
    pairs = []
    for members in by_digest.values():
        pairs += [(members[0], other) for other in members[1:]]
    return sorted(pairs, key=lambda pair: (pair[0].number, pair[1].number))


def _refuse(message):
    raise ValidationError(message)


def _check(kept, merged):
    if kept.pk == merged.pk:
        _refuse(_("A member cannot be merged with itself."))
    if kept.workspace_id != merged.workspace_id:
        _refuse(_("Members of different workspaces cannot be merged."))
    for member in (kept, merged):
        if member.erased_at is not None:
            _refuse(_("Member #%(number)s is erased and cannot be merged.") % {"number": member.number})
        if member.merged_into_id is not None:
            _refuse(_("Member #%(number)s is already merged into another member.") % {"number": member.number})


def _ranges(ids):
    """[[first, last], ...] runs of consecutive ids: a million moved events in a few pairs."""
    runs: list[list[int]] = []
    for pk in sorted(ids):
        if runs and pk == runs[-1][1] + 1:
            runs[-1][1] = pk
        else:
            runs.append([pk, pk])
    return runs


def _range_q(runs):
    q = Q(pk__in=[])
    for first, last in runs:
        q |= Q(pk__gte=first, pk__lte=last) if first != last else Q(pk=first)
    return q


def _json(value):
    return DjangoJSONEncoder().default(value) if not isinstance(value, (str, int, float, bool, type(None), list, dict)) else value


def member_merge(*, kept: Member, merged: Member, by: User | None = None, reason: str = "") -> MemberMerge:
    """Fold `merged` into `kept`; returns the MemberMerge. One transaction; audited ("member_merged").

    Refuses (ValidationError) a member with itself, across workspaces, erased or already merged members.
    """
    _check(kept, merged)
    reason = (reason or "").strip()[:200]
    with transaction.atomic():
        kept = Member.objects.select_for_update().get(pk=kept.pk)
        merged = Member.objects.select_for_update().get(pk=merged.pk)
        _check(kept, merged)
        moved: dict[str, Any] = {"rows": {}, "updated": [], "events": [], "filled": []}
        # Merged's per-day rows disappear with its events; their ids come back on undo.
        moved["daily"] = _daily_ids_record(merged)
        for model, field in member_relations():
            _move_rows(model, field, kept, merged, moved)
        event_ids = list(Event.objects.filter(member=merged).values_list("pk", flat=True))
        moved["events"] = _ranges(event_ids)
        Event.objects.filter(member=merged).update(member=kept)
        for name in FILLED:
            if not getattr(kept, name) and getattr(merged, name):
                setattr(kept, name, getattr(merged, name))
                moved["filled"].append(name)
        if moved["filled"]:
            kept.save(update_fields=[n.removesuffix("_id") for n in moved["filled"]])
        Member.objects.filter(pk=merged.pk).update(merged_into=kept)
        member_stats_recompute(members=[kept, merged])
        merge = MemberMerge.objects.create(
            workspace_id=kept.workspace_id, kept=kept, merged=merged, reason=reason, by=by, moved=moved,
        )
        AuditEntry.objects.create(
            workspace_id=kept.workspace_id, user=by, action="member_merged", subject=f"member:{kept.number}",
            data={"merge": merge.pk, "kept": kept.number, "merged": merged.number, "reason": reason,
                  "events": len(event_ids), "rows": {k: sum(len(v) for v in f.values()) for k, f in moved["rows"].items()}},
        )
    return merge


def _move_rows(model, field, kept, merged, moved):
    label = _label(model)
    rows = model.objects.filter(**{field.attname: merged.pk})
    stay = set()
    earliest = _earliest().get(label)
    for others, condition in _clash_keys(model, field):
        mine = rows.filter(condition) if condition is not None else rows
        theirs = model.objects.filter(**{field.attname: kept.pk})
        theirs = theirs.filter(condition) if condition is not None else theirs
        wanted = ["pk", *others, *(earliest[0:1] if earliest else ()), *(earliest[1] if earliest else ())]
        their_rows = {tuple(r[o] for o in others): r for r in theirs.values(*wanted)}
        for row in mine.values(*wanted):
            clash = their_rows.get(tuple(row[o] for o in others))
            if clash is None:
                continue
            stay.add(row["pk"])
            if earliest and row[earliest[0]] is not None and (clash[earliest[0]] is None or row[earliest[0]] < clash[earliest[0]]):
                names = (earliest[0], *earliest[1])
                moved["updated"].append({"model": label, "pk": clash["pk"], "before": {n: _json(clash[n]) for n in names}})
                model.objects.filter(pk=clash["pk"]).update(**{n: row[n] for n in names})
    ids = [pk for pk in rows.values_list("pk", flat=True) if pk not in stay]
    if ids:
        moved["rows"].setdefault(label, {})[field.name] = ids
        for start in range(0, len(ids), 900):
            model.objects.filter(pk__in=ids[start:start + 900]).update(**{field.attname: kept.pk})


def member_merge_undo(*, merge: MemberMerge, by: User | None = None) -> MemberMerge:
    """Put every row the merge moved back on the merged member, recompute both members' stats and
    clear `merged_into`. One transaction; audited ("member_merge_undone").

    Refuses an undone merge, and one whose kept member has since been merged into another or erased
    (undo that merge first). Events that arrived after the merge stay with the kept member.
    """
    if merge.undone_at is not None:
        _refuse(_("This merge was already undone."))
    with transaction.atomic():
        kept = Member.objects.select_for_update().get(pk=merge.kept_id)
        merged = Member.objects.select_for_update().get(pk=merge.merged_id)
        if kept.merged_into_id is not None:
            _refuse(_("Member #%(number)s has since been merged into another member: undo that merge first.")
                    % {"number": kept.number})
        if kept.erased_at is not None or merged.erased_at is not None:
            _refuse(_("An erased member's merge cannot be undone."))
        moved = merge.moved
        for label, fields in moved.get("rows", {}).items():
            model = apps.get_model(label)
            for field_name, ids in fields.items():
                attname = model._meta.get_field(field_name).attname
                for start in range(0, len(ids), 900):
                    model.objects.filter(pk__in=ids[start:start + 900]).update(**{attname: merged.pk})
        for change in moved.get("updated", []):
            model = apps.get_model(change["model"])
            values = {name: model._meta.get_field(name).to_python(value) for name, value in change["before"].items()}
            model.objects.filter(pk=change["pk"]).update(**values)
        runs = moved.get("events", [])
        for start in range(0, len(runs), 200):
            Event.objects.filter(_range_q(runs[start:start + 200]), member=kept).update(member=merged)
        for name in moved.get("filled", []):
            setattr(kept, name, None if name == "owner_id" else "")
        if moved.get("filled"):
            kept.save(update_fields=[n.removesuffix("_id") for n in moved["filled"]])
        Member.objects.filter(pk=merged.pk).update(merged_into=None)
        member_stats_recompute(members=[kept, merged], known_ids=_daily_ids_read(moved.get("daily", {})))
        merge.undone_at = timezone.now()
        merge.undone_by = by
        merge.save(update_fields=["undone_at", "undone_by"])
        AuditEntry.objects.create(
            workspace_id=kept.workspace_id, user=by, action="member_merge_undone", subject=f"member:{kept.number}",
            data={"merge": merge.pk, "kept": kept.number, "merged": merged.number},
        )
    return merge


def _recomputed():
    """(model, natural key attnames) of the per-member tables MemberStatsProjection writes, besides MemberStats."""
    found = []
    for label, key in RECOMPUTED:
        try:
            found.append((apps.get_model(label), key))
        except LookupError:
            continue
    return found


def _rows_by_key(model, key, member_ids):
    return {
        tuple(row[1:]): row[0]
        for row in model.objects.filter(member_id__in=member_ids).values_list("pk", *key)
    }


def _daily_ids_record(member):
    """{model label: [[key values…, id], ...]} of the member's recomputed rows, JSON-ready."""
    return {
        _label(model): [[*(_json(v) for v in values), pk] for values, pk in _rows_by_key(model, key, [member.pk]).items()]
        for model, key in _recomputed()
    }


def _daily_ids_read(record):
    known = {}
    for model, key in _recomputed():
        fields = [model._meta.get_field(name) for name in key]
        known[_label(model)] = {
            tuple(f.to_python(v) for f, v in zip(fields, row[:-1])): row[-1] for row in record.get(_label(model), [])
        }
    return known


def member_stats_recompute(*, members: Sequence[Member], known_ids: Any = None) -> None:
    """Recompute MemberStats and the per-day tables (MemberDailyActivity, MemberDay) of these members from
    their events in the ledger, with MemberStatsProjection.

    Rows that exist before and after keep their ids; `known_ids` ({model label: {natural key: id}}) names
    ids for rows that come back (an undone merge). Runs in the caller's transaction.
    """
    ids = [m.pk for m in members]
    workspace = members[0].workspace
    before = {}
    for model, key in _recomputed():
        before[_label(model)] = {**(known_ids or {}).get(_label(model), {}), **_rows_by_key(model, key, ids)}
        model.objects.filter(member_id__in=ids).delete()
    MemberStats.objects.filter(member_id__in=ids).delete()
    rows = (
        Event.objects.filter(member_id__in=ids).order_by("occurred_at", "id")
        .values_list("type", "occurred_at", "source_id", "data", "member_id", "group_id")
    )
    events = [
        PreparedEvent(type=t, occurred_at=at, source_id=sid, data=data, member_id=m, group_id=g)
        for t, at, sid, data, m, g in rows.iterator(chunk_size=5000)
    ]
    projection = MemberStatsProjection()
    for start in range(0, len(events), 5000):
        projection.apply(Batch(workspace=workspace, source="", events=events[start:start + 5000]))
    for model, key in _recomputed():
        old = before[_label(model)]
        fresh = list(model.objects.filter(member_id__in=ids))
        model.objects.filter(member_id__in=ids).delete()
        fields = [f.attname for f in model._meta.concrete_fields if not f.primary_key]
        model.objects.bulk_create([
            model(id=old.get(tuple(getattr(r, k) for k in key)), **{f: getattr(r, f) for f in fields}) for r in fresh
        ])
