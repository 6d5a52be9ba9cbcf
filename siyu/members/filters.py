"""The filter language of segments (分群) and tag rules: a filter tree over members, evaluated in the database.

A filter is JSON:

    {"all": [node, ...]}     every node holds            {"any": [node, ...]}   at least one holds
    {"not": node}            the node does not hold       {} or {"all": []}       every member

Leaves are *conditions*. This module knows the member's own facts (tag, field, count, seen, owner);
every other app registers the conditions over what it holds, in its AppConfig.ready(), with
`condition_register` — groups (group, group_kind), links (clicked), analytics (model, bought,
campaign); campaigns will add check-ins, points and forms the same way:

    condition_register(Condition(
        key="group", compile=group_condition, app="groups",
        examples=('{"group": 3}',), meaning="in that group now",
    ))

`compile(leaf)` validates `leaf.node` (FilterError naming `leaf.where`) and returns a Q on Member,
usually `Q(pk__in=leaf.restrict(rows).values("member_id"))`. Each condition's `examples` and `meaning`
are the filter reference of docs/members.md (`filter_reference()`; tests/members/test_filter_reference.py
keeps the two equal).

Each leaf becomes a subquery of member ids; the tree becomes `Member.id IN (…)` conditions joined with
AND/OR/NOT, so one SQL statement answers the whole filter, and the same statement restricted to a
few member ids answers "does this event change anything" (live updates, members.segments).
"""
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal, TypeVar, overload

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db.models import Model, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from siyu.core.models import Workspace

from .sources import source_label, source_normalise
from .models import Member, MemberDay, MemberStats, MemberTag, Segment, SegmentMember, Tag, TagRule

M = TypeVar("M", bound=Model)
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


class FilterError(ValueError):
    """The filter cannot be evaluated; the message says where and why, for the operator."""


@dataclass(frozen=True)
class Compiled:
    condition: Q  # on Member
    time_dependent: bool
    tags: frozenset[int]  # tag ids named
    names_staff: bool = False  # a {"staff": …} condition is in the tree: staff are not left out by default


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FilterError(_("%(where)s: the value must be a number") % {"where": where})
    return value


@overload
def _days(node: dict[str, Any], where: str, *, required: Literal[True]) -> int: ...
@overload
def _days(node: dict[str, Any], where: str, *, required: bool = False) -> int | None: ...
def _days(node: dict[str, Any], where: str, *, required: bool = False) -> int | None:
    days = node.get("days")
    if days is None and not required:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
        raise FilterError(_("%(where)s: days must be a whole number from 1 to 3650") % {"where": where})
    return days


def _window_start(workspace: Workspace, days: int, now: datetime) -> date:
    """The first day of "the last N days", today included, in the workspace's time zone."""
    return timezone.localtime(now, workspace.tz).date() - timedelta(days=days - 1)


def _holds_at_zero(op: str, value: float) -> bool:
    return {"gte": 0 >= value, "gt": 0 > value, "lte": 0 <= value, "lt": 0 < value, "eq": value == 0}[op]


def _count_condition(leaf: "Leaf") -> Q:
    workspace, node, where, now, restrict = leaf.workspace, leaf.node, leaf.where, leaf.now, leaf.restrict
    name = node.get("count")
    if name not in COUNTS:
        raise FilterError(_("%(where)s: count must be one of %(names)s") % {"where": where, "names": ", ".join(COUNTS)})
    op = node.get("op", "gte")
    if op not in OPS:
        raise FilterError(_("%(where)s: op must be one of %(ops)s") % {"where": where, "ops": ", ".join(OPS)})
    column, factor = COUNTS[name]
    value = _number(node.get("value"), where) * factor
    days = _days(node, where)
    source: "QuerySet[Any, Any]"
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


def _field_condition(leaf: "Leaf") -> Q:
    node, where = leaf.node, leaf.where
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


def _tag_condition(leaf: "Leaf") -> Q:
    tag_id = leaf.node["tag"]
    tag = leaf.tags.get(tag_id) if isinstance(tag_id, int) and not isinstance(tag_id, bool) else None
    if tag is None:
        raise FilterError(_("%(where)s: tag %(id)s does not exist") % {"where": leaf.where, "id": tag_id})
    if tag.deleted_at is not None:
        raise FilterError(_("%(where)s: the tag “%(tag)s” was deleted; edit the filter") % {"where": leaf.where, "tag": tag})
    return Q(pk__in=leaf.restrict(MemberTag.objects.filter(tag_id=tag_id)).values("member_id"))


def _seen_condition(leaf: "Leaf") -> Q:
    days = _days(leaf.node, leaf.where, required=True)
    since = leaf.now - timedelta(days=days)
    if leaf.node["seen"] == "within":
        return Q(stats__last_seen_at__gte=since)
    if leaf.node["seen"] == "before":
        return Q(stats__last_seen_at__lt=since) | Q(stats__isnull=True)
    raise FilterError(_("%(where)s: seen must be “within” or “before”") % {"where": leaf.where})


def _source_condition(leaf: "Leaf") -> Q:
    value = leaf.node["source"]
    if not isinstance(value, str):
        raise FilterError(_("%(where)s: source must be text (a source such as douyin or 抖音, or \"\" for none)")
                          % {"where": leaf.where})
    return Q(source=source_normalise(value))


def _staff_condition(leaf: "Leaf") -> Q:
    value = leaf.node["staff"]
    if not isinstance(value, bool):
        raise FilterError(_("%(where)s: staff must be true or false") % {"where": leaf.where})
    return Q(is_staff=value)


def _owner_condition(leaf: "Leaf") -> Q:
    owner = leaf.node["owner"]
    if owner is not None and (isinstance(owner, bool) or not isinstance(owner, int)):
        raise FilterError(_("%(where)s: owner must be a staff member's id or null") % {"where": leaf.where})
    return Q(owner__isnull=True) if owner is None else Q(owner_id=owner)


# Every number in a filter fits a signed 64-bit integer, as ids and counts do in both databases.
NUMBER_LIMIT = 2**63 - 1


def _numbers_check(node: object, where: str) -> None:
    """FilterError at the first number no column can hold (an id of 2**63, 10**30, 1e308), before any query."""
    if isinstance(node, dict):
        for key, value in node.items():
            _numbers_check(value, f"{where}.{key}" if where != "filter" else str(key))
    elif isinstance(node, list):
        for n, value in enumerate(node):
            _numbers_check(value, f"{where}.{n}")
    elif isinstance(node, (int, float)) and not isinstance(node, bool) and not -NUMBER_LIMIT <= node <= NUMBER_LIMIT:
        raise FilterError(_("%(where)s: %(value)s is out of range") % {"where": where, "value": node})


# -- the registry of conditions ------------------------------------------------------------------
@dataclass(frozen=True)
class Leaf:
    """What a condition's `compile` gets: one leaf of a filter, and where and when it is evaluated."""

    workspace: Workspace
    node: dict[str, Any]
    where: str  # the leaf's path in the filter (e.g. "all.2"), for FilterError messages
    now: datetime
    restrict: "_Restrict"  # apply to every subquery over member rows: restrict(rows) (live updates: their ids only)
    tags: dict[int, Tag]  # the filter's tags by id, read once for the whole filter


@dataclass(frozen=True)
class Condition:
    """One kind of leaf, {key: …}: how it becomes SQL, and how docs/members.md explains it."""

    key: str
    compile: Callable[[Leaf], Q]  # a Q on Member, or FilterError naming leaf.where
    examples: tuple[str, ...]  # the leaf as JSON (one or more forms), for the filter reference
    meaning: str  # what it matches, for the filter reference (markdown, English)
    app: str = "members"
    # The answer changes with the clock or with analytics, not only with a member's events: segments
    # using it are also recounted on a schedule (members.tasks).
    time_dependent: bool = False


CONDITIONS: dict[str, Condition] = {}  # by key, in registration order (members' own first)


def condition_register(condition: Condition) -> Condition:
    """Add a condition to the filter language (from an app's AppConfig.ready()). A key belongs to one app."""
    known = CONDITIONS.get(condition.key)
    if condition.key in ("all", "any", "not") or (known is not None and known.app != condition.app):
        raise ImproperlyConfigured(f"filter condition {condition.key!r} is taken ({known.app if known else 'the language'})")
    CONDITIONS[condition.key] = condition
    return condition


def filter_reference() -> str:
    """The filter reference table of docs/members.md, from the registered conditions (markdown)."""
    rows = ["| condition | meaning | registered by |", "|---|---|---|"]
    rows += [f"| {' / '.join(f'`{e}`' for e in c.examples)} | {c.meaning} | `{c.app}` |" for c in CONDITIONS.values()]
    return "\n".join(rows) + "\n"


for _condition in (
    Condition(key="tag", compile=_tag_condition, examples=('{"tag": 12}',), meaning="has tag 12"),
    Condition(
        key="count", compile=_count_condition, time_dependent=True,
        examples=('{"count": "messages", "days": 7, "op": "gte", "value": 3}',),
        meaning="`messages`, `orders`, `spend` (yuan), `clicks` (link visits by people) in the last N days, today "
                "included, in the workspace's time zone; without `days`: all time. op `gte`, `gt`, `lte`, `lt`, `eq`",
    ),
    Condition(
        key="field", compile=_field_condition, examples=('{"field": "city", "op": "eq", "value": "杭州"}',),
        meaning="profile field `display_name`, `gender`, `city`, `remark` or `profile.<key>`; op `eq`, `ne`, "
                "`contains`, `empty`, `filled`",
    ),
    Condition(
        key="seen", compile=_seen_condition, time_dependent=True,
        examples=('{"seen": "within", "days": 30}', '{"seen": "before", "days": 30}'),
        meaning="last seen in / not in the last 30 days (never seen counts as \"before\")",
    ),
    Condition(
        key="owner", compile=_owner_condition, examples=('{"owner": 5}', '{"owner": null}'),
        meaning="owned by staff user 5 / by nobody",
    ),
    Condition(
        key="staff", compile=_staff_condition, examples=('{"staff": true}', '{"staff": false}'),
        meaning="is / is not staff (员工: the bot, a group's owner or admin, or marked on the member page); a filter "
                "that names no `staff` condition leaves staff out",
    ),
    Condition(
        key="source", compile=_source_condition, examples=('{"source": "douyin"}', '{"source": ""}'),
        meaning="came from that source (来源 / 渠道, the import's channel column): a known source's key or label "
                "(`douyin` or 抖音; listed under Import and export) or the text as imported / has no source",
    ),
):
    condition_register(_condition)


def _leaf(
    workspace: Workspace, node: dict[str, Any], where: str, now: datetime, tags: dict[int, Tag], restrict: "_Restrict"
) -> tuple[Q, bool]:
    for key, condition in CONDITIONS.items():
        if key in node:
            leaf = Leaf(workspace=workspace, node=node, where=where, now=now, restrict=restrict, tags=tags)
            return condition.compile(leaf), condition.time_dependent
    raise FilterError(_("%(where)s: not a condition Siyu knows (%(keys)s)") % {"where": where, "keys": ", ".join(sorted(node)) or "{}"})


class _Restrict:
    """Applied to every subquery: all members (`everybody`), or only the ids in `among`."""

    def __init__(self, among: Collection[int] | None) -> None:
        self.among = among
        self.everybody = among is None

    def __call__(self, rows: "QuerySet[M]") -> "QuerySet[M]":
        return rows if self.everybody else rows.filter(member_id__in=self.among)


def filter_compile(
    *, workspace: Workspace, filter: object, now: datetime | None = None, among: Collection[int] | None = None
) -> Compiled:
    """The filter as a Q on Member, or FilterError naming the first problem (with its path, e.g. all.2.tag).

    With `among` (member ids), every subquery is restricted to those members too, so a live update
    reads their rows only, not the whole window (the answer for them is the same: membership of one
    member in a subquery does not depend on the other members' rows).
    """
    restrict = _Restrict(among)
    if not isinstance(filter, dict):
        raise FilterError(_("A filter must be an object"))
    _numbers_check(filter, "filter")
    now = now or timezone.now()
    named: set[object] = set()
    _collect_tags(filter, named)
    names_staff = [False]
    tags = {t.pk: t for t in Tag.objects.filter(workspace=workspace, pk__in=[t for t in named if isinstance(t, int)])}
    leaves = [0]
    time_dependent = [False]

    def walk(node: object, where: str, depth: int) -> Q:
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
        names_staff[0] |= "staff" in node
        if leaves[0] > MAX_LEAVES:
            raise FilterError(_("A filter may have at most %(max)s conditions") % {"max": MAX_LEAVES})
        condition, timed = _leaf(workspace, node, where, now, tags, restrict)
        time_dependent[0] |= timed
        return condition

    condition = walk(filter, "filter", 0)
    return Compiled(condition=condition, time_dependent=time_dependent[0], tags=frozenset(tags), names_staff=names_staff[0])


def _collect_tags(node: object, out: set[object]) -> None:
    if isinstance(node, dict):
        if "tag" in node:
            out.add(node["tag"])
        for key in ("all", "any"):
            if isinstance(node.get(key), list):
                for child in node[key]:
                    _collect_tags(child, out)
        if "not" in node:
            _collect_tags(node["not"], out)


def filter_error(*, workspace: Workspace, filter: object) -> str:
    """The message saying why `filter` cannot be used, or "" if it can."""
    try:
        filter_compile(workspace=workspace, filter=filter)
    except FilterError as exc:
        return str(exc)
    return ""



def filter_validate(*, workspace: Workspace, filter: object) -> None:
    """Raise a ValidationError on "filter" (the operator's message) if `filter` cannot be used."""
    try:
        filter_compile(workspace=workspace, filter=filter)
    except FilterError as exc:
        raise ValidationError({"filter": [str(exc)]})


def live_sets_check(*, workspace: Workspace) -> None:
    """After a tag is deleted: segments and rules whose filter no longer compiles get their error set."""
    for model in (Segment, TagRule):
        for item in model.objects.filter(workspace=workspace):
            if getattr(item, "archived_at", None) is not None:
                continue
            try:
                filter_compile(workspace=workspace, filter=item.filter)
            except FilterError as exc:
                model.objects.filter(pk=item.pk).update(error=str(exc)[:300])


def members_matching(
    *, workspace: Workspace, filter: object, now: datetime | None = None, among: Collection[int] | None = None
) -> "QuerySet[Member]":
    """A queryset of the (live: not merged, not erased) members matching the filter (of `among`, if given).
    Staff (members.staff) are left out unless the filter names a {"staff": …} condition."""
    compiled = filter_compile(workspace=workspace, filter=filter, now=now, among=among)
    members = Member.objects.filter(workspace=workspace, merged_into__isnull=True, erased_at__isnull=True)
    if not compiled.names_staff:
        members = members.filter(is_staff=False)
    if among is not None:
        members = members.filter(pk__in=among)
    return members.filter(compiled.condition)


AMONG_CHUNK = 400  # ids per statement: each subquery repeats them, and SQLite binds at most 32,766 values


def filter_member_ids(
    *, workspace: Workspace, filter: object, now: datetime | None = None, among: Iterable[int] | None = None
) -> set[int]:
    """The ids of the members matching the filter now (only those in `among`, if given)."""
    if among is None:
        return set(members_matching(workspace=workspace, filter=filter, now=now).values_list("pk", flat=True))
    ordered = sorted(set(among))
    found: set[int] = set()
    for start in range(0, len(ordered), AMONG_CHUNK):
        chunk = ordered[start : start + AMONG_CHUNK]
        found.update(members_matching(workspace=workspace, filter=filter, now=now, among=chunk).values_list("pk", flat=True))
    return found


def filter_preview(*, workspace: Workspace, filter: object, limit: int = 50, now: datetime | None = None) -> tuple[int, list[Member]]:
    """(count, first `limit` members by number) for the segment builder; FilterError if the filter is bad."""
    members = members_matching(workspace=workspace, filter=filter, now=now)
    return members.count(), list(members.select_related("stats").order_by("number")[:limit])


def segment_member_ids(*, segment: Segment) -> list[int]:
    """The member ids on the segment's live list."""
    return list(SegmentMember.objects.filter(segment=segment).values_list("member_id", flat=True))


def filter_describe(*, workspace: Workspace, filter: object) -> str:
    """The filter in words, for lists and confirmations (in the active language)."""
    tags = {t.pk: str(t) for t in Tag.objects.filter(workspace=workspace)}

    def say(node: Any) -> str:
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
        if "staff" in node:
            return _("staff") if node["staff"] is True else _("not staff")
        if "source" in node:
            return _("source %(source)s") % {"source": source_label(source_normalise(str(node["source"]))) or _("none")}
        if "seen" in node:
            if node["seen"] == "within":
                return _("seen in the last %(days)s days") % {"days": node.get("days")}
            return _("not seen for %(days)s days") % {"days": node.get("days")}
        key = next(iter(node))
        return f"{key} = {node[key]}"

    return say(filter)
