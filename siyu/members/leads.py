"""Lead lists (线索): a segment's members scored, sorted and handed to sales staff.

    lead_list = leadlist_create(workspace=w, name="奥数错题多", segment=seg,
                                weights={"messages_30d": 1, "spend_yuan": 0.1, "tag:5": 20},
                                staff=[ann, bob], assignment=Assignment.BY_LOAD, limit=200, by=user)
    leadlist_build(lead_list=lead_list)

The score of a member is the weighted sum of the inputs named in `weights` (SCORE_INPUTS, or "tag:<id>",
"value_tier:<value>", "activity_tier:<value>"): points = value × weight, score = the sum of the points.
Each lead stores its reasons, [label, value, weight, points] per input, so sales see why it ranks
where it does. Every input is read for the whole segment in a few grouped queries, not per member.
Inputs "<name>:<value>" over another app's facts (analytics: value_tier, activity_tier) are registered
by that app with `score_facts_register` in its AppConfig.ready().
"""
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, IntegerField, Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.core.events import EventType
from siyu.core.models import Event, StaffRole, Workspace
from siyu.core.roles import OPERATORS, WRITERS, role_check, staff_role_get

from .models import (
    Assignment, Lead, LeadList, LeadStatus, Member, MemberDailyActivity, MemberStats, MemberTag, Note, NoteKind, Segment,
    SegmentMember, Tag,
)
from .notes import note_add

SCORE_INPUTS = {
    "messages_7d": gettext_lazy("Messages in the last 7 days"),
    "messages_30d": gettext_lazy("Messages in the last 30 days"),
    "orders": gettext_lazy("Orders"),
    "spend_yuan": gettext_lazy("Spend (¥)"),
    "days_since_last_seen": gettext_lazy("Days since last seen"),
    "clicks_30d": gettext_lazy("Link clicks in the last 30 days"),
}
OPEN = (LeadStatus.NEW, LeadStatus.CONTACTED)
MAX_WEIGHT = 1_000_000


@dataclass(frozen=True, eq=False)
class ScoreFacts:
    """Inputs "<name>:<value>" another app provides: 1 when the member's `name` is that value, else 0."""

    app: str
    names: Mapping  # name → label (lazy), e.g. {"value_tier": "Value tier"}
    choices: Callable[[str], list]  # name → [(value, label), …]
    read: Callable[[object], Iterable]  # member ids (a list or a subquery) → (member id, {name: value}) pairs, one query


_score_facts: dict[str, ScoreFacts] = {}  # by name


def score_facts_register(facts: Any) -> Any:
    """Add another app's facts to the score inputs (from its AppConfig.ready())."""
    for name in facts.names:
        _score_facts[name] = facts
    return facts


# -- weights --------------------------------------------------------------------------------------
def weights_clean(*, workspace: Workspace, weights: object) -> dict[str, float]:
    """Check a weights mapping; returns it with float weights. ValidationError names each bad entry."""
    if not isinstance(weights, dict) or not weights:
        raise ValidationError({"weights": [_("Give at least one weight, e.g. {\"messages_30d\": 1}.")]})
    errors, clean, tag_ids = [], {}, {}
    for key, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) \
                or abs(weight) > MAX_WEIGHT:
            errors.append(_("%(key)s: the weight must be a number.") % {"key": key})
            continue
        name, _sep, arg = str(key).partition(":")
        if key in SCORE_INPUTS:
            pass
        elif name == "tag" and arg.isdigit():
            if int(arg) > 2**63 - 1:  # no row has such an id, and the database cannot even be asked
                errors.append(_("%(key)s: no tag %(id)s in this workspace.") % {"key": key, "id": arg})
                continue
            tag_ids[int(arg)] = key
        elif name in _score_facts and arg:
            values = [value for value, _label in _score_facts[name].choices(name)]
            if arg not in values:
                errors.append(_("%(key)s: %(name)s is one of %(values)s.")
                              % {"key": key, "name": name, "values": ", ".join(values)})
                continue
        else:
            errors.append(_("%(key)s: unknown input. Use one of %(inputs)s, tag:<id>, value_tier:<value> or "
                            "activity_tier:<value>.") % {"key": key, "inputs": ", ".join(SCORE_INPUTS)})
            continue
        clean[str(key)] = float(weight)
    if tag_ids:
        live = dict(Tag.objects.filter(workspace=workspace, pk__in=tag_ids).values_list("pk", "deleted_at"))
        for tag_id, key in tag_ids.items():
            if tag_id not in live:
                errors.append(_("%(key)s: no tag %(id)s in this workspace.") % {"key": key, "id": tag_id})
            elif live[tag_id] is not None:
                errors.append(_("%(key)s: the tag was deleted.") % {"key": key})
    if errors:
        raise ValidationError({"weights": errors})
    return clean


def input_label(key: str) -> str:
    """The label an operator reads for a weights key."""
    if key in SCORE_INPUTS:
        return str(SCORE_INPUTS[key])
    name, _sep, arg = key.partition(":")
    if name == "tag":
        tag = Tag.objects.filter(pk=arg).select_related("group").first() if arg.isdigit() else None
        return _("Tag %(tag)s") % {"tag": tag if tag else arg}
    if name in _score_facts:
        facts = _score_facts[name]
        label = dict(facts.choices(name)).get(arg, arg)
        return f"{facts.names[name]} = {label}"
    return key


# -- scores ---------------------------------------------------------------------------------------
def member_inputs(
    *, workspace: Workspace, member_ids: Any, keys: Sequence[str], now: datetime | None = None
) -> dict[int, dict[str, float]]:
    """{member id: {key: value}} for the inputs named by `keys`, read in one grouped query per kind of
    input. `member_ids` is a queryset of ids (a subquery, e.g. a segment's list) or a list."""
    now = now or timezone.now()
    values: dict[int, dict[str, float]] = {
        m: dict.fromkeys(keys, 0) for m in (member_ids if isinstance(member_ids, list) else list(member_ids))
    }
    if not values:
        return values
    ids = member_ids
    today = now.astimezone(workspace.tz).date()
    if {"messages_7d", "messages_30d"} & set(keys):
        rows = (MemberDailyActivity.objects.filter(workspace=workspace, member_id__in=ids, day__gt=today - timedelta(days=30))
                .values("member_id").annotate(
                    m7=Coalesce(Sum("messages", filter=Q(day__gt=today - timedelta(days=7))), 0, output_field=IntegerField()),
                    m30=Sum("messages")))
        for row in rows:
            v = values[row["member_id"]]
            if "messages_7d" in v:
                v["messages_7d"] = row["m7"]
            if "messages_30d" in v:
                v["messages_30d"] = row["m30"]
    if {"orders", "spend_yuan", "days_since_last_seen"} & set(keys):
        stats = {m: (o, s, seen) for m, o, s, seen in MemberStats.objects.filter(member_id__in=ids)
                 .values_list("member_id", "orders", "spend_cents", "last_seen_at")}
        created = dict(Member.objects.filter(pk__in=ids).values_list("pk", "created_at")) \
            if "days_since_last_seen" in keys else {}
        for member_id, v in values.items():
            orders, spend, seen = stats.get(member_id, (0, 0, None))
            if "orders" in v:
                v["orders"] = orders
            if "spend_yuan" in v:
                v["spend_yuan"] = spend / 100
            if "days_since_last_seen" in v:
                # Never seen: count from when the member was created (an imported member who never spoke).
                since = seen or created.get(member_id) or now
                v["days_since_last_seen"] = max(0, (now - since).days)
    if "clicks_30d" in keys:
        clicks = (Event.objects.filter(workspace=workspace, type=EventType.LINK_CLICKED, member_id__in=ids,
                                       occurred_at__gte=now - timedelta(days=30))
                  .values("member_id").annotate(n=Count("id")))
        for click in clicks:
            values[click["member_id"]]["clicks_30d"] = click["n"]
    tags = {int(k.partition(":")[2]): k for k in keys if k.startswith("tag:")}
    if tags:
        for member_id, tag_id in MemberTag.objects.filter(tag_id__in=tags, member_id__in=ids).values_list("member_id", "tag_id"):
            values[member_id][tags[tag_id]] = 1
    by_facts = defaultdict(list)
    for key in keys:
        if key.partition(":")[0] in _score_facts:
            by_facts[_score_facts[key.partition(":")[0]]].append(key)
    for facts, facts_keys in by_facts.items():
        for member_id, held in facts.read(ids):
            for key in facts_keys:
                name, _sep, arg = key.partition(":")
                if held.get(name) == arg:
                    values[member_id][key] = 1
    return values


def score_of(values: Mapping[str, float], weights: Mapping[str, float]) -> tuple[float, list[list[Any]]]:
    """(score, reasons): points = value × weight per input, score = their sum (both rounded to 2 places).
    A reason is [input key, value, weight, points]; pages show the key by its label (`input_label`) in the
    reader's language."""
    reasons: list[list[Any]] = []
    score = 0.0
    for key, weight in weights.items():
        value = values.get(key, 0)
        points = round(value * weight, 2)
        score += points
        reasons.append([key, value, weight, points])
    reasons.sort(key=lambda r: -abs(r[3]))
    return round(score, 2), reasons


# -- lists ----------------------------------------------------------------------------------------
def _staff_check(workspace, staff):
    staff = list(staff)
    with_role = set(StaffRole.objects.filter(workspace=workspace, user__in=staff).values_list("user_id", flat=True))
    missing = [str(u) for u in staff if u.pk not in with_role]
    if missing:
        raise ValidationError({"staff": [_("No role in this workspace: %(users)s.") % {"users": ", ".join(missing)}]})
    return staff


def leadlist_create(
    *, workspace: Workspace, name: str, segment: Segment | None, weights: object, staff: Iterable[User] = (),
    assignment: str = Assignment.ROUND_ROBIN, limit: int | None = None, by: User | None = None,
) -> LeadList:
    """A new lead list (not built yet: call leadlist_build)."""
    lead_list = LeadList(workspace=workspace, created_by=by)
    return leadlist_update(lead_list=lead_list, name=name, segment=segment, weights=weights, staff=staff,
                           assignment=assignment, limit=limit)


def leadlist_update(
    *, lead_list: LeadList, name: str, segment: Segment | None, weights: object, staff: Iterable[User] = (),
    assignment: str = Assignment.ROUND_ROBIN, limit: int | None = None,
) -> LeadList:
    """Change a lead list's settings; the leads change at the next build."""
    workspace = lead_list.workspace
    errors = {}
    name = (name or "").strip()
    if not name or len(name) > 100:
        errors["name"] = [_("Give it a name of at most 100 characters.")]
    if segment is None or segment.workspace_id != workspace.pk or segment.archived_at is not None:
        errors["segment"] = [_("Choose a segment of this workspace.")]
    if assignment not in Assignment.values:
        errors["assignment"] = [_("Choose round robin or by load.")]
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        errors["limit"] = [_("Top N is a whole number of at least 1, or empty for everyone.")]
    try:
        weights = weights_clean(workspace=workspace, weights=weights)
    except ValidationError as error:
        errors.update(error.message_dict)
    try:
        staff = _staff_check(workspace, staff)
    except ValidationError as error:
        errors.update(error.message_dict)
    if errors or segment is None:
        raise ValidationError(errors)
    with transaction.atomic():
        lead_list.name, lead_list.segment, lead_list.weights = name, segment, weights
        lead_list.assignment, lead_list.limit = assignment, limit
        lead_list.save()
        lead_list.staff.set(staff)
    return lead_list


def leadlist_build(*, lead_list: LeadList, now: datetime | None = None) -> dict[str, int]:
    """Score the segment's live members and bring the leads up to date. Transactional and repeatable.

    Members who stay keep their assignee and status (their score and reasons are refreshed); new members
    become new leads; leads of members who left the segment (or fell out of the top N) are removed if
    still "new", kept otherwise (someone is working them, or it was added by hand: `leads_add`). Then the unassigned open leads are assigned in
    score order. Returns {"leads", "added", "removed", "assigned"}.
    """
    now = now or timezone.now()
    workspace = lead_list.workspace
    weights = weights_clean(workspace=workspace, weights=lead_list.weights)
    ids = SegmentMember.objects.filter(segment=lead_list.segment).values("member_id")
    live = Member.objects.filter(  # staff (members.staff) are never leads
        pk__in=ids, merged_into__isnull=True, erased_at__isnull=True, is_staff=False
    ).values_list("pk", flat=True)
    values = member_inputs(workspace=workspace, member_ids=live, keys=list(weights), now=now)
    scored = sorted(((*score_of(v, weights), m) for m, v in values.items()), key=lambda s: (-s[0], s[2]))
    if lead_list.limit:
        scored = scored[: lead_list.limit]
    with transaction.atomic():
        existing = {lead.member_id: lead for lead in Lead.objects.select_for_update().filter(lead_list=lead_list)}
        keep, added = [], []
        for score, reasons, member_id in scored:
            lead = existing.pop(member_id, None)
            if lead is None:
                added.append(Lead(lead_list=lead_list, member_id=member_id, score=score, reasons=reasons))
            else:
                lead.score, lead.reasons = score, reasons
                keep.append(lead)
        Lead.objects.bulk_update(keep, ["score", "reasons"], batch_size=500)
        Lead.objects.bulk_create(added, batch_size=500)
        gone = [lead.pk for lead in existing.values() if lead.status == LeadStatus.NEW and not lead.manual]
        for start in range(0, len(gone), 900):
            Lead.objects.filter(pk__in=gone[start:start + 900]).delete()
        assigned = leads_assign(lead_list=lead_list, now=now)
        LeadList.objects.filter(pk=lead_list.pk).update(built_at=now)
        lead_list.built_at = now
    return {"leads": len(scored) + len(existing) - len(gone), "added": len(added), "removed": len(gone), "assigned": assigned}


def leads_add(*, lead_list: LeadList, member_ids: Sequence[int], now: datetime | None = None) -> list[int]:
    """Add members to the list by hand (scored by its weights, marked `manual` so a rebuild keeps them),
    skipping those already in it, then assign the unassigned open leads. Transactional; returns the new
    leads' ids."""
    now = now or timezone.now()
    workspace = lead_list.workspace
    weights = weights_clean(workspace=workspace, weights=lead_list.weights)
    with transaction.atomic():
        present = set(Lead.objects.filter(lead_list=lead_list).values_list("member_id", flat=True))
        todo = [m for m in dict.fromkeys(member_ids) if m not in present]
        added = []
        for start in range(0, len(todo), 900):
            values = member_inputs(workspace=workspace, member_ids=todo[start:start + 900], keys=list(weights), now=now)
            for member_id, inputs in values.items():
                score, reasons = score_of(inputs, weights)
                added.append(Lead(lead_list=lead_list, member_id=member_id, score=score, reasons=reasons, manual=True))
        Lead.objects.bulk_create(added, batch_size=500)
        leads_assign(lead_list=lead_list, now=now)
    return [lead.pk for lead in added]  # both databases return the new rows' ids from bulk_create


def leads_assign(*, lead_list: LeadList, now: datetime | None = None) -> int:
    """Give the list's unassigned open leads, best score first, to its staff.

    Round robin: in turn, in the order of the staff's user ids, continuing after whoever of them got the
    list's latest assignment. By load: each lead to whoever has the fewest open (new or contacted) leads in
    the whole workspace at that moment, ties to the lower user id. Returns how many were assigned.
    """
    now = now or timezone.now()
    staff = sorted(lead_list.staff.values_list("pk", flat=True))
    todo = list(Lead.objects.filter(lead_list=lead_list, assigned_to__isnull=True, status__in=OPEN)
                .order_by("-score", "member_id"))
    if not staff or not todo:
        return 0
    if lead_list.assignment == Assignment.BY_LOAD:
        load = dict.fromkeys(staff, 0)
        load.update(Lead.objects.filter(lead_list__workspace=lead_list.workspace, assigned_to__in=staff, status__in=OPEN)
                    .values_list("assigned_to").annotate(n=Count("id")).values_list("assigned_to", "n"))
        for lead in todo:
            user_id = min(staff, key=lambda u: (load[u], u))
            lead.assigned_to_id, lead.assigned_at = user_id, now
            load[user_id] += 1
    else:
        last = (Lead.objects.filter(lead_list=lead_list, assigned_to__in=staff).order_by("-assigned_at", "-pk")
                .values_list("assigned_to", flat=True).first())
        start = staff.index(last) + 1 if last in staff else 0
        for n, lead in enumerate(todo):
            lead.assigned_to_id, lead.assigned_at = staff[(start + n) % len(staff)], now
    Lead.objects.bulk_update(todo, ["assigned_to", "assigned_at"], batch_size=500)
    return len(todo)


def lead_status_set(*, lead: Lead, status: str, by: User) -> Lead:
    """Set a lead's status. Sales may change only their own leads; viewers none."""
    if status not in LeadStatus.values:
        raise ValidationError({"status": [_("Choose one of: %(values)s.") % {"values": ", ".join(LeadStatus.values)}]})
    role_check(staff_role=staff_role_get(workspace_id=lead.lead_list.workspace_id, user=by),
               roles=WRITERS if by is not None and lead.assigned_to_id == by.pk else OPERATORS,
               message=_("You can change only your own leads."))
    Lead.objects.filter(pk=lead.pk).update(status=status)
    lead.status = status
    return lead


def lead_follow_up(
    *, lead: Lead, author: User, text: str, status: str | None = None, occurred_at: datetime | None = None
) -> Note:
    """Log a follow-up on a lead (a note of kind follow_up linked to it) and optionally set its status, together."""
    with transaction.atomic():
        note = note_add(member=lead.member, author=author, kind=NoteKind.FOLLOW_UP, text=text,
                        occurred_at=occurred_at, lead=lead)
        if status and status != lead.status:
            lead_status_set(lead=lead, status=status, by=author)
    return note


def lead_assign(*, lead: Lead, to_user: User | None, by: User) -> Lead:
    """Give one lead to another staff member of the list (operators and above)."""
    role_check(staff_role=staff_role_get(workspace_id=lead.lead_list.workspace_id, user=by), roles=OPERATORS,
               message=_("Only owners, admins and operators can reassign leads."))
    if to_user is not None and not StaffRole.objects.filter(workspace_id=lead.lead_list.workspace_id, user=to_user).exists():
        raise ValidationError({"assigned_to": [_("%(user)s has no role in this workspace.") % {"user": to_user}]})
    lead.assigned_to, lead.assigned_at = to_user, timezone.now() if to_user else None
    lead.save(update_fields=["assigned_to", "assigned_at"])
    return lead


# -- reads ----------------------------------------------------------------------------------------
def my_leads(*, workspace: Workspace, user: User, statuses: Iterable[str] | None = OPEN, limit: int = 200) -> list[Lead]:
    """The user's leads in the workspace, best score first, with member (and stats) and list loaded."""
    leads = Lead.objects.filter(lead_list__workspace=workspace, assigned_to=user)
    if statuses:
        leads = leads.filter(status__in=statuses)
    return list(leads.select_related("member__stats", "lead_list").order_by("-score", "pk")[:limit])


def leadlist_leads(*, lead_list: LeadList, limit: int = 500) -> list[Lead]:
    return list(lead_list.leads.select_related("member__stats", "assigned_to").order_by("-score", "member_id")[:limit])


