"""The filter language of segments (分群) and tag rules: a filter tree over members, evaluated in the database.

A filter is JSON:

    {"all": [node, ...]}     every node holds            {"any": [node, ...]}   at least one holds
    {"not": node}            the node does not hold       {} or {"all": []}       every member

Leaves (see LEAVES for the full list, and docs/members.md):

    {"tag": 12}                                   has tag 12
    {"field": "city", "op": "eq", "value": "杭州"}  a profile field (display_name, gender, city, remark,
                                                  or "profile.<key>"); op eq, ne, contains, empty, filled
    {"group": 3} / {"group_kind": "perks"}         in that group (or a group of that kind) now
    {"model": "activity_tier", "value": "silent"}  a tier or type from analytics (MemberModel)
    {"count": "messages", "days": 7, "op": "gte", "value": 3}
                                                  messages, orders, spend (yuan), clicks in the last N
                                                  days (today included; no "days": all time)
    {"seen": "within", "days": 30} / {"seen": "before", "days": 30}   last seen
    {"bought": "camp"}                            bought that product (not refunded in full)
    {"campaign": "X3"}                            reached by that campaign
    {"clicked": 7}                                visited link (or channel code link) 7
    {"owner": 5} / {"owner": null}                owned by that staff member (or by nobody)

Each leaf becomes a subquery of member ids; the tree becomes `Member.id IN (…)` conditions joined with
AND/OR/NOT, so one SQL statement answers the whole filter, and the same statement restricted to a
few member ids answers "does this event change anything" (live updates, members.segments).
"""
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import Member, MemberDay, MemberStats, MemberTag, Segment, SegmentMember, Tag, TagRule

MAX_DEPTH = 8
MAX_LEAVES = 50
OPS = {"gte": "__gte", "gt": "__gt", "lte": "__lte", "lt": "__lt", "eq": ""}
OP_LABELS = {"gte": "≥", "gt": ">", "lte": "≤", "lt": "<", "eq": "="}
COUNTS = {  # leaf name → MemberDay / MemberStats column, and the factor from what operators type
    "messages": ("messages", 1),
    "orders": ("orders", 1),
    "spend": ("spend_cents", 100),  # typed in yuan, stored in cents
    "clicks": ("clicks", 1),
}
COUNT_LABELS = {
    "messages": gettext_lazy("messages"),
    "orders": gettext_lazy("orders"),
    "spend": gettext_lazy("spend (yuan)"),
    "clicks": gettext_lazy("link visits"),
}
FIELDS = ("display_name", "gender", "city", "remark")
FIELD_OPS = ("eq", "ne", "contains", "empty", "filled")
MODEL_FIELDS = ("activity_tier", "value_tier", "loyalty", "pyramid")
# Leaves whose answer changes with the clock or with analytics, not only with a member's events:
# segments using them are also recounted on a schedule (members.tasks).
TIME_LEAVES = ("count", "seen", "model")


class FilterError(ValueError):
    """The filter cannot be evaluated; the message says where and why, for the operator."""


@dataclass(frozen=True)
class Compiled:
    condition: Q  # on Member
    time_dependent: bool
    tags: frozenset  # tag ids named


def _number(value, where):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FilterError(_("%(where)s: the value must be a number") % {"where": where})
    return value


def _days(node, where, *, required=False):
    days = node.get("days")
    if days is None and not required:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
        raise FilterError(_("%(where)s: days must be a whole number from 1 to 3650") % {"where": where})
    return days


def _window_start(workspace, days, now):
    """The first day of "the last N days", today included, in the workspace's time zone."""
    return timezone.localtime(now, workspace.tz).date() - timedelta(days=days - 1)


def _holds_at_zero(op, value):
    return {"gte": 0 >= value, "gt": 0 > value, "lte": 0 <= value, "lt": 0 < value, "eq": value == 0}[op]


def _count_leaf(workspace, node, where, now, restrict):
    name = node.get("count")
    if name not in COUNTS:
        raise FilterError(_("%(where)s: count must be one of %(names)s") % {"where": where, "names": ", ".join(COUNTS)})
    op = node.get("op", "gte")
    if op not in OPS:
        raise FilterError(_("%(where)s: op must be one of %(ops)s") % {"where": where, "ops": ", ".join(OPS)})
    column, factor = COUNTS[name]
    value = _number(node.get("value"), where) * factor
    days = _days(node, where)
    if days is None and name != "clicks":
        source = restrict(MemberStats.objects.filter(workspace=workspace))
        total = column
    else:
        source = restrict(MemberDay.objects.filter(workspace=workspace))
        if restrict.everybody:
            # Days where the measure is 0 change no sum and no member's side of the comparison (a member
            # with no row is handled as 0 above); leaving them out lets the database read the
            # measure's own covering index over the window. A live update reads by member instead.
            source = source.exclude(**{column: 0})
        if days is not None:
            source = source.filter(day__gte=_window_start(workspace, days, now))
        source = source.values("member_id").annotate(total=Sum(column))
        total = "total"
    if _holds_at_zero(op, value):
        # Members with no activity at all match too: "not (the opposite)", over the members that have rows.
        opposite = {"gte": ("lt", value), "gt": ("lte", value), "lte": ("gt", value), "lt": ("gte", value), "eq": None}[op]
        if opposite is None:
            return ~Q(pk__in=source.exclude(**{total: value}).values("member_id"))
        return ~Q(pk__in=source.filter(**{f"{total}{OPS[opposite[0]]}": opposite[1]}).values("member_id"))
    return Q(pk__in=source.filter(**{f"{total}{OPS[op]}": value}).values("member_id"))


def _field_leaf(node, where):
    name = node.get("field")
    if not isinstance(name, str) or not (name in FIELDS or (name.startswith("profile.") and len(name) > 8)):
        raise FilterError(_("%(where)s: unknown field %(field)r") % {"where": where, "field": name})
    op = node.get("op", "eq")
    if op not in FIELD_OPS:
        raise FilterError(_("%(where)s: op must be one of %(ops)s") % {"where": where, "ops": ", ".join(FIELD_OPS)})
    lookup = name.replace(".", "__")
    if op in ("empty", "filled"):
        empty = Q(**{lookup: ""}) | Q(**{f"{lookup}__isnull": True})
        return empty if op == "empty" else ~empty
    value = node.get("value")
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise FilterError(_("%(where)s: the value must be text or a number") % {"where": where})
    if op == "contains":
        return Q(**{f"{lookup}__icontains": str(value)})
    condition = Q(**{lookup: value})
    return ~condition if op == "ne" else condition


def _leaf(workspace, node, where, now, tags, restrict):
    from siyu.analytics.models import CampaignTouch, MemberModel, Sale
    from siyu.core.events import EventType
    from siyu.core.models import Event
    from siyu.groups.models import Membership

    if "tag" in node:
        tag_id = node["tag"]
        tag = tags.get(tag_id) if isinstance(tag_id, int) and not isinstance(tag_id, bool) else None
        if tag is None:
            raise FilterError(_("%(where)s: tag %(id)s does not exist") % {"where": where, "id": tag_id})
        if tag.deleted_at is not None:
            raise FilterError(_("%(where)s: the tag “%(tag)s” was deleted; edit the filter") % {"where": where, "tag": tag})
        return Q(pk__in=restrict(MemberTag.objects.filter(tag_id=tag_id)).values("member_id")), False
    if "count" in node:
        return _count_leaf(workspace, node, where, now, restrict), True
    if "field" in node:
        return _field_leaf(node, where), False
    if "group" in node:
        group = node["group"]
        if isinstance(group, bool) or not isinstance(group, int):
            raise FilterError(_("%(where)s: group must be a group id") % {"where": where})
        return Q(pk__in=restrict(Membership.objects.filter(group_id=group, left_at__isnull=True)).values("member_id")), False
    if "group_kind" in node:
        return Q(pk__in=restrict(Membership.objects.filter(
            group__workspace=workspace, group__kind=node["group_kind"], left_at__isnull=True)).values("member_id")), False
    if "model" in node:
        if node["model"] not in MODEL_FIELDS:
            raise FilterError(_("%(where)s: model must be one of %(names)s") % {"where": where, "names": ", ".join(MODEL_FIELDS)})
        rows = MemberModel.objects.filter(workspace=workspace, **{node["model"]: node.get("value")})
        return Q(pk__in=restrict(rows).values("member_id")), True
    if "seen" in node:
        days = _days(node, where, required=True)
        since = now - timedelta(days=days)
        if node["seen"] == "within":
            return Q(stats__last_seen_at__gte=since), True
        if node["seen"] == "before":
            return Q(stats__last_seen_at__lt=since) | Q(stats__isnull=True), True
        raise FilterError(_("%(where)s: seen must be “within” or “before”") % {"where": where})
    if "bought" in node:
        return Q(pk__in=restrict(Sale.objects.filter(
            workspace=workspace, product=str(node["bought"]), member__isnull=False,
            refunded_cents__lt=F("amount_cents"))).values("member_id")), False
    if "campaign" in node:
        rows = CampaignTouch.objects.filter(member__workspace=workspace, campaign=str(node["campaign"]))
        return Q(pk__in=restrict(rows).values("member_id")), False
    if "clicked" in node:
        return Q(pk__in=restrict(Event.objects.filter(
            workspace=workspace, type=EventType.LINK_CLICKED, member__isnull=False, data__link=node["clicked"]
        )).values("member_id")), False
    if "owner" in node:
        return (Q(owner__isnull=True) if node["owner"] is None else Q(owner_id=node["owner"])), False
    raise FilterError(_("%(where)s: not a condition Siyu knows (%(keys)s)") % {"where": where, "keys": ", ".join(sorted(node)) or "{}"})


class _Restrict:
    """Applied to every subquery: all members (`everybody`), or only the ids in `among`."""

    def __init__(self, among):
        self.among = among
        self.everybody = among is None

    def __call__(self, rows):
        return rows if self.everybody else rows.filter(member_id__in=self.among)


def filter_compile(*, workspace, filter, now=None, among=None):
    """The filter as a Q on Member, or FilterError naming the first problem (with its path, e.g. all.2.tag).

    With `among` (member ids), every subquery is restricted to those members too, so a live update
    reads their rows only, not the whole window (the answer for them is the same: membership of one
    member in a subquery does not depend on the other members' rows).
    """
    restrict = _Restrict(among)
    if not isinstance(filter, dict):
        raise FilterError(_("A filter must be an object"))
    now = now or timezone.now()
    named = set()
    _collect_tags(filter, named)
    tags = {t.pk: t for t in Tag.objects.filter(workspace=workspace, pk__in=[t for t in named if isinstance(t, int)])}
    leaves = [0]
    time_dependent = [False]

    def walk(node, where, depth):
        if depth > MAX_DEPTH:
            raise FilterError(_("%(where)s: nested more than %(max)s levels") % {"where": where, "max": MAX_DEPTH})
        if not isinstance(node, dict):
            raise FilterError(_("%(where)s: a condition must be an object") % {"where": where})
        for key in ("all", "any"):
            if key in node:
                children = node[key]
                if not isinstance(children, list):
                    raise FilterError(_("%(where)s: “%(key)s” takes a list") % {"where": where, "key": key})
                if key == "any" and not children:
                    return Q(pk__in=[])
                condition = Q()
                for n, child in enumerate(children):
                    part = walk(child, f"{where}.{key}.{n}" if where != "filter" else f"{key}.{n}", depth + 1)
                    condition = (condition & part) if key == "all" else (part if n == 0 else condition | part)
                return condition
        if "not" in node:
            return ~walk(node["not"], f"{where}.not", depth + 1)
        if not node:
            return Q()
        leaves[0] += 1
        if leaves[0] > MAX_LEAVES:
            raise FilterError(_("A filter may have at most %(max)s conditions") % {"max": MAX_LEAVES})
        condition, timed = _leaf(workspace, node, where, now, tags, restrict)
        time_dependent[0] |= timed
        return condition

    condition = walk(filter, "filter", 0)
    return Compiled(condition=condition, time_dependent=time_dependent[0], tags=frozenset(tags))


def _collect_tags(node, out):
    if isinstance(node, dict):
        if "tag" in node:
            out.add(node["tag"])
        for key in ("all", "any"):
            if isinstance(node.get(key), list):
                for child in node[key]:
                    _collect_tags(child, out)
        if "not" in node:
            _collect_tags(node["not"], out)


def filter_error(*, workspace, filter):
    """The message saying why `filter` cannot be used, or "" if it can."""
    try:
        filter_compile(workspace=workspace, filter=filter)
    except FilterError as exc:
        return str(exc)
    return ""



def filter_validate(*, workspace, filter):
    """Raise a ValidationError on "filter" (the operator's message) if `filter` cannot be used."""
    try:
        filter_compile(workspace=workspace, filter=filter)
    except FilterError as exc:
        raise ValidationError({"filter": [str(exc)]})


def live_sets_check(*, workspace):
    """After a tag is deleted: segments and rules whose filter no longer compiles get their error set."""
    for model in (Segment, TagRule):
        for item in model.objects.filter(workspace=workspace):
            if getattr(item, "archived_at", None) is not None:
                continue
            try:
                filter_compile(workspace=workspace, filter=item.filter)
            except FilterError as exc:
                model.objects.filter(pk=item.pk).update(error=str(exc)[:300])


def members_matching(*, workspace, filter, now=None, among=None):
    """A queryset of the (live: not merged, not erased) members matching the filter (of `among`, if given)."""
    compiled = filter_compile(workspace=workspace, filter=filter, now=now, among=among)
    members = Member.objects.filter(workspace=workspace, merged_into__isnull=True, erased_at__isnull=True)
    if among is not None:
        members = members.filter(pk__in=among)
    return members.filter(compiled.condition)


AMONG_CHUNK = 400  # ids per statement: each subquery repeats them, and SQLite binds at most 32,766 values


def filter_member_ids(*, workspace, filter, now=None, among=None):
    """The ids of the members matching the filter now (only those in `among`, if given)."""
    if among is None:
        return set(members_matching(workspace=workspace, filter=filter, now=now).values_list("pk", flat=True))
    among = sorted(set(among))
    found = set()
    for start in range(0, len(among), AMONG_CHUNK):
        chunk = among[start : start + AMONG_CHUNK]
        found.update(members_matching(workspace=workspace, filter=filter, now=now, among=chunk).values_list("pk", flat=True))
    return found


def filter_preview(*, workspace, filter, limit=50, now=None):
    """(count, first `limit` members by number) for the segment builder; FilterError if the filter is bad."""
    members = members_matching(workspace=workspace, filter=filter, now=now)
    return members.count(), list(members.select_related("stats").order_by("number")[:limit])


def segment_member_ids(*, segment):
    """The member ids on the segment's live list."""
    return list(SegmentMember.objects.filter(segment=segment).values_list("member_id", flat=True))


def filter_describe(*, workspace, filter):
    """The filter in words, for lists and confirmations (in the active language)."""
    tags = {t.pk: str(t) for t in Tag.objects.filter(workspace=workspace)}

    def say(node):
        if not isinstance(node, dict) or not node:
            return _("everyone")
        for key, word in (("all", _(" and ")), ("any", _(" or "))):
            if key in node:
                parts = [say(child) for child in node[key]]
                return "(" + word.join(parts) + ")" if len(parts) > 1 else (parts[0] if parts else _("everyone"))
        if "not" in node:
            return _("not %(x)s") % {"x": say(node["not"])}
        if "tag" in node:
            return _("tag %(tag)s") % {"tag": tags.get(node["tag"], f"#{node['tag']}")}
        if "count" in node:
            label = COUNT_LABELS.get(node["count"], node["count"])
            op = OP_LABELS.get(node.get("op", "gte"), "?")
            if node.get("days"):
                return _("%(what)s in the last %(days)s days %(op)s %(value)s") % {
                    "what": label, "days": node["days"], "op": op, "value": node.get("value")}
            return _("%(what)s in all %(op)s %(value)s") % {"what": label, "op": op, "value": node.get("value")}
        if "field" in node:
            return f"{node['field']} {node.get('op', 'eq')} {node.get('value', '')}".strip()
        if "seen" in node:
            if node["seen"] == "within":
                return _("seen in the last %(days)s days") % {"days": node.get("days")}
            return _("not seen for %(days)s days") % {"days": node.get("days")}
        key = next(iter(node))
        return f"{key} = {node[key]}"

    return say(filter)
