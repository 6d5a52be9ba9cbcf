"""The operators' metrics (DESIGN.md "Metrics", seeds 003 and 002), one function each.

    totals = period_totals(workspace=ws, first=date(2026, 5, 1), last=date(2026, 5, 31), groups=[…])
    figure = join_rate(totals)   # Figure(value, numerator, denominator, period, formula)

A Figure's value is None ("no data") when its denominator is 0. Totals come from the daily rollups
(one group or the workspace) or are computed on the fly for a set of groups.
"""
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from siyu.core.events import EventType
from siyu.core.models import Event, Workspace
from siyu.groups.models import Membership

from . import calendar
from .models import CampaignTouch, GroupDay, ModelSettings, Sale, SaleGroup, WorkspaceDay
from .rollups import NET, Sql, scope_days


@dataclass
class Totals:
    """What the metrics of one scope over one period are computed from."""

    first: date
    last: date
    days: list[dict[str, Any]] = field(default_factory=list)
    members_start: int = 0
    members_end: int = 0
    joins: int = 0
    leaves: int = 0
    exposures: int = 0
    messages: int = 0
    interaction_sum: float = 0.0  # sum over days with members of speakers / members that day
    member_days: int = 0  # days with members
    orders: int = 0
    revenue_cents: int = 0
    cost_cents: int = 0
    # Buyers of paid products (entry purchases left out), distinct over the period, and their revenue.
    buyers: int | None = None
    paid_revenue_cents: int = 0
    repeat_buyers: int | None = None
    retained: int | None = None
    # Campaign reaches of silent members whose 3 days are over, and those followed by a message within them.
    silent_reached: int | None = None
    woken: int = 0

    @property
    def members_in_period(self) -> int:
        """Everyone in the scope at some moment of the period: at the start, plus each entry."""
        return self.members_start + self.joins


@dataclass(frozen=True)
class Figure:
    key: str
    value: float | None
    numerator: float
    denominator: float
    first: date
    last: date

    @property
    def metric(self) -> "Metric":
        return METRICS[self.key]

    @property
    def no_data(self) -> bool:
        return self.value is None


@dataclass(frozen=True)
class Metric:
    key: str
    label: str | Promise
    formula: str | Promise
    unit: str  # percent, number, money, ratio
    seed: str
    function: Callable[["Totals"], Figure]
    event_types: tuple[int, ...]
    higher_is_better: bool = True
    share: bool = False  # a share of a set of people, always 0-100 % (docs/metrics.md); else a ratio

    @property
    def source(self) -> "str | Promise":
        """The article the formula comes from, named in words (the seed's number is Siyu's own)."""
        return SOURCES[self.seed]

    @property
    def in_cents(self) -> bool:
        """The numerator is money in cents (shown in yuan); for ROI the denominator too."""
        return self.unit == "money" or self.key == "roi"

    def formula_texts(self) -> dict[str, str]:
        """The formula in both console languages."""
        texts = {}
        for language in ("zh-hans", "en"):
            with translation.override(language):
                texts[language] = str(self.formula)
        return texts


def _figure(key: str, numerator: float, denominator: float, totals: Totals) -> Figure:
    value = None if not denominator else numerator / denominator
    return Figure(key, value, numerator, denominator, totals.first, totals.last)


def join_rate(totals: Totals) -> Figure:
    return _figure("join_rate", totals.joins, totals.exposures, totals)


def leave_rate(totals: Totals) -> Figure:
    # Of everyone who was in the scope during the period, the share who left (bounded 0-100 %).
    return _figure("leave_rate", totals.leaves, totals.members_in_period, totals)


def interaction_rate(totals: Totals) -> Figure:
    return _figure("interaction_rate", totals.interaction_sum, totals.member_days, totals)


def messages_per_member(totals: Totals) -> Figure:
    return _figure("messages_per_member", totals.messages, totals.members_in_period, totals)


def retention(totals: Totals) -> Figure:
    if totals.retained is None:
        return Figure("retention", None, 0, 0, totals.first, totals.last)
    return _figure("retention", totals.retained, totals.members_start, totals)


def conversion(totals: Totals) -> Figure:
    # An order that names a group counts for it even when its buyer was no member: such buyers are
    # in the denominator too, so the figure stays a share.
    buyers = totals.buyers or 0
    members = max(totals.members_in_period, buyers) if totals.members_in_period else 0
    return _figure("conversion", buyers, members if totals.buyers is not None else 0, totals)


def average_order_value(totals: Totals) -> Figure:
    return _figure("aov", totals.paid_revenue_cents, totals.buyers or 0, totals)


def roi(totals: Totals) -> Figure:
    return _figure("roi", totals.revenue_cents, totals.cost_cents, totals)


def repurchase_rate(totals: Totals) -> Figure:
    if totals.repeat_buyers is None:
        return Figure("repurchase", None, 0, 0, totals.first, totals.last)
    return _figure("repurchase", totals.repeat_buyers, totals.buyers or 0, totals)


def wake_up_rate(totals: Totals) -> Figure:
    if totals.silent_reached is None:
        return Figure("wake_up", None, 0, 0, totals.first, totals.last)
    return _figure("wake_up", totals.woken, totals.silent_reached, totals)


# The operators' articles the formulas come from (DESIGN.md "Metrics"; docs/metrics.md names them too).
SOURCES: dict[str, "str | Promise"] = {
    "003": _("the article “从0到1搭建私域社群SOP” (Qinggua Media, December 2024), part 6, the metrics of each stage"),
    "002": _("the article “社群运营策略全流程及变现模式”, its part on data monitoring"),
    "002-layers": _("the article “社群运营策略全流程及变现模式”, its part on operating each user tier (wake-up campaigns)"),
}
WAKE_UP_DAYS = 3  # seed 002: 3天内唤醒率达40%

T = EventType
METRICS = {
    m.key: m
    for m in (
        Metric("join_rate", _("Join rate"), _("joins ÷ exposures of the group's links and codes"), "percent",
               "003", join_rate, (T.GROUP_JOINED, T.LINK_EXPOSED, T.LINK_CLICKED)),
        Metric("leave_rate", _("Leave rate"), _("leaves ÷ members in the period (members at the start + joins)"),
               "percent", "003", leave_rate, (T.GROUP_LEFT,), higher_is_better=False, share=True),
        Metric("interaction_rate", _("Interaction rate"),
               _("average over the days of (members who spoke that day ÷ members that day)"), "percent",
               "003", interaction_rate, (T.GROUP_MESSAGE,), share=True),
        Metric("messages_per_member", _("Messages per member"),
               _("messages ÷ members in the period (members at the start + joins)"), "number",
               "003", messages_per_member, (T.GROUP_MESSAGE,)),
        Metric("retention", _("Retention"),
               _("members at the end who were also members at the start ÷ members at the start"), "percent",
               "003", retention, (T.GROUP_JOINED, T.GROUP_LEFT), share=True),
        Metric("conversion", _("Conversion"),
               _("buyers of paid products (not the entry purchase; orders not refunded in full) ÷ members in the period"), "percent",
               "003", conversion, (T.ORDER_PAID, T.ORDER_REFUNDED), share=True),
        Metric("aov", _("Average order value (per buyer)"), _("revenue of paid products net of refunds ÷ their buyers"), "money",
               "003", average_order_value, (T.ORDER_PAID, T.ORDER_REFUNDED)),
        Metric("roi", _("ROI"), _("revenue net of refunds ÷ cost"), "ratio",
               "003", roi, (T.ORDER_PAID, T.ORDER_REFUNDED, T.COST_RECORDED)),
        Metric("repurchase", _("Repurchase rate"), _("buyers with 2 or more orders of paid products in the period ÷ buyers of paid products"), "percent",
               "002", repurchase_rate, (T.ORDER_PAID, T.ORDER_REFUNDED), share=True),
        Metric("wake_up", _("Wake-up rate"),
               _("silent members reached by a campaign who spoke within 3 days ÷ silent members reached (silent: no "
                 "message in the activity window before, 7 days by default)"), "percent",
               "002-layers", wake_up_rate, (T.CAMPAIGN_TOUCHED, T.GROUP_MESSAGE), share=True),
    )
}


def figures(totals: Totals) -> dict[str, Figure]:
    """Every metric of one Totals, in display order."""
    return {key: metric.function(totals) for key, metric in METRICS.items()}


def trend(key: str, totals: Totals) -> list[tuple[date, float | None]]:
    """The metric's daily values over the period (None on days without data or where a day says nothing)."""
    function = METRICS[key].function
    return [(row["day"], function(_totals_from_rows([row], row["day"], row["day"])).value) for row in totals.days]


# -- building Totals ----------------------------------------------------------------------------
def _totals_from_rows(rows: list[dict[str, Any]], first: date, last: date) -> Totals:
    totals = Totals(first=first, last=last, days=rows)
    if rows:
        totals.members_start = rows[0]["members_start"]
        totals.members_end = rows[-1]["members_end"]
    for row in rows:
        for name in ("joins", "leaves", "exposures", "messages", "orders", "revenue_cents", "cost_cents"):
            setattr(totals, name, getattr(totals, name) + row[name])
        present = row["members_start"] + row["joins"]
        if present:
            totals.interaction_sum += row["speakers"] / max(present, row["speakers"])
            totals.member_days += 1
    if len(rows) == 1:
        totals.buyers = rows[0].get("paid_buyers", 0)
        totals.paid_revenue_cents = rows[0].get("paid_revenue_cents", 0)
    return totals


def _fill_days(rows: Iterable[dict[str, Any]], first: date, last: date) -> list[dict[str, Any]]:
    """Day rows for every day of the period; days before a scope existed are left out."""
    by_day = {calendar.as_date(row["day"]): row for row in rows}
    filled: list[dict[str, Any]] = []
    previous: dict[str, Any] | None = None
    for day in calendar.days(first, last):
        row = by_day.get(day)
        if row is None and previous is not None:
            row = {"day": day, **{n: 0 for n in GroupDay.FIGURES}}
            row["members_start"] = row["members_end"] = previous["members_end"]
        if row is not None:
            row["day"] = day
            filled.append(row)
            previous = row
    return filled


def period_totals(
    *, workspace: Workspace, first: date, last: date, group: int | None = None, groups: Collection[int] | None = None
) -> Totals:
    """Totals of the workspace, one group (id) or a set of group ids, from `first` to `last` (local days)."""
    sql = Sql(workspace)
    values = ("day", *GroupDay.FIGURES)
    if group is not None:
        rows = list(GroupDay.objects.filter(group_id=group, day__gte=first, day__lte=last).order_by("day").values(*values))
    elif groups is not None:
        rows = scope_days(sql, first, last, groups=groups)
    else:
        rows = list(
            WorkspaceDay.objects.filter(workspace=workspace, day__gte=first, day__lte=last).order_by("day").values(*values)
        )
    scope = [group] if group is not None else groups
    # Each day's buyers and revenue of paid products, for the trends of conversion and AOV.
    daily = _buyers(sql, first, last, scope, per_day=True)
    totals = _totals_from_rows(_fill_days(rows, first, last), first, last)
    totals.buyers, totals.repeat_buyers, totals.paid_revenue_cents = _buyers(sql, first, last, scope).get(None, (0, 0, 0))
    for row in totals.days:
        row["paid_buyers"], _repeat, row["paid_revenue_cents"] = daily.get(row["day"], (0, 0, 0))
    totals.retained = _retained(sql, first, last, scope).get(None, 0)
    totals.silent_reached, totals.woken = _woken(sql, first, last, scope).get(None, (0, 0))
    return totals


def group_totals(*, workspace: Workspace, first: date, last: date) -> dict[int, Totals]:
    """{group id: Totals} for every group with rows in the period, in a few queries (the groups table).

    The sums are taken by the database; members at the start and end come from each group's first and
    last row in the period (a group created mid-period starts with its first day).
    """
    sql = Sql(workspace)
    table = sql.t(GroupDay)
    period = [workspace.pk, sql.day(first), sql.day(last)]
    present = "(members_start + joins)"
    # Speakers the memberships do not show as members (an out-of-order delivery) join the denominator.
    in_room = f"(CASE WHEN speakers > {present} THEN speakers ELSE {present} END)"
    sums = sql.rows(
        f"SELECT group_id, MIN(day), MAX(day), SUM(joins), SUM(leaves), SUM(exposures), SUM(messages), SUM(orders), "
        f"SUM(revenue_cents), SUM(cost_cents), SUM(CASE WHEN {present} > 0 THEN speakers * 1.0 / {in_room} ELSE 0 END), "
        f"SUM(CASE WHEN {present} > 0 THEN 1 ELSE 0 END) FROM {table} "
        f"WHERE workspace_id = %s AND day BETWEEN %s AND %s GROUP BY group_id",
        period,
    )
    # Members at the start: the row of the first day (a group whose rows begin later had nobody before
    # them). Members at the end: the row of the last day, else the group's last row in the period.
    edges: dict[int, Any] = {}
    for group_id, day, members_start, members_end in sql.rows(
        f"SELECT group_id, day, members_start, members_end FROM {table} WHERE workspace_id = %s AND day IN (%s, %s)",
        [workspace.pk, sql.day(first), sql.day(last)],
    ):
        edges.setdefault(group_id, {})[calendar.as_date(day)] = (members_start, members_end)
    missing_end = [row[0] for row in sums if last not in edges.get(row[0], {})]
    if missing_end:
        clause, values = sql.in_list("g.group_id", missing_end)
        for group_id, members_end in sql.rows(
            f"SELECT g.group_id, g.members_end FROM {table} g WHERE {clause} AND g.day = (SELECT MAX(day) FROM {table} "
            f"WHERE group_id = g.group_id AND day BETWEEN %s AND %s)",
            [*values, sql.day(first), sql.day(last)],
        ):
            edges.setdefault(group_id, {})["end"] = (0, members_end)
    buyers = _buyers(sql, first, last, None, per_group=True)
    retained = _retained(sql, first, last, None, per_group=True)
    woken = _woken(sql, first, last, None, per_group=True)
    result = {}
    for group_id, _first_day, _last_day, *figures in sums:
        joins, leaves, exposures, messages, orders, revenue, cost, interaction, member_days = figures
        edge = edges.get(group_id, {})
        # int() and float(): PostgreSQL's SUM of a bigint is a numeric (a Decimal in Python).
        totals = Totals(
            first=first, last=last, members_start=edge.get(first, (0, 0))[0], members_end=(edge.get(last) or edge["end"])[1],
            joins=int(joins), leaves=int(leaves), exposures=int(exposures), messages=int(messages), orders=int(orders),
            revenue_cents=int(revenue), cost_cents=int(cost), interaction_sum=float(interaction), member_days=int(member_days),
        )
        totals.buyers, totals.repeat_buyers, totals.paid_revenue_cents = buyers.get(group_id, (0, 0, 0))
        totals.retained = retained.get(group_id, 0)
        totals.silent_reached, totals.woken = woken.get(group_id, (0, 0))
        result[group_id] = totals
    return result


def _buyers(
    sql: Sql, first: date, last: date, scope: Iterable[int] | None, *, per_group: bool = False, per_day: bool = False
) -> dict[Any, tuple[int, int, int]]:
    """{key: (buyers, buyers with 2+ orders, revenue)} of **paid products** over the period; key None
    for the scope, else group id (`per_group`) or local day (`per_day`).

    Entry purchases (Sale.entry: the lead product that brings people in) are left out: they are no
    conversion. For a group, a buyer's orders are their attributions to it; for the workspace or a set
    of groups, their distinct attributed sales (each counted once, also in the revenue).
    """
    params: list[Any] = [sql.workspace.pk, sql.day(first), sql.day(last), True, False]
    where = "sg.workspace_id = %s AND sg.day BETWEEN %s AND %s AND sg.counts = %s AND s.entry = %s"
    if scope is not None:
        clause, values = sql.in_list("sg.group_id", list(scope) or [0])
        where += f" AND {clause}"
        params += values
    source = f"{sql.t(SaleGroup)} sg JOIN {sql.t(Sale)} s ON s.id = sg.sale_id"
    if per_group:
        inner = (f"SELECT sg.group_id AS k, sg.member_id, COUNT(*) AS n, SUM({NET}) AS net FROM {source} WHERE {where} "
                 f"GROUP BY sg.group_id, sg.member_id")
    else:
        key = "sg.day" if per_day else "NULL"
        inner = (f"SELECT k, member_id, COUNT(*) AS n, SUM(net) AS net FROM (SELECT DISTINCT {key} AS k, sg.member_id, "
                 f"s.id, {NET} AS net FROM {source} WHERE {where}) sales GROUP BY k, member_id")
    rows = sql.rows(
        f"SELECT k, COUNT(*), SUM(CASE WHEN n >= 2 THEN 1 ELSE 0 END), SUM(net) FROM ({inner}) per_buyer GROUP BY k", params
    )
    if per_day:
        return {calendar.as_date(k): (int(b), int(r), int(net or 0)) for k, b, r, net in rows}
    return {k: (int(b), int(r), int(net or 0)) for k, b, r, net in rows}


def _retained(
    sql: Sql, first: date, last: date, scope: Iterable[int] | None, *, per_group: bool = False
) -> dict[int | None, int]:
    """{key: members at the end who were also members at the start}; key None or group id.

    Counted per person: someone who left and came back within the period is retained. Driven by the
    stays open at the end (an index range), each checked once: a stay that began before the start
    covered it; a later one counts if the same person (in the same group, per group) had a stay
    covering the start.
    """
    ws = sql.workspace.pk
    start = sql.moment(calendar.day_start(sql.tz, first))
    end = sql.moment(calendar.day_start(sql.tz, last + timedelta(days=1)))
    stay = sql.t(Membership)
    group_filter = ""
    group_params: list[Any] = []
    if scope is not None:
        clause, group_params = sql.in_list("m.group_id", list(scope) or [0])
        group_filter = f" AND {clause}"
    same_group = " AND b.group_id = m.group_id" if per_group else group_filter.replace("m.group_id", "b.group_id")
    key, counted = ("m.group_id", "COUNT(*)") if per_group else ("NULL", "COUNT(DISTINCT m.member_id)")
    covers_start = (
        f"m.joined_at < %s{group_filter} AND (m.joined_at < %s OR EXISTS (SELECT 1 FROM {stay} b "
        f"WHERE b.member_id = m.member_id{same_group} AND b.joined_at < %s AND (b.left_at IS NULL OR b.left_at >= %s)))"
    )
    part_params = [end, *group_params, start, *([] if per_group else group_params), start, start]
    # Two index ranges (still open; left after the end) instead of one OR that SQLite cannot range-scan.
    rows = sql.rows(
        f"SELECT k, {counted.replace('m.member_id', 'member_id')} FROM ("
        f"SELECT {key} AS k, m.member_id FROM {stay} m WHERE m.workspace_id = %s AND m.left_at IS NULL AND {covers_start} "
        f"AND {sql.not_staff('m.member_id')} "
        f"UNION ALL SELECT {key} AS k, m.member_id FROM {stay} m WHERE m.workspace_id = %s AND m.left_at >= %s "
        f"AND {covers_start} AND {sql.not_staff('m.member_id')}) open_at_end GROUP BY k",
        [ws, *part_params, ws, end, *part_params],
    )
    return dict(rows)


def _woken(
    sql: Sql, first: date, last: date, scope: Iterable[int] | None, *, per_group: bool = False
) -> dict[int | None, tuple[int, int]]:
    """{key: (silent members reached, of them those who spoke within WAKE_UP_DAYS)}; key None or group id.

    A reach is a campaign's first touch of a member (CampaignTouch) in the period, while the member was
    in a group of the scope (for the workspace: any group), whose WAKE_UP_DAYS are over by now. Silent:
    no message (an edit is none) in any group in the activity window (ModelSettings, 7 days) before it.
    Woken: a message in any group after it, within WAKE_UP_DAYS. A member reached by two campaigns counts
    twice. Both checks are range reads of the ledger's (member, occurred_at) index.
    """
    ws = sql.workspace.pk
    silent_days = (ModelSettings.objects.filter(workspace_id=ws).values_list("activity_window_days", flat=True).first()
                   or ModelSettings._meta.get_field("activity_window_days").get_default())
    start = sql.moment(calendar.day_start(sql.tz, first))
    end = sql.moment(calendar.day_start(sql.tz, last + timedelta(days=1)))
    over = sql.moment(timezone.now() - timedelta(days=WAKE_UP_DAYS))
    group_filter = ""
    group_params: list[Any] = []
    if scope is not None:
        clause, group_params = sql.in_list("m.group_id", list(scope) or [0])
        group_filter = f" AND {clause}"
    key = "m.group_id" if per_group else "NULL"
    ledger = sql.t(Event)
    message = (f"SELECT 1 FROM {ledger} e WHERE e.member_id = t.member_id AND e.type = {int(EventType.GROUP_MESSAGE)} "
               f"AND {sql.json_absent('e.data', 'replaces')} AND ")
    spoke_before = f"{message}e.occurred_at >= {sql.plus_days('t.first_at', -int(silent_days))} AND e.occurred_at < t.first_at"
    spoke_after = f"{message}e.occurred_at > t.first_at AND e.occurred_at <= {sql.plus_days('t.first_at', WAKE_UP_DAYS)}"
    # The ledger is read once per reach (the inner query), then each reach is matched with its stays.
    rows = sql.rows(
        f"SELECT k, COUNT(*), SUM(woken) FROM (SELECT DISTINCT {key} AS k, r.id, r.woken FROM ("
        f"SELECT t.id, t.member_id, t.first_at, CASE WHEN EXISTS ({spoke_after}) THEN 1 ELSE 0 END AS woken "
        f"FROM {sql.t(CampaignTouch)} t WHERE t.workspace_id = %s AND t.first_at >= %s AND t.first_at < %s "
        f"AND t.first_at <= %s AND NOT EXISTS ({spoke_before})) r "
        f"JOIN {sql.t(Membership)} m ON m.member_id = r.member_id AND m.joined_at <= r.first_at "
        f"AND (m.left_at IS NULL OR m.left_at > r.first_at){group_filter}) reached GROUP BY k",
        [ws, start, end, over, *group_params],
    )
    return {k: (int(n), int(w or 0)) for k, n, w in rows}
