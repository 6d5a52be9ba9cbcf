"""Daily rollups and the facts they need, kept current from a watermark and rebuildable.

    rollups_refresh(workspace=ws)   # read the ledger after the watermark, recompute what it touched
    rollups_rebuild(workspace=ws)   # forget everything and recompute from the ledger and projections

Both run the same steps, so a refresh after any sequence of batches leaves the same rows as a rebuild:
1. facts: sales (orders net of refunds), costs, invites and campaign touches from the new events;
2. attribution: which groups each new or affected sale counts for;
3. rollups: every GroupDay and WorkspaceDay row from the earliest day the new events touched up to today
   is recomputed from the projections ingest keeps (memberships, member daily activity, group daily
   stats) and the facts; members at the start and end of each day follow from the stays;
4. member models for the members the new events name (and everyone once a day, as windows move).
"""
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import orjson
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import F, Model
from django.utils import timezone

from siyu.core.db import UTC, chunked, insert_many, sqlite_datetime, upsert
from siyu.core.events import EventType
from siyu.core.ingest import ledger_high_water
from siyu.core.models import Event, Workspace
from siyu.groups.models import GroupDailyStats, Membership
from siyu.members.models import Member, MemberDailyActivity

from . import calendar
from .models import (
    CampaignTouch, Cost, GroupDay, Invite, MemberModel, ModelSettings, Sale, SaleGroup, Watermark, WorkspaceDay,
)
from .tiers import member_models_update, model_settings_get

log = logging.getLogger(__name__)

# Events whose details become facts; the ledger has a partial index on exactly these types.
FACT_TYPES = (
    int(EventType.GROUP_JOINED), int(EventType.ORDER_PAID), int(EventType.ORDER_REFUNDED),
    int(EventType.COST_RECORDED), int(EventType.CAMPAIGN_TOUCHED),
)
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
ATTRIBUTION_WINDOW = timedelta(days=1)  # an order with no group counts for a group joined within a day after it
CHUNK = 900


@dataclass(frozen=True)
class RefreshResult:
    events: int | None  # None after a rebuild: the whole ledger was read
    first_day: date | None
    last_day: date
    members: int


class Sql:
    """Raw SQL on the default connection, with parameters in the form each database stores them."""

    def __init__(self, workspace: Workspace) -> None:
        self.db = connections[DEFAULT_DB_ALIAS]
        self.vendor = self.db.vendor
        self.sqlite = self.vendor == "sqlite"
        self.workspace = workspace
        self.zone = workspace.time_zone
        self.tz = workspace.tz

    @property
    def by_id_range(self) -> str:
        """The ledger's workspace column for queries that read new events by id: on SQLite the unary
        plus keeps the planner off the (workspace, source, source_id) index, which would visit every
        event of the workspace, so it walks the id range instead."""
        return "+workspace_id" if self.sqlite else "workspace_id"

    def t(self, model: type[Model]) -> str:
        return self.db.ops.quote_name(model._meta.db_table)

    def moment(self, value: datetime | None) -> Any:
        return sqlite_datetime(value) if self.sqlite else value

    def day(self, value: date) -> Any:
        return value.isoformat() if self.sqlite else value

    def local_day(self, column: str) -> str:
        return calendar.local_day_sql(column, self.zone, self.vendor)

    def rows(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        with self.db.cursor() as cursor:
            cursor.execute(sql, list(params))
            return cursor.fetchall()

    def run(self, sql: str, params: Iterable[Any] = ()) -> int:
        with self.db.cursor() as cursor:
            cursor.execute(sql, list(params))
            return cursor.rowcount

    def in_list(self, column: str, values: Iterable[Any]) -> tuple[str, list[Any]]:
        values = list(values)
        return f"{column} IN ({', '.join(['%s'] * len(values))})", values

    def plus_window(self, column: str) -> str:
        return self.plus_days(column, 1)

    def plus_days(self, column: str, days: int) -> str:
        """The moment in `column` shifted by a whole number of days (negative: earlier)."""
        if self.sqlite:
            # Same text form as stored timestamps, so comparisons stay lexicographic.
            return f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', {column}, '{days:+d} day')"
        return f"{column} + interval '{days} day'"

    def not_staff(self, column: str = "member_id") -> str:
        """True where `column` is no staff member (members.staff): member figures leave staff out. The
        workspace id is an integer from the database, written into the statement like a table name."""
        return (f"{column} NOT IN (SELECT id FROM {self.t(Member)} WHERE workspace_id = {int(self.workspace.pk)} "
                f"AND is_staff)")

    def json_absent(self, column: str, key: str) -> str:
        """True where the JSON object in `column` has no `key` (a literal name, never user input)."""
        if self.sqlite:
            return f"json_extract({column}, '$.{key}') IS NULL"
        return f"({column} ->> '{key}') IS NULL"


# -- entry points ---------------------------------------------------------------------------------
def rollups_refresh(*, workspace: Workspace, today: date | None = None) -> RefreshResult:
    """Process the events appended since the watermark. Transactional and idempotent."""
    up_to = ledger_high_water(workspace=workspace)  # before our transaction: it waits for writers in flight
    with transaction.atomic():
        return _refresh(workspace, today=today, full=False, up_to=up_to)


def rollups_refresh_recorded(*, workspace: Workspace) -> RefreshResult | None:
    """rollups_refresh, but a failure is recorded on the workspace's watermark (its dashboard says so) and
    None returned instead of raising; a success clears the record. The refresh itself stays all or nothing."""
    try:
        result = rollups_refresh(workspace=workspace)
    except Exception as exc:  # one workspace's bad data must not stop the figures of the others
        log.exception("analytics: refreshing workspace %s failed", workspace.pk)
        Watermark.objects.update_or_create(
            workspace=workspace, defaults={"failed_at": timezone.now(), "failure": f"{type(exc).__name__}: {exc}"[:500]}
        )
        return None
    Watermark.objects.filter(workspace=workspace, failed_at__isnull=False).update(failed_at=None, failure="")
    return result


def rollups_rebuild(*, workspace: Workspace, today: date | None = None) -> RefreshResult:
    """Delete every analytics row of the workspace and recompute from the ledger. Transactional."""
    with transaction.atomic():
        sql = Sql(workspace)
        # Plain DELETEs: the ORM would first load every row to look for cascades (there are none left
        # once SaleGroup goes first).
        for model in (SaleGroup, Sale, Cost, Invite, CampaignTouch, GroupDay, WorkspaceDay, MemberModel, Watermark):
            sql.run(f"DELETE FROM {sql.t(model)} WHERE workspace_id = %s", [workspace.pk])
        return _refresh(workspace, today=today, full=True, up_to=ledger_high_water(workspace=workspace))


def _refresh(workspace: Workspace, *, today: date | None, full: bool, up_to: int) -> RefreshResult:
    sql = Sql(workspace)
    mark, _ = Watermark.objects.get_or_create(workspace=workspace)
    if sql.vendor == "postgresql":
        mark = Watermark.objects.select_for_update().get(pk=mark.pk)  # one refresher per workspace at a time
    today = today or calendar.local_day(sql.tz, timezone.now())
    if full:
        # Everything is read again: no need to count or date the new events first.
        last_id, count, earliest = up_to, None, None
    else:
        last_id, count, earliest = _new_events(sql, mark.last_event_id, up_to)
    since = None
    touched_members: set[int] = set()
    if full or count:
        since, touched_members = _facts_apply(sql, mark.last_event_id, last_id, full=full)
        if earliest is not None:
            since = min(since or earliest, earliest)
    first_day = calendar.local_day(sql.tz, since) if since else None
    end = max(today, _last_data_day(sql) or today)  # rows run to today or the last day with group data
    if mark.last_day is not None and mark.last_day < end:
        # New days (today moved on, or new events dated after the last row): extend the rows from the
        # day after the last one, even when the new events start later, or the days between are missing.
        first_day = min(first_day or end, mark.last_day + timedelta(days=1))
    data_starts = _first_data_day(sql)
    if full or data_starts is None:
        first_day = data_starts
    elif first_day is not None:
        first_day = max(first_day, data_starts)  # no rows before the first day with data
    last_day = today
    if first_day is not None:
        last_day = end
        _recompute(sql, first_day, last_day)
    daily = mark.refreshed_at is None or full or calendar.local_day(sql.tz, mark.refreshed_at) < today
    updated = member_models_update(
        workspace=workspace, members=None if daily else touched_members, today=today,
    )
    mark.last_event_id = max(mark.last_event_id, last_id)
    mark.refreshed_at = timezone.now()
    mark.last_day = max(last_day, mark.last_day or last_day)
    mark.save()
    return RefreshResult(events=count, first_day=first_day, last_day=last_day, members=updated)


def _new_events(sql: Sql, after_id: int, up_to: int) -> tuple[int, int, datetime | None]:
    (last_id, count, earliest), = sql.rows(
        f"SELECT MAX(id), COUNT(*), MIN(occurred_at) FROM {sql.t(Event)} WHERE {sql.by_id_range} = %s AND id > %s AND id <= %s",
        [sql.workspace.pk, after_id, up_to],
    )
    return last_id or after_id, count, calendar.aware(earliest)  # SQLite returns an aggregate's timestamp as text


def _first_data_day(sql: Sql) -> date | None:
    candidates: list[date | str] = [
        row[0] for row in sql.rows(
            f"SELECT MIN(day) FROM {sql.t(GroupDailyStats)} WHERE workspace_id = %s "
            f"UNION ALL SELECT MIN(day) FROM {sql.t(Sale)} WHERE workspace_id = %s "
            f"UNION ALL SELECT MIN(day) FROM {sql.t(Cost)} WHERE workspace_id = %s",
            [sql.workspace.pk] * 3,
        ) if row[0] is not None
    ]
    return min(map(calendar.as_date, candidates)) if candidates else None


def _last_data_day(sql: Sql) -> date | None:
    (day,), = sql.rows(f"SELECT MAX(day) FROM {sql.t(GroupDailyStats)} WHERE workspace_id = %s", [sql.workspace.pk])
    return calendar.as_date(day)


# -- facts ----------------------------------------------------------------------------------------
def _facts_apply(sql: Sql, after_id: int, up_to_id: int, *, full: bool = False) -> tuple[datetime | None, set[int]]:
    """Turn new fact events into rows; return (earliest moment whose days changed, members touched).

    `full` (a rebuild): every sale is attributed in one pass instead of member by member.
    """
    ws = sql.workspace
    # The type list is written out, not bound: SQLite uses a partial index only when the query's
    # terms visibly match the index's condition.
    rows = sql.rows(
        f"SELECT id, type, occurred_at, member_id, group_id, source, data FROM {sql.t(Event)} "
        f"WHERE workspace_id = %s AND type IN ({', '.join(map(str, FACT_TYPES))}) AND id > %s AND id <= %s ORDER BY id",
        [ws.pk, after_id, up_to_id],
    )
    lead_products = ModelSettings.products(model_settings_get(workspace=ws).lead_products)
    sales: dict[Any, Any] = {}
    refunds: dict[Any, Any] = {}
    costs: list[Any] = []
    touches: dict[Any, Any] = {}
    invites: list[Any] = []
    moved: dict[int, datetime] = {}  # member -> earliest join or leave among the new events (re-attributes their sales)
    members = set()
    earliest = None
    for event_id, type_, occurred_at, member_id, group_id, source, data in rows:
        occurred_at = calendar.aware(occurred_at)
        data = orjson.loads(data) if isinstance(data, (str, bytes)) else data
        if member_id:
            members.add(member_id)
        if type_ == EventType.ORDER_PAID:
            sale = sales.setdefault(data["order_id"], _sale_row(ws, data["order_id"]))
            if sale["paid_at"] is None:
                sale.update(
                    member=member_id, paid_at=occurred_at, day=calendar.local_day(sql.tz, occurred_at),
                    amount_cents=data["amount_cents"], discount_cents=_cents(data.get("discount_cents")),
                    product=str(data.get("product", ""))[:64], group=group_id,
                    entry=order_is_entry(data, lead_products),
                )
        elif type_ == EventType.ORDER_REFUNDED:
            refunds[data["order_id"]] = refunds.get(data["order_id"], 0) + data["amount_cents"]
        elif type_ == EventType.COST_RECORDED:
            costs.append({"workspace": ws.pk, "group": group_id, "day": calendar.local_day(sql.tz, occurred_at),
                          "amount_cents": data["amount_cents"], "event_id": event_id})
            earliest = min(earliest or occurred_at, occurred_at)
        elif type_ == EventType.CAMPAIGN_TOUCHED and member_id:
            key = (member_id, str(data["campaign"]))
            touches[key] = min(touches.get(key, occurred_at), occurred_at)
        elif type_ == EventType.GROUP_JOINED and member_id:
            moved[member_id] = min(moved.get(member_id, occurred_at), occurred_at)
            if isinstance(data.get("inviter"), str):
                invites.append((source, data["inviter"], member_id, occurred_at))
    # Every member the new events name gets their model recomputed; leaves move attribution too. A
    # rebuild recomputes every model and attributes every sale, so it skips this scan of the ledger.
    # A member marked or unmarked as staff (a role change, an operator's mark) changes the member figures
    # of every day they were in a group: those days are recomputed from their first stay.
    restaffed: list[int] = []
    # A role change to KOC (the simulator's common one) changes no staff mark: only owner, admin and member.
    role = "json_extract(data, '$.role')" if sql.sqlite else "(data ->> 'role')"
    staff_changed_sql = (
        f"type = {int(EventType.MEMBER_STAFF_CHANGED)} OR (type = {int(EventType.GROUP_ROLE_CHANGED)} "
        f"AND {role} IN ('owner', 'admin', 'member'))"
    )
    for member_id, left_at, staff_changed in () if full else sql.rows(
        f"SELECT member_id, MIN(CASE WHEN type = {int(EventType.GROUP_LEFT)} THEN occurred_at END), "
        f"MAX(CASE WHEN {staff_changed_sql} THEN 1 ELSE 0 END) FROM {sql.t(Event)} "
        f"WHERE {sql.by_id_range} = %s AND id > %s AND id <= %s AND member_id IS NOT NULL GROUP BY member_id",
        [ws.pk, after_id, up_to_id],
    ):
        members.add(member_id)
        if left_at is not None:
            left_at = calendar.aware(left_at)
            moved[member_id] = min(moved.get(member_id, left_at), left_at)
        if staff_changed:
            restaffed.append(member_id)
    for chunk in chunked(restaffed, CHUNK):
        clause, params = sql.in_list("member_id", chunk)
        (first_stay,), = sql.rows(f"SELECT MIN(joined_at) FROM {sql.t(Membership)} WHERE {clause}", params)
        if first_stay is not None:
            first_stay = calendar.aware(first_stay)
            earliest = min(earliest or first_stay, first_stay)
    earliest = _sales_apply(sql, sales, refunds, earliest, empty=full)
    upsert(Cost, costs, key=["event_id"])  # a cost already stored is skipped
    _touches_apply(sql, touches)
    _invites_apply(sql, invites)
    # Attribution: new sales, and every sale of a member whose stays changed from a day before.
    attribute_members = {s["member"] for s in sales.values() if s["member"]} | set(moved)
    refunded = set(refunds)
    if full:
        _attribute(sql, members=None, since=None)
    elif attribute_members:
        start = min([s["paid_at"] for s in sales.values() if s["paid_at"]] + [t - ATTRIBUTION_WINDOW for t in moved.values()])
        _attribute(sql, members=attribute_members, since=start)
        earliest = min(earliest or start, start)
    if refunded and not full:
        _sale_groups_recount(sql, refunded)
    return earliest, members


def _sale_groups_recount(sql: Sql, order_ids: Iterable[str]) -> None:
    """Recompute `counts` of the attributions of sales refunded since they were attributed."""
    sale, sale_group = sql.t(Sale), sql.t(SaleGroup)
    for chunk in chunked(sorted(order_ids), CHUNK):
        clause, values = sql.in_list("s.order_id", chunk)
        sql.run(
            f"UPDATE {sale_group} SET counts = (SELECT {COUNTS} FROM {sale} s WHERE s.id = {sale_group}.sale_id) "
            f"WHERE sale_id IN (SELECT s.id FROM {sale} s WHERE s.workspace_id = %s AND {clause})",
            [sql.workspace.pk, *values],
        )


def _cents(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def order_is_entry(data: dict[str, Any], lead_products: set[str]) -> bool:
    """An entry (引流) purchase: `data.product_kind` says "entry"; without a kind, its product is one
    of the workspace's lead products (ModelSettings.lead_products)."""
    kind = data.get("product_kind")
    if kind is not None:
        return kind == "entry"
    return str(data.get("product", ""))[:64] in lead_products


def _sale_row(ws: Workspace, order_id: str) -> dict[str, Any]:
    return {"workspace": ws.pk, "order_id": order_id, "member": None, "paid_at": None, "day": None,
            "amount_cents": 0, "refunded_cents": 0, "discount_cents": 0, "product": "", "group": None, "entry": False}


def _sales_apply(
    sql: Sql, sales: dict[Any, Any], refunds: dict[Any, Any], earliest: datetime | None, *, empty: bool = False
) -> datetime | None:
    """Insert new sales and add refunds; a refund's effect lands on its sale's day.

    `empty`: the table holds no sale of the workspace yet (a rebuild), so nothing is looked up.
    """
    ws = sql.workspace
    known: dict[Any, Any] = {}
    for chunk in () if empty else chunked(set(sales) | set(refunds), CHUNK):
        known.update(
            (order_id, (pk, paid_at, day))
            for order_id, pk, paid_at, day in Sale.objects.filter(workspace=ws, order_id__in=chunk).values_list(
                "order_id", "pk", "paid_at", "day"
            )
        )
    new_rows, fill, add_refund = [], [], []
    for order_id, row in sales.items():
        row["refunded_cents"] = refunds.pop(order_id, 0)
        if order_id not in known:
            new_rows.append(row)
        else:
            pk, paid_at, _day = known[order_id]
            if paid_at is None:  # its refund came first
                fill.append((pk, row))
                if row["refunded_cents"]:
                    add_refund.append((pk, row["refunded_cents"]))
            elif row["refunded_cents"]:
                add_refund.append((pk, row["refunded_cents"]))
        if row["paid_at"]:
            earliest = min(earliest or row["paid_at"], row["paid_at"])
    for order_id, amount in refunds.items():
        if order_id in known:
            pk, paid_at, day = known[order_id]
            add_refund.append((pk, amount))
            if paid_at:
                moment = calendar.day_start(sql.tz, day)
                earliest = min(earliest or moment, moment)
        else:
            new_rows.append({**_sale_row(sql.workspace, order_id), "refunded_cents": amount})
    insert_many(Sale, new_rows)
    for pk, row in fill:
        Sale.objects.filter(pk=pk).update(
            member_id=row["member"], paid_at=row["paid_at"], day=row["day"], amount_cents=row["amount_cents"],
            discount_cents=row["discount_cents"], product=row["product"], group_id=row["group"], entry=row["entry"],
        )
    for pk, amount in add_refund:
        Sale.objects.filter(pk=pk).update(refunded_cents=F("refunded_cents") + amount)
    return earliest


def _touches_apply(sql: Sql, touches: dict[tuple[int, str], datetime]) -> None:
    upsert(
        CampaignTouch,
        [{"workspace": sql.workspace.pk, "member": m, "campaign": c[:191], "first_at": at} for (m, c), at in touches.items()],
        key=["member", "campaign"], least=["first_at"],
    )


def _invites_apply(sql: Sql, invites: Iterable[tuple[str, str, int, datetime]]) -> None:
    rows: list[dict[str, Any]] = []
    seen: set[int] = set()
    for source, inviter, invitee, at in invites:
        if invitee not in seen:
            seen.add(invitee)
            rows.append({"workspace": sql.workspace.pk, "invitee": invitee, "channel": source,
                         "inviter_external_id": inviter, "invited_at": at})
    upsert(Invite, rows, key=["invitee"])  # the first inviter stays


def _attribute(sql: Sql, *, members: Iterable[int] | None, since: datetime | None) -> None:
    """(Re)compute SaleGroup rows for the sales of `members` (None: all) paid at or after `since`.

    A sale counts for the group its order names; else for every group its buyer was in when paying;
    else for the first group the buyer joined within a day after paying (the group the purchase led to).
    """
    sale, sale_group, stay = sql.t(Sale), sql.t(SaleGroup), sql.t(Membership)
    ws = sql.workspace.pk
    chunks = [None] if members is None else list(chunked(sorted(members), CHUNK))
    for chunk in chunks:
        where, params = "s.workspace_id = %s AND s.paid_at IS NOT NULL", [ws]
        if chunk is not None:
            clause, values = sql.in_list("s.member_id", chunk)
            where += f" AND s.paid_at >= %s AND {clause}"
            params += [sql.moment(since), *values]
        sql.run(f"DELETE FROM {sale_group} WHERE sale_id IN (SELECT s.id FROM {sale} s WHERE {where})", params)
        in_group_then = (
            "m.member_id = s.member_id AND m.joined_at <= s.paid_at AND (m.left_at IS NULL OR m.left_at > s.paid_at)"
        )
        sql.run(
            f"INSERT INTO {sale_group} (workspace_id, sale_id, group_id, day, member_id, counts) "
            f"SELECT s.workspace_id, s.id, s.group_id, s.day, s.member_id, {COUNTS} FROM {sale} s "
            f"WHERE {where} AND s.group_id IS NOT NULL "
            f"UNION ALL "
            f"SELECT DISTINCT s.workspace_id, s.id, m.group_id, s.day, s.member_id, {COUNTS} FROM {sale} s "
            f"JOIN {stay} m ON {in_group_then} WHERE {where} AND s.group_id IS NULL "
            f"UNION ALL "
            f"SELECT s.workspace_id, s.id, "
            f"(SELECT m.group_id FROM {stay} m WHERE m.member_id = s.member_id AND m.joined_at > s.paid_at "
            f"AND m.joined_at <= {sql.plus_window('s.paid_at')} ORDER BY m.joined_at, m.id LIMIT 1), s.day, s.member_id, {COUNTS} "
            f"FROM {sale} s WHERE {where} AND s.group_id IS NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {stay} m WHERE {in_group_then}) "
            f"AND EXISTS (SELECT 1 FROM {stay} m WHERE m.member_id = s.member_id AND m.joined_at > s.paid_at "
            f"AND m.joined_at <= {sql.plus_window('s.paid_at')})",
            params * 3,
        )


# -- rollups --------------------------------------------------------------------------------------
def _recompute(sql: Sql, first_day: date, last_day: date) -> None:
    """Replace every GroupDay and WorkspaceDay row from `first_day` to `last_day`."""
    ws = sql.workspace
    GroupDay.objects.filter(workspace=ws, day__gte=first_day).delete()
    WorkspaceDay.objects.filter(workspace=ws, day__gte=first_day).delete()
    group_rows = group_days(sql, first_day, last_day)
    insert_many(GroupDay, group_rows)
    insert_many(WorkspaceDay, [{"workspace": ws.pk, **row} for row in scope_days(sql, first_day, last_day)])


def _empty(day: date) -> dict[str, Any]:
    return {"day": day, **{name: 0 for name in GroupDay.FIGURES}}


def group_days(sql: Sql, first_day: date, last_day: date) -> list[dict[str, Any]]:
    """GroupDay rows (dicts) for every group with data, from `first_day` (or its first day) to `last_day`."""
    ws = sql.workspace.pk
    start = calendar.day_start(sql.tz, first_day)
    gds, stay, mda = sql.t(GroupDailyStats), sql.t(Membership), sql.t(MemberDailyActivity)
    first_of: dict[int, Any] = {}
    for group_id, day in sql.rows(
        f"SELECT group_id, MIN(day) FROM {gds} WHERE workspace_id = %s GROUP BY group_id "
        f"UNION ALL SELECT group_id, MIN(day) FROM {sql.t(Cost)} WHERE workspace_id = %s AND group_id IS NOT NULL GROUP BY group_id "
        f"UNION ALL SELECT group_id, MIN(day) FROM {sql.t(SaleGroup)} WHERE workspace_id = %s GROUP BY group_id",
        [ws, ws, ws],
    ):
        day = calendar.as_date(day)
        first_of[group_id] = min(first_of.get(group_id, day), day)
    figures: dict[Any, Any] = {}

    def cell(group_id: int, day: Any) -> dict[str, Any]:
        key = (group_id, calendar.as_date(day))
        row = figures.get(key)
        if row is None:
            row = figures[key] = _empty(key[1])
        return row

    for group_id, day, n in sql.rows(
        f"SELECT group_id, {sql.local_day('joined_at')}, COUNT(*) FROM {stay} "
        f"WHERE workspace_id = %s AND joined_at >= %s AND {sql.not_staff()} GROUP BY 1, 2", [ws, sql.moment(start)],
    ):
        cell(group_id, day)["joins"] = n
    for group_id, day, n in sql.rows(
        f"SELECT group_id, {sql.local_day('left_at')}, COUNT(*) FROM {stay} "
        f"WHERE workspace_id = %s AND left_at >= %s AND {sql.not_staff()} GROUP BY 1, 2", [ws, sql.moment(start)],
    ):
        cell(group_id, day)["leaves"] = n
    for group_id, day, speakers, messages in sql.rows(
        f"SELECT group_id, day, COUNT(*), SUM(messages) FROM {mda} WHERE day >= %s AND workspace_id = %s "
        f"AND {sql.not_staff()} GROUP BY 1, 2",
        [sql.day(first_day), ws],
    ):
        row = cell(group_id, day)
        row["speakers"], row["messages"] = speakers, int(messages)
    for group_id, day, exposures in sql.rows(
        f"SELECT group_id, day, exposures FROM {gds} WHERE workspace_id = %s AND day >= %s AND exposures > 0",
        [ws, sql.day(first_day)],
    ):
        cell(group_id, day)["exposures"] = exposures
    for group_id, day, buyers, orders, revenue in sql.rows(
        f"SELECT sg.group_id, sg.day, COUNT(DISTINCT CASE WHEN {COUNTS} THEN s.member_id END), "
        f"SUM(CASE WHEN {COUNTS} THEN 1 ELSE 0 END), SUM({NET}) "
        f"FROM {sql.t(SaleGroup)} sg JOIN {sql.t(Sale)} s ON s.id = sg.sale_id "
        f"WHERE sg.workspace_id = %s AND sg.day >= %s GROUP BY 1, 2",
        [ws, sql.day(first_day)],
    ):
        row = cell(group_id, day)
        row["buyers"], row["orders"], row["revenue_cents"] = buyers, int(orders), int(revenue)  # Decimal sums on PostgreSQL
    for group_id, day, cost in sql.rows(
        f"SELECT group_id, day, SUM(amount_cents) FROM {sql.t(Cost)} "
        f"WHERE workspace_id = %s AND day >= %s AND group_id IS NOT NULL GROUP BY 1, 2",
        [ws, sql.day(first_day)],
    ):
        cell(group_id, day)["cost_cents"] = int(cost)
    members = dict(sql.rows(
        f"SELECT group_id, COUNT(*) FROM {stay} WHERE workspace_id = %s AND joined_at < %s "
        f"AND (left_at IS NULL OR left_at >= %s) AND {sql.not_staff()} GROUP BY group_id",
        [ws, sql.moment(start), sql.moment(start)],
    ))
    rows = []
    for group_id, group_first in first_of.items():
        count = members.get(group_id, 0)
        for day in calendar.days(max(first_day, group_first), last_day):
            row = figures.get((group_id, day)) or _empty(day)
            row["members_start"] = count
            count = row["members_end"] = count + row["joins"] - row["leaves"]
            rows.append({"workspace": ws, "group": group_id, **row})
    return rows


# An order counts unless refunded in full; its revenue is what is left after refunds (never below 0).
COUNTS = "(s.refunded_cents = 0 OR s.refunded_cents < s.amount_cents)"
NET = "(CASE WHEN s.refunded_cents > s.amount_cents THEN 0 ELSE s.amount_cents - s.refunded_cents END)"


def scope_days(sql: Sql, first_day: date, last_day: date, *, groups: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """Day rows (dicts) for the workspace, or for a set of group ids, counting each person once.

    Joins and leaves are people entering and leaving the scope: a stay that overlaps or touches
    another stay of the same person in the scope continues their presence.
    """
    ws = sql.workspace.pk
    start = calendar.day_start(sql.tz, first_day)
    stay, mda, gds = sql.t(Membership), sql.t(MemberDailyActivity), sql.t(GroupDailyStats)
    group_filter = ""
    group_params: list[Any] = []
    if groups is not None:
        groups = list(groups) or [0]
        clause, group_params = sql.in_list("group_id", groups)
        group_filter = f" AND {clause}"
    figures = {day: _empty(day) for day in calendar.days(first_day, last_day)}

    def cell(day: Any) -> dict[str, Any]:
        return figures.setdefault(calendar.as_date(day), _empty(calendar.as_date(day)))

    far = sql.moment(FAR_FUTURE)
    s0 = sql.moment(start)
    order = "ORDER BY joined_at, COALESCE(left_at, %s), id"
    for kind, day, n in sql.rows(
        f"WITH touched AS (SELECT DISTINCT member_id FROM {stay} WHERE workspace_id = %s "
        f"AND (joined_at >= %s OR left_at >= %s){group_filter} AND {sql.not_staff()}), "
        f"stays AS (SELECT m.id, m.member_id, m.joined_at, m.left_at FROM {stay} m "
        f"JOIN touched t ON t.member_id = m.member_id WHERE m.workspace_id = %s{group_filter.replace('group_id', 'm.group_id')}), "
        f"w AS (SELECT joined_at, "
        f"MAX(COALESCE(left_at, %s)) OVER (PARTITION BY member_id {order} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_end, "
        f"MAX(COALESCE(left_at, %s)) OVER (PARTITION BY member_id {order} ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS run_end, "
        f"LEAD(joined_at) OVER (PARTITION BY member_id {order}) AS next_join FROM stays) "
        f"SELECT 'in', {sql.local_day('joined_at')}, COUNT(*) FROM w WHERE joined_at >= %s "
        f"AND (prev_end IS NULL OR prev_end < joined_at) GROUP BY 2 "
        f"UNION ALL SELECT 'out', {sql.local_day('run_end')}, COUNT(*) FROM w WHERE run_end < %s AND run_end >= %s "
        f"AND (next_join IS NULL OR next_join > run_end) GROUP BY 2",
        [ws, s0, s0, *group_params, ws, *group_params, far, far, far, far, far, s0, far, s0],
    ):
        cell(day)["joins" if kind == "in" else "leaves"] = n
    for day, speakers, messages in sql.rows(
        f"SELECT day, COUNT(DISTINCT member_id), SUM(messages) FROM {mda} WHERE day >= %s AND workspace_id = %s"
        f"{group_filter} AND {sql.not_staff()} GROUP BY day", [sql.day(first_day), ws, *group_params],
    ):
        row = cell(day)
        row["speakers"], row["messages"] = speakers, int(messages)
    for day, exposures in sql.rows(
        f"SELECT day, SUM(exposures) FROM {gds} WHERE workspace_id = %s AND day >= %s{group_filter} GROUP BY day",
        [ws, sql.day(first_day), *group_params],
    ):
        cell(day)["exposures"] = int(exposures)
    if groups is None:
        # The community's sales: those attributed to at least one group (a buyer who never joined a
        # group is no member, so cannot count towards conversion).
        sales = (
            f"{sql.t(Sale)} s WHERE s.workspace_id = %s AND s.day >= %s AND s.paid_at IS NOT NULL AND EXISTS "
            f"(SELECT 1 FROM {sql.t(SaleGroup)} sg WHERE sg.sale_id = s.id)"
        )
        sale_params = [ws, sql.day(first_day)]
        costs = f"SELECT day, SUM(amount_cents) FROM {sql.t(Cost)} WHERE workspace_id = %s AND day >= %s GROUP BY day"
        cost_params = [ws, sql.day(first_day)]
    else:
        sales = (
            f"{sql.t(Sale)} s WHERE s.id IN (SELECT sale_id FROM {sql.t(SaleGroup)} WHERE workspace_id = %s "
            f"AND day >= %s{group_filter})"
        )
        sale_params = [ws, sql.day(first_day), *group_params]
        costs = (
            f"SELECT day, SUM(amount_cents) FROM {sql.t(Cost)} WHERE workspace_id = %s AND day >= %s{group_filter} GROUP BY day"
        )
        cost_params = [ws, sql.day(first_day), *group_params]
    for day, buyers, orders, revenue in sql.rows(
        f"SELECT s.day, COUNT(DISTINCT CASE WHEN {COUNTS} THEN s.member_id END), "
        f"SUM(CASE WHEN {COUNTS} THEN 1 ELSE 0 END), SUM({NET}) FROM {sales} GROUP BY s.day",
        sale_params,
    ):
        row = cell(day)
        row["buyers"], row["orders"], row["revenue_cents"] = buyers, int(orders), int(revenue)  # Decimal sums on PostgreSQL
    for day, cost in sql.rows(costs, cost_params):
        cell(day)["cost_cents"] = int(cost)
    (count,), = sql.rows(
        f"SELECT COUNT(DISTINCT member_id) FROM {stay} WHERE workspace_id = %s AND joined_at < %s "
        f"AND (left_at IS NULL OR left_at >= %s){group_filter} AND {sql.not_staff()}",
        [ws, s0, s0, *group_params],
    )
    rows = []
    for day in sorted(figures):
        if day > last_day:
            continue
        row = figures[day]
        row["members_start"] = count
        count = row["members_end"] = count + row["joins"] - row["leaves"]
        rows.append(row)
    return rows
