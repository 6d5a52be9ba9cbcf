"""Retention triangle by join week and the lifecycle funnel, from memberships, activity and sales."""
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TypeVar

from siyu.core.models import Workspace
from siyu.groups.models import Membership
from siyu.members.models import MemberDailyActivity

from . import calendar
from .models import Sale, WorkspaceDay
from .rollups import COUNTS, Sql

WEEKS_AFTER = 8
T = TypeVar("T")


@dataclass
class Cohort:
    week: date  # the Monday the cohort's week starts
    size: int
    present: list[int | None]  # per week after (1..8): members still in a group at that week's end (None: not reached)
    speaking: list[int | None]  # per week after: members still in a group who spoke during that week


def _first_joins(sql: Sql, since: datetime) -> dict[int, datetime]:
    """{member: first join} of the members (staff left out) whose first join is at or after `since`."""
    stay = sql.t(Membership)
    rows = sql.rows(
        f"SELECT member_id, MIN(joined_at) FROM {stay} WHERE workspace_id = %s AND {sql.not_staff()} "
        f"GROUP BY member_id HAVING MIN(joined_at) >= %s",
        [sql.workspace.pk, sql.moment(since)],
    )
    return {member: calendar.aware(at) for member, at in rows}


def retention_triangle(*, workspace: Workspace, last: date, weeks: int = 12) -> list[Cohort]:
    """Cohorts of the `weeks` join weeks up to the week of `last`; each followed for 1..8 weeks.

    A member's join week is the local week (Monday to Sunday) of their first join in any group.
    "Present" after k weeks: in at least one group at the end of week k; "speaking": present and sent
    at least one message during week k. A week not complete by `last` is not reached yet (None).
    """
    sql = Sql(workspace)
    last_monday = last - timedelta(days=last.weekday())
    first_monday = last_monday - timedelta(weeks=weeks - 1)
    first = _first_joins(sql, calendar.day_start(sql.tz, first_monday))
    cohort_of = {m: _monday(calendar.local_day(sql.tz, at)) for m, at in first.items()}
    members = list(cohort_of)
    stays: dict[int, list[tuple[datetime, datetime | None]]] = {}
    activity_weeks: dict[int, set[date]] = {}
    stay, mda = sql.t(Membership), sql.t(MemberDailyActivity)
    for chunk in _chunks(members):
        clause, values = sql.in_list("member_id", chunk)
        for member, joined, left in sql.rows(
            f"SELECT member_id, joined_at, left_at FROM {stay} WHERE {clause}", values
        ):
            stays.setdefault(member, []).append((calendar.aware(joined), calendar.aware(left) if left else None))
        for member, day in sql.rows(
            f"SELECT DISTINCT member_id, day FROM {mda} WHERE day >= %s AND day <= %s AND {clause}",
            [sql.day(first_monday), sql.day(last), *values],
        ):
            activity_weeks.setdefault(member, set()).add(_monday(calendar.as_date(day)))
    cohorts = []
    for index in range(weeks):
        week = first_monday + timedelta(weeks=index)
        cohort = [m for m, w in cohort_of.items() if w == week]
        present: list[int | None] = []
        speaking: list[int | None] = []
        for k in range(1, WEEKS_AFTER + 1):
            start = week + timedelta(weeks=k)
            end_day = start + timedelta(days=6)
            if end_day > last:
                present.append(None)
                speaking.append(None)
                continue
            moment = calendar.day_start(sql.tz, end_day + timedelta(days=1))
            here = [m for m in cohort if any(j < moment and (lf is None or lf >= moment) for j, lf in stays.get(m, ()))]
            present.append(len(here))
            speaking.append(sum(1 for m in here if start in activity_weeks.get(m, ())))
        cohorts.append(Cohort(week=week, size=len(cohort), present=present, speaking=speaking))
    return cohorts


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _chunks(values: Sequence[T], size: int = 900) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


@dataclass
class FunnelStep:
    key: str
    count: int
    rate: float | None  # share of the previous step (None for the first, or when it was 0)


def lifecycle_funnel(*, workspace: Workspace, first: date, last: date) -> list[FunnelStep]:
    """Exposures → joined → bought the entry product → spoke → bought → bought again, for people who
    first joined in the period.

    Each step after "joined" counts people of the step before it: entry = new members with an entry
    purchase (Sale.entry, the lead product) in the period, a step only when the period has one; spoke =
    of those, who sent a message in the period; bought = of those, with an order of a paid product in
    the period (not refunded in full); bought again = of those, with two or more paid orders.
    """
    sql = Sql(workspace)
    exposures = sum(
        WorkspaceDay.objects.filter(workspace=workspace, day__gte=first, day__lte=last).values_list("exposures", flat=True)
    )
    start = calendar.day_start(sql.tz, first)
    end = calendar.day_start(sql.tz, last + timedelta(days=1))
    joined = {m for m, at in _first_joins(sql, start).items() if at < end}
    spoke: set[int] = set()
    orders: dict[int, int] = {}
    entry: set[int] = set()
    mda, sale = sql.t(MemberDailyActivity), sql.t(Sale)
    members = sorted(joined)
    for chunk in _chunks(members):
        clause, values = sql.in_list("member_id", chunk)
        spoke.update(m for (m,) in sql.rows(
            f"SELECT DISTINCT member_id FROM {mda} WHERE day >= %s AND day <= %s AND {clause}",
            [sql.day(first), sql.day(last), *values],
        ))
        clause, values = sql.in_list("s.member_id", chunk)
        for member_id, paid, entries in sql.rows(
            f"SELECT s.member_id, SUM(CASE WHEN s.entry THEN 0 ELSE 1 END), SUM(CASE WHEN s.entry THEN 1 ELSE 0 END) "
            f"FROM {sale} s WHERE s.workspace_id = %s AND s.day BETWEEN %s AND %s "
            f"AND s.paid_at IS NOT NULL AND {COUNTS} AND {clause} GROUP BY s.member_id",
            [sql.workspace.pk, sql.day(first), sql.day(last), *values],
        ):
            orders[member_id] = int(paid)
            if entries:
                entry.add(member_id)
    entry &= joined
    counts = [("exposures", exposures), ("joined", len(joined))]
    before = joined
    if entry:
        counts.append(("entry", len(entry)))
        before = entry
    spoke &= before
    bought = {m for m in spoke if orders.get(m, 0) >= 1}
    again = {m for m in bought if orders.get(m, 0) >= 2}
    counts += [("spoke", len(spoke)), ("bought", len(bought)), ("bought_again", len(again))]
    steps, previous = [], None
    for key, count in counts:
        steps.append(FunnelStep(key, count, None if not previous else count / previous))
        previous = count
    return steps
