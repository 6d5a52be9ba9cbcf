#!/usr/bin/env python
"""Dashboard metrics and the rollup rebuild at 10,000,000 events, against DuckDB in the same run.

    .venv/bin/python bench/metrics.py                                        # 200,000 members, 500 groups, 10M+ events
    .venv/bin/python bench/metrics.py --members 5000 --groups 40 --days 30   # a smoke run, under a minute
    .venv/bin/python bench/metrics.py --db postgres                          # the same on PostgreSQL

1. Build (not timed, cached): a workspace filled by the simulator through the ingest service
   (`simulation_run`), then one untimed `rollups_rebuild` and an export of the workspace's events and
   memberships to Parquet. The database and the Parquet files are kept under
   var/bench/metrics/<db>-m<members>-g<groups>-d<days>-s<seed>-u<until>/ (PostgreSQL: the database
   siyu_bench_metrics_m…_g…_d…_s…), so the next run with the same parameters skips all of this.
2. Timed B: `rollups_rebuild(workspace=…)`, once (it is transactional): rebuild_s.
3. Timed A: one dashboard render's queries for the last --period days ending on the last day with data
   and the --period days before it (the comparison): `period_totals` of both, `figures` of both,
   `trend` of every metric, `group_totals` and `figures` of every group. One warm-up, then --repeat
   renders: dashboard_ms_p50 is the median.
4. Timed C: the same daily aggregation done by DuckDB directly over the Parquet files (per group and
   local day: joins, leaves, speakers, messages, exposures, cost, members at the start and end; per
   local day of the workspace: speakers, messages, exposures, buyers, orders, revenue net of refunds,
   cost), materialised as tables: duckdb_s.
5. Checks (not timed, on stderr): DuckDB's figures against the rollups'.

Human-readable progress goes to stderr; the last line on stdout is one JSON object:
    {"name": "metrics", "dashboard_ms_p50": ..., "rebuild_s": ..., "duckdb_s": ..., "rebuild_ratio_to_duckdb": ...}
Targets: dashboard_ms_p50 <= 150 and rebuild_ratio_to_duckdb <= 4.
"""
import argparse
import csv
import fcntl
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import statistics
import sys
import time
from datetime import date, datetime, timedelta
from urllib.parse import urlparse

from common import ROOT, code_version, django_start, postgres_recreate, say
BENCH_DIR = ROOT / "var" / "bench"
CACHE_DIR = BENCH_DIR / "metrics"
DEFAULT_POSTGRES_URL = "postgres://root@127.0.0.1:5432/siyu_bench_metrics"
# A fixed end date keeps runs reproducible (source ids and weekday waves depend on it).
UNTIL = date(2025, 1, 1)
# Events per member grow with the simulated span (camp buyers stay in the perks groups and keep talking):
# measured with the generator at 400 members a group, 46.7 at 540 days, 50.0 at 600, 53.9 at 660 and
# 56.7 at 700. 660 days gives about 10.8M events for 200,000 members (see bench/README.md).
DEFAULT_DAYS = 660
TARGET_EVENTS = 10_000_000
TARGET_DASHBOARD_MS = 150
TARGET_RATIO = 4
TIME_ZONE = "Asia/Shanghai"
LOCAL = "INTERVAL 8 HOUR"  # Asia/Shanghai has had no DST since 1991
EXPORT_CHUNK = 100_000
EXPORT_VERSION = 2  # bump when the Parquet columns change: cached exports are then redone
T_JOINED, T_LEFT, T_MESSAGE, T_EXPOSED, T_PAID, T_REFUNDED, T_COST = 302, 303, 304, 401, 501, 502, 503



def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="bench/metrics.py",
        description=(
            "Benchmark the analytics: build (once, cached) a simulated workspace of MEMBERS members in GROUPS "
            "groups over DAYS days, then time a full rollups_rebuild, the dashboard's metric queries (median "
            "of --repeat renders) and the same daily aggregation done by DuckDB over the events exported to "
            "Parquet. Progress goes to stderr; the last stdout line is JSON with dashboard_ms_p50, rebuild_s, "
            "duckdb_s and rebuild_ratio_to_duckdb = rebuild_s / duckdb_s."
        ),
    )
    parser.add_argument("--members", type=int, default=200_000, help="simulated members (default: %(default)s)")
    parser.add_argument("--groups", type=int, default=500, help="simulated groups (default: %(default)s)")
    parser.add_argument(
        "--days", type=int, default=DEFAULT_DAYS,
        help="simulated days ending %s; the default gives 10M+ events with the default members and groups "
        "(default: %%(default)s)" % UNTIL,
    )
    parser.add_argument("--seed", type=int, default=1, help="simulator random seed (default: %(default)s)")
    parser.add_argument("--period", type=int, default=90, help="dashboard period in days (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=20, help="timed dashboard renders (default: %(default)s)")
    parser.add_argument(
        "--db", choices=("sqlite", "postgres"), default="sqlite",
        help="sqlite: a cached file under var/bench/metrics/; postgres: a cached database on the server of "
        "--postgres-url (default: %(default)s)",
    )
    parser.add_argument(
        "--postgres-url", default=DEFAULT_POSTGRES_URL,
        help="with --db postgres: the server, and the database name prefix (it must contain 'bench'); the "
        "database used is <prefix>_m<members>_g<groups>_d<days>_s<seed> (default: %(default)s)",
    )
    parser.add_argument("--fresh", action="store_true", help="discard the cached database and Parquet files and rebuild them")
    parser.add_argument(
        "--profile", metavar="FILE",
        help="run the timed rebuild under cProfile and write its stats to FILE (rebuild_s is then not comparable)",
    )
    args = parser.parse_args(argv)
    if args.members < 10 or args.groups < 3 or args.days < 1:
        parser.error("--members must be at least 10, --groups at least 3 and --days at least 1")
    if args.period < 1 or args.repeat < 1:
        parser.error("--period and --repeat must be at least 1")
    if args.db == "postgres":
        name = urlparse(args.postgres_url).path.lstrip("/")
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,20}", name) or "bench" not in name:
            parser.error("--postgres-url must name a database prefix of lowercase letters, digits and _ "
                         "(at most 21) containing 'bench'")
    return args


# -- setup -------------------------------------------------------------------------------------

def cache_key(args):
    return f"m{args.members}-g{args.groups}-d{args.days}-s{args.seed}-u{UNTIL:%Y%m%d}"


def postgres_url_for(args):
    base, prefix = args.postgres_url.rsplit("/", 1)
    return f"{base}/{prefix}_m{args.members}_g{args.groups}_d{args.days}_s{args.seed}"


def postgres_database_exists(url, name):
    import psycopg

    with psycopg.connect(url, dbname="postgres", autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None











# -- build (not timed, cached) -----------------------------------------------------------------

def build(args, db_kind, version):
    """Simulate the community through ingest, prime the rollups; returns the meta dict."""
    from django.db import connection

    from siyu.analytics.rollups import rollups_rebuild
    from siyu.channels.simulator.services import simulation_plan, simulation_run
    from siyu.core.services import workspace_create

    workspace = workspace_create(slug="bench", name="Metrics benchmark", time_zone=TIME_ZONE)
    plan = simulation_plan(workspace=workspace, groups=args.groups, members=args.members, days=args.days,
                           seed=args.seed, until=UNTIL)
    say(f"build: simulating {plan.members} members, {plan.groups} groups, {plan.days} days ending {UNTIL} "
        f"(seed {plan.seed}) through events_ingest")
    step = max(1, plan.days // 20)
    start = time.perf_counter()

    def progress(day, stored):
        if (day + 1) % step == 0 or day + 1 == plan.days:
            elapsed = time.perf_counter() - start
            say(f"  day {day + 1}/{plan.days}: {stored:,} events, {elapsed:.0f}s, {stored / elapsed:,.0f} events/s")

    received, stored = simulation_run(workspace=workspace, plan=plan, progress=progress)
    simulate_seconds = time.perf_counter() - start
    say(f"build: {stored:,} events stored ({received:,} received) in {simulate_seconds:.1f}s")
    if stored < TARGET_EVENTS and (args.members, args.groups) == (200_000, 500):
        say(f"  note: fewer than {TARGET_EVENTS:,} events; raise --days")
    with connection.cursor() as cursor:
        if db_kind == "sqlite":
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            say("build: ANALYZE (a server's autovacuum would have analyzed the new tables)")
            cursor.execute("ANALYZE")
    # Prime the rollups so that every timed rebuild, the first run's included, replaces existing rows.
    start = time.perf_counter()
    rollups_rebuild(workspace=workspace, today=last_data_day(workspace))
    prime_seconds = time.perf_counter() - start
    say(f"build: first (untimed) rollups_rebuild in {prime_seconds:.1f}s")
    return {
        "plan": {"members": plan.members, "groups": plan.groups, "days": plan.days, "seed": plan.seed,
                 "until": UNTIL.isoformat()},
        "events": stored,
        "simulate_seconds": round(simulate_seconds, 1),
        "prime_rebuild_seconds": round(prime_seconds, 1),
        "code": version,  # read before the build: the tree may change during a long build
        "built_at": datetime.now().isoformat(timespec="seconds"),
    }


def last_data_day(workspace):
    from django.db.models import Max

    from siyu.groups.models import GroupDailyStats

    return GroupDailyStats.objects.filter(workspace=workspace).aggregate(day=Max("day"))["day"]


# -- export to Parquet (not timed, cached) -----------------------------------------------------

EVENT_COLUMNS = {
    "id": "BIGINT", "type": "SMALLINT", "occurred_at": "TIMESTAMP", "member_id": "BIGINT", "group_id": "BIGINT",
    "amount_cents": "BIGINT", "order_id": "VARCHAR",
}
STAY_COLUMNS = {"id": "BIGINT", "group_id": "BIGINT", "member_id": "BIGINT", "joined_at": "TIMESTAMP", "left_at": "TIMESTAMP"}


def export_queries(db_kind, workspace_id):
    """SELECTs of the export: timestamps as naive UTC text, the amount and order id of money events."""
    money, orders = f"{T_PAID}, {T_REFUNDED}, {T_COST}", f"{T_PAID}, {T_REFUNDED}"
    if db_kind == "sqlite":
        amount, order_id, moment = "json_extract(data, '$.amount_cents')", "json_extract(data, '$.order_id')", "{}"
    else:
        amount, order_id = "(data->>'amount_cents')::bigint", "data->>'order_id'"
        moment = "({} AT TIME ZONE 'UTC')::text"
    events = (
        f"SELECT id, type, {moment.format('occurred_at')}, member_id, group_id, "
        f"CASE WHEN type IN ({money}) THEN {amount} END, CASE WHEN type IN ({orders}) THEN {order_id} END "
        f"FROM core_event WHERE workspace_id = {int(workspace_id)} ORDER BY id"
    )
    stays = (
        f"SELECT id, group_id, member_id, {moment.format('joined_at')}, {moment.format('left_at')} "
        f"FROM groups_membership WHERE workspace_id = {int(workspace_id)} ORDER BY id"
    )
    return events, stays


def write_csv(db_kind, location, query, path):
    """The query's rows as CSV (NULL as an empty field): sqlite3 in chunks, or PostgreSQL's COPY."""
    if db_kind == "sqlite":
        conn = sqlite3.connect(f"file:{location}?mode=ro", uri=True)
        try:
            with open(path, "w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out)
                cursor = conn.execute(query)
                while chunk := cursor.fetchmany(EXPORT_CHUNK):
                    writer.writerows(chunk)
        finally:
            conn.close()
    else:
        import psycopg

        with psycopg.connect(location) as conn, conn.cursor() as cursor, open(path, "wb") as out:
            with cursor.copy(f"COPY ({query}) TO STDOUT (FORMAT csv)") as copy:
                for data in copy:
                    out.write(data)


def export(db_kind, location, workspace_id, cache):
    """events.parquet and memberships.parquet in the cache directory, through CSV and DuckDB's COPY."""
    import duckdb

    start = time.perf_counter()
    events_sql, stays_sql = export_queries(db_kind, workspace_id)
    counts = {}
    for name, query, columns in (("events", events_sql, EVENT_COLUMNS), ("memberships", stays_sql, STAY_COLUMNS)):
        csv_path, parquet = cache / f"{name}.csv", cache / f"{name}.parquet"
        write_csv(db_kind, location, query, csv_path)
        spec = "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"
        with duckdb.connect() as con:
            con.execute(
                f"COPY (SELECT * FROM read_csv('{csv_path}', header = false, columns = {spec}, nullstr = '')) "
                f"TO '{cache / (name + '.tmp.parquet')}' (FORMAT parquet)"
            )
            counts[name] = con.execute(f"SELECT count(*) FROM '{cache / (name + '.tmp.parquet')}'").fetchone()[0]
        (cache / f"{name}.tmp.parquet").rename(parquet)
        csv_path.unlink()
        say(f"export: {counts[name]:,} {name} rows to {parquet.name}")
    seconds = time.perf_counter() - start
    say(f"export: {seconds:.1f}s (not timed)")
    return counts, seconds


# -- timed part B: the rebuild -----------------------------------------------------------------

def run_rebuild(workspace, today, profile_path=None):
    from siyu.analytics import calendar
    from siyu.analytics.rollups import rollups_rebuild

    # A worker process has the zone's transitions cached (a first call takes ~0.1 s); so does a run
    # that built the cache (its first rebuild computed them): warm them so every run times the same.
    calendar.transitions(workspace.time_zone)
    profiler = None
    if profile_path:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    start = time.perf_counter()
    result = rollups_rebuild(workspace=workspace, today=today)
    seconds = time.perf_counter() - start
    if profiler:
        profiler.disable()
        profiler.dump_stats(profile_path)
        say(f"  cProfile stats written to {profile_path}")
    return seconds, result


# -- timed part A: the dashboard -----------------------------------------------------------------

def render(workspace, first, last, previous_first, previous_last):
    """One dashboard render's queries; returns {part: seconds}."""
    from siyu.analytics.metrics import METRICS, figures, group_totals, period_totals, trend

    clock = time.perf_counter
    t0 = clock()
    totals = period_totals(workspace=workspace, first=first, last=last)
    t1 = clock()
    previous = period_totals(workspace=workspace, first=previous_first, last=previous_last)
    t2 = clock()
    shown = figures(totals), figures(previous), {key: trend(key, totals) for key in METRICS}
    t3 = clock()
    groups = {group_id: figures(group) for group_id, group in group_totals(workspace=workspace, first=first, last=last).items()}
    t4 = clock()
    assert shown and groups is not None
    return {"totals": t1 - t0, "comparison": t2 - t1, "figures_trends": t3 - t2, "groups": t4 - t3, "total": t4 - t0,
            "_groups": len(groups)}


def run_dashboard(workspace, last, period, repeat):
    first = last - timedelta(days=period - 1)
    previous_last = first - timedelta(days=1)
    previous_first = previous_last - timedelta(days=period - 1)
    warm = render(workspace, first, last, previous_first, previous_last)
    say(f"  warm-up: {warm['total'] * 1000:.1f} ms, {warm['_groups']} groups in the table")
    samples = [render(workspace, first, last, previous_first, previous_last) for _ in range(repeat)]
    totals = sorted(s["total"] for s in samples)
    parts = {name: round(statistics.median(s[name] for s in samples) * 1000, 1)
             for name in ("totals", "comparison", "figures_trends", "groups")}
    p90 = totals[min(len(totals) - 1, max(0, round(0.9 * len(totals)) - 1))]
    return {
        "p50": round(statistics.median(totals) * 1000, 1), "p90": round(p90 * 1000, 1),
        "min": round(totals[0] * 1000, 1), "parts": parts, "groups": warm["_groups"],
        "first": first, "last": last, "previous_first": previous_first,
    }


# -- timed part C: DuckDB ----------------------------------------------------------------------

def duckdb_sql(events, stays):
    """The rollups' daily aggregation, in DuckDB, as four materialised tables (the order matters)."""
    ev, ms = f"read_parquet('{events}')", f"read_parquet('{stays}')"
    counts = "(s.refunded_cents = 0 OR s.refunded_cents < s.amount_cents)"  # not refunded in full
    net = "(CASE WHEN s.refunded_cents > s.amount_cents THEN 0 ELSE s.amount_cents - s.refunded_cents END)"
    in_group_then = "m.member_id = s.member_id AND m.joined_at <= s.paid_at AND (m.left_at IS NULL OR m.left_at > s.paid_at)"
    # Orders net of refunds; the first order.paid of an order id sets its buyer, time, amount and group.
    sales = f"""
CREATE TABLE sales AS
SELECT * FROM (
    SELECT order_id,
        arg_min(occurred_at, id) FILTER (WHERE type = {T_PAID}) AS paid_at,
        arg_min(member_id, id) FILTER (WHERE type = {T_PAID}) AS member_id,
        arg_min(group_id, id) FILTER (WHERE type = {T_PAID}) AS group_id,
        arg_min(amount_cents, id) FILTER (WHERE type = {T_PAID}) AS amount_cents,
        coalesce(sum(amount_cents) FILTER (WHERE type = {T_REFUNDED}), 0) AS refunded_cents
    FROM {ev} WHERE type IN ({T_PAID}, {T_REFUNDED})
    GROUP BY order_id
)
WHERE paid_at IS NOT NULL
"""
    # Attribution as the app's: the order's group; else every group the buyer was in when paying; else
    # the first group they joined within a day after paying.
    sale_group = f"""
CREATE TABLE sale_group AS
SELECT s.order_id, s.group_id FROM sales s WHERE s.group_id IS NOT NULL
UNION ALL
SELECT DISTINCT s.order_id, m.group_id FROM sales s JOIN {ms} m ON {in_group_then} WHERE s.group_id IS NULL
UNION ALL
SELECT s.order_id, arg_min(m.group_id, (m.joined_at, m.id)) FROM sales s
JOIN {ms} m ON m.member_id = s.member_id AND m.joined_at > s.paid_at AND m.joined_at <= s.paid_at + INTERVAL 1 DAY
WHERE s.group_id IS NULL AND NOT EXISTS (SELECT 1 FROM {ms} m WHERE {in_group_then})
GROUP BY s.order_id
"""
    group_day = f"""
CREATE TABLE group_day AS
WITH activity AS (
    SELECT group_id, CAST(occurred_at + {LOCAL} AS DATE) AS day,
        count(*) FILTER (WHERE type = {T_JOINED}) AS join_events,
        count(*) FILTER (WHERE type = {T_LEFT}) AS leave_events,
        count(DISTINCT member_id) FILTER (WHERE type = {T_MESSAGE}) AS speakers,
        count(*) FILTER (WHERE type = {T_MESSAGE}) AS messages,
        count(*) FILTER (WHERE type = {T_EXPOSED}) AS exposures,
        coalesce(sum(amount_cents) FILTER (WHERE type = {T_COST}), 0) AS cost_cents
    FROM {ev}
    WHERE group_id IS NOT NULL AND type IN ({T_JOINED}, {T_LEFT}, {T_MESSAGE}, {T_EXPOSED}, {T_COST})
    GROUP BY ALL
), stays AS (
    SELECT group_id, day, count(*) FILTER (WHERE delta > 0) AS joins, count(*) FILTER (WHERE delta < 0) AS leaves,
        sum(delta) AS delta
    FROM (
        SELECT group_id, CAST(joined_at + {LOCAL} AS DATE) AS day, 1 AS delta FROM {ms}
        UNION ALL
        SELECT group_id, CAST(left_at + {LOCAL} AS DATE) AS day, -1 AS delta FROM {ms} WHERE left_at IS NOT NULL
    ) GROUP BY ALL
), group_sales AS (
    SELECT sg.group_id, CAST(s.paid_at + {LOCAL} AS DATE) AS day,
        count(DISTINCT s.member_id) FILTER (WHERE {counts}) AS buyers,
        count(*) FILTER (WHERE {counts}) AS orders, sum({net}) AS revenue_cents
    FROM sale_group sg JOIN sales s USING (order_id)
    GROUP BY ALL
), span AS (
    SELECT group_id, min(day) AS first_day FROM (
        SELECT group_id, day FROM activity UNION ALL SELECT group_id, day FROM stays
    ) GROUP BY group_id
), grid AS (
    SELECT group_id, CAST(unnest(generate_series(first_day, (SELECT max(day) FROM activity), INTERVAL 1 DAY)) AS DATE) AS day
    FROM span
)
SELECT g.group_id, g.day,
    sum(coalesce(st.delta, 0)) OVER w - coalesce(st.delta, 0) AS members_start,
    sum(coalesce(st.delta, 0)) OVER w AS members_end,
    coalesce(st.joins, 0) AS joins, coalesce(st.leaves, 0) AS leaves,
    coalesce(a.join_events, 0) AS join_events, coalesce(a.leave_events, 0) AS leave_events,
    coalesce(a.speakers, 0) AS speakers, coalesce(a.messages, 0) AS messages, coalesce(a.exposures, 0) AS exposures,
    coalesce(gs.buyers, 0) AS buyers, coalesce(gs.orders, 0) AS orders, coalesce(gs.revenue_cents, 0) AS revenue_cents,
    coalesce(a.cost_cents, 0) AS cost_cents
FROM grid g
LEFT JOIN activity a USING (group_id, day)
LEFT JOIN stays st USING (group_id, day)
LEFT JOIN group_sales gs USING (group_id, day)
WINDOW w AS (PARTITION BY g.group_id ORDER BY g.day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
"""
    # The workspace: distinct speakers over all groups; its sales are those attributed to some group.
    workspace_day = f"""
CREATE TABLE workspace_day AS
WITH activity AS (
    SELECT CAST(occurred_at + {LOCAL} AS DATE) AS day,
        count(DISTINCT member_id) FILTER (WHERE type = {T_MESSAGE}) AS speakers,
        count(*) FILTER (WHERE type = {T_MESSAGE}) AS messages,
        count(*) FILTER (WHERE type = {T_EXPOSED}) AS exposures,
        coalesce(sum(amount_cents) FILTER (WHERE type = {T_COST}), 0) AS cost_cents
    FROM {ev} WHERE type IN ({T_MESSAGE}, {T_EXPOSED}, {T_COST})
    GROUP BY ALL
), day_sales AS (
    SELECT CAST(s.paid_at + {LOCAL} AS DATE) AS day,
        count(DISTINCT s.member_id) FILTER (WHERE {counts}) AS buyers,
        count(*) FILTER (WHERE {counts}) AS orders, sum({net}) AS revenue_cents
    FROM sales s WHERE s.order_id IN (SELECT order_id FROM sale_group)
    GROUP BY ALL
)
SELECT day, coalesce(a.speakers, 0) AS speakers, coalesce(a.messages, 0) AS messages,
    coalesce(a.exposures, 0) AS exposures, coalesce(s.buyers, 0) AS buyers, coalesce(s.orders, 0) AS orders,
    coalesce(s.revenue_cents, 0) AS revenue_cents, coalesce(a.cost_cents, 0) AS cost_cents
FROM activity a FULL JOIN day_sales s USING (day)
"""
    return {"sales": sales, "sale_group": sale_group, "group_day": group_day, "workspace_day": workspace_day}


def run_duckdb(cache):
    import duckdb

    con = duckdb.connect()  # in memory; the results are materialised as tables
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    statements = duckdb_sql(cache / "events.parquet", cache / "memberships.parquet")
    parts = {}
    start = time.perf_counter()
    for name, sql in statements.items():
        t = time.perf_counter()
        con.execute(sql)
        parts[name] = time.perf_counter() - t
    seconds = time.perf_counter() - start
    return seconds, parts, threads, con


# -- checks ------------------------------------------------------------------------------------

def verify(con, workspace, last):
    """DuckDB's tables against what the rebuild left (Sale, SaleGroup, GroupDay, WorkspaceDay), up to `last`."""
    from django.db.models import Count, Sum

    from siyu.analytics.models import GroupDay, Sale, SaleGroup, WorkspaceDay

    ok = True

    def check(label, got, want):
        nonlocal ok
        got, want = int(got or 0), int(want or 0)
        ok &= got == want
        say(f"  {label}: duckdb {got}, rollups {want} {'ok' if got == want else 'MISMATCH'}")

    check("sales", con.execute("SELECT count(*) FROM sales").fetchone()[0],
          Sale.objects.filter(workspace=workspace, paid_at__isnull=False).count())
    check("sale attributions", con.execute("SELECT count(*) FROM sale_group").fetchone()[0],
          SaleGroup.objects.filter(workspace=workspace).count())
    for table, model, columns in (
        ("group_day", GroupDay, ("members_start", "members_end", *GROUP_SUMS)),
        ("workspace_day", WorkspaceDay, WORKSPACE_SUMS),
    ):
        got = con.execute(
            f"SELECT count(*), {', '.join(f'sum({c})' for c in columns)} FROM {table} WHERE day <= ?", [last]
        ).fetchone()
        want = model.objects.filter(workspace=workspace, day__lte=last).aggregate(
            rows=Count("pk"), **{c: Sum(c) for c in columns}
        )
        check(f"{model.__name__} rows", got[0], want["rows"])
        for column, value in zip(columns, got[1:]):
            check(f"{model.__name__} sum of {column}", value, want[column])
    # Joins and leaves count stays opened and closed; the events may differ (a repeated join opens nothing).
    events = con.execute("SELECT sum(join_events), sum(leave_events) FROM group_day").fetchone()
    say(f"  join / leave events: {int(events[0] or 0)} / {int(events[1] or 0)} (informational)")
    return ok


GROUP_SUMS = ("joins", "leaves", "speakers", "messages", "exposures", "buyers", "orders", "revenue_cents", "cost_cents")
WORKSPACE_SUMS = ("speakers", "messages", "exposures", "buyers", "orders", "revenue_cents", "cost_cents")


# -- main --------------------------------------------------------------------------------------

def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    key = cache_key(args)
    cache = CACHE_DIR / f"{args.db}-{key}"
    meta_path = cache / "meta.json"
    # One run per cache at a time: a second one would rebuild the same rollups and skew both timings.
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    lock = open(CACHE_DIR / f"{args.db}-{key}.lock", "w")  # held for the whole run
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        say(f"waiting for another run using the cache {cache.name} ...")
        fcntl.flock(lock, fcntl.LOCK_EX)
    run_dir = BENCH_DIR / f"metrics-{datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}"  # SIYU_VAR_DIR (huey's queue)
    run_dir.mkdir(parents=True)
    try:
        if args.db == "sqlite":
            app_db = cache / "siyu.sqlite3"
            database_url, location = f"sqlite:///{app_db}", str(app_db)
        else:
            database_url = location = postgres_url_for(args)
        cached = meta_path.exists() and not args.fresh and (args.db != "sqlite" or app_db.exists())
        if args.db == "postgres":
            name = urlparse(database_url).path.lstrip("/")
            cached = cached and postgres_database_exists(database_url, name)
            if not cached:
                postgres_recreate(database_url, [name])
        if not cached:
            shutil.rmtree(cache, ignore_errors=True)  # an interrupted or stale build: start over
            cache.mkdir(parents=True)
        where = app_db if args.db == "sqlite" else f"PostgreSQL database {urlparse(database_url).path.lstrip('/')}"
        say(f"{'cached' if cached else 'building'}: {where} (cache directory {cache})")
        django_start(run_dir, database_url)

        from django.core.management import call_command
        from django.db import connection

        from siyu.analytics.models import Watermark
        from siyu.core.models import Event, Workspace

        version = code_version()
        say(f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, code {version}")
        call_command("migrate", verbosity=0)
        if cached:
            meta = json.loads(meta_path.read_text())
            if meta.get("code") != version:
                say(f"  note: the cache was built by code {meta.get('code')}; use --fresh if ingest or the projections changed")
        else:
            meta = build(args, args.db, version)
        workspace = Workspace.objects.get(slug="bench")
        parquet = [cache / "events.parquet", cache / "memberships.parquet"]
        if meta.get("export_version") != EXPORT_VERSION or not all(path.exists() for path in parquet):
            connection.close()
            counts, meta["export_seconds"] = export(args.db, location, workspace.pk, cache)
            meta.update(parquet_rows=counts, export_version=EXPORT_VERSION)
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")  # the cache is complete
        events = meta["events"]
        today = last_data_day(workspace)
        if not Watermark.objects.filter(workspace=workspace, last_event_id__gt=0).exists():
            say("  note: no rollups yet; the timed rebuild starts from empty tables")
        say(f"workspace: {events:,} events ({Event.objects.filter(workspace=workspace).count():,} in the ledger), "
            f"last day {today}")

        say("B: rollups_rebuild (facts, attribution, GroupDay and WorkspaceDay, member models)")
        rebuild_s, result = run_rebuild(workspace, today, args.profile)
        say(f"B: rebuild in {rebuild_s:.2f}s ({result.first_day} to {result.last_day}, {result.members:,} member models)")

        say(f"A: dashboard queries, {args.period} days ending {today} and the {args.period} before; "
            f"1 warm-up + {args.repeat} renders")
        dash = run_dashboard(workspace, today, args.period, args.repeat)
        say(f"A: p50 {dash['p50']} ms, p90 {dash['p90']} ms, min {dash['min']} ms; parts (p50, ms): {dash['parts']}")

        say("C: DuckDB over the Parquet files: tables sales, sale_group, group_day and workspace_day")
        duckdb_s, duck_parts, threads, con = run_duckdb(cache)
        rows = {name: con.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for name in duck_parts}
        say(f"C: {duckdb_s:.3f}s with {threads} threads ({', '.join(f'{k} {v:.3f}s, {rows[k]:,} rows' for k, v in duck_parts.items())})")

        say("checks (not timed):")
        ok = verify(con, workspace, today)
        con.close()
        ratio = rebuild_s / duckdb_s
        say(f"dashboard p50 {dash['p50']} ms (target <= {TARGET_DASHBOARD_MS}); "
            f"rebuild / DuckDB = {ratio:.3f} (target <= {TARGET_RATIO})")
        connection.close()
        result = {
            "name": "metrics",
            "dashboard_ms_p50": dash["p50"],
            "rebuild_s": round(rebuild_s, 3),
            "duckdb_s": round(duckdb_s, 3),
            "rebuild_ratio_to_duckdb": round(ratio, 3),
            "dashboard_ms_p90": dash["p90"],
            "dashboard_parts_ms_p50": dash["parts"],
            "db": args.db,
            "events": events,
            "plan": meta["plan"],
            "period": {"first": dash["first"].isoformat(), "last": dash["last"].isoformat(), "days": args.period},
            "repeat": args.repeat,
            "groups_in_table": dash["groups"],
            "duckdb_threads": threads,
            "duckdb_parts_s": {k: round(v, 3) for k, v in duck_parts.items()},
            "cached": cached,
            "verified": ok,
            "code": version,
        }
        if args.profile:
            result["profiled"] = True
        print(json.dumps(result, ensure_ascii=False), flush=True)
        return 0 if ok else 1
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        lock.close()


if __name__ == "__main__":
    sys.exit(main())
