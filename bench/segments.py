#!/usr/bin/env python
"""A live segment at 1,000,000 members and 20,000,000 events: first full build, one-event updates, DuckDB.

    .venv/bin/python bench/segments.py --members 20000 --events 400000   # a quick check, about a minute
    .venv/bin/python bench/segments.py                                   # 1,000,000 members, 20,000,000 events
    .venv/bin/python bench/segments.py --rebuild                         # regenerate the cached data

1. Data (not timed, cached). A fresh SQLite database (migrate, a workspace in Asia/Shanghai, one tag) filled
   WITHOUT the ingest service, which would take hours at this size: members, identities and groups are
   inserted directly; --events simulator-shaped events (mostly group.message, joins, order.paid with
   amount_cents and order_id, a few order.refunded) over the --days days ending now, plus one
   member.tagged event (source "siyu", via "import") for --tag-share of the members, are generated in
   Python and bulk-inserted into core_event (executemany into a staging file, then one INSERT … SELECT in
   time order, so ids follow time as ingest's do). The projections the segment reads are then derived
   from the ledger in SQL the way members.projections would compute them: MemberStats, MemberDay (per
   member and local day in the workspace's time zone) and MemberTag; also Membership and GroupStats from
   the joins. A sample of members is recomputed in Python from their core_event rows and compared with
   those rows; any mismatch aborts. The result is kept under var/bench/segments/<key>/ and copied for
   each run, so the cache is never changed by a run.
2. Timed build_s: segment_create(...) with {"all": [{"tag": T}, ≥ 3 messages in 7 days, spend ≥ 100 in
   90 days]}: the first full build, wall time around the call.
3. Timed update_ms: --updates times, one group.message through events_ingest (the real path: validation,
   resolution, ledger, projections, members_react updating the segment in the ingest transaction), for
   members chosen so that some enter the segment (--enter-share of them: tagged, enough spend, exactly 2
   messages in the window) and the rest at random, in shuffled order. The loop stops early once
   --update-budget-s is spent (the JSON then says "stopped_early": true and how many ran). Then the live
   list is compared with a full recomputation, and the updated members' projections with the ledger.
4. Timed duckdb_s: the same member set computed by DuckDB from the raw events (exported to Parquet, not
   timed), windows in Asia/Shanghai days; compared with the segment's live list.

Human-readable progress goes to stderr; the last line on stdout is one JSON object:
    {"name": "segments", "build_s": ..., "update_ms_p50": ..., "duckdb_s": ..., "ratio_to_duckdb": ..., ...}
Targets (issue 7): build_s <= 5, update_ms_p50 <= 20.
"""
import argparse
import bisect
import calendar
import fcntl
import json
import math
import os
import platform
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone as dt_timezone
from zoneinfo import ZoneInfo

from common import ROOT, code_version, django_start, say

BENCH_DIR = ROOT / "var" / "bench"
CACHE_DIR = BENCH_DIR / "segments"
DATA_VERSION = 1  # bump when the generator or the derivation changes: old caches are then rebuilt
TIME_ZONE = "Asia/Shanghai"
TARGETS = {"build_s": 5, "update_ms_p50": 20}
DATA_PATH = "bulk insert + SQL-derived projections"

# Event type numbers (siyu.core.events.EventType; checked against it at start).
T_TAGGED, T_UNTAGGED, T_JOINED, T_MESSAGE, T_CLICKED, T_PAID, T_REFUNDED = 204, 205, 302, 304, 402, 501, 502
NOT_SEEN = (202, 203, 204, 205, 206, 207, 208, 306, 307)  # members.projections.NOT_SEEN, checked at start

# The simulator's vocabulary (siyu.channels.simulator.generator).
PRODUCTS = {"trial": 990, "materials": 2900, "monthly": 9900, "camp": 19900, "vip": 399900}
CAMP_DISCOUNT, MATERIALS_DISCOUNT = 5000, 1000
GROUP_SIZE = 500  # members per lead group


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=20_000_000, help="simulator events in the ledger (exactly)")
    parser.add_argument("--days", type=int, default=90, help="days of activity ending now (default 90)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tag-share", type=float, default=0.3, help="share of members given the tag (default 0.3)")
    parser.add_argument("--updates", type=int, default=1000, help="timed one-event ingests (default 1000)")
    parser.add_argument("--update-budget-s", type=float, default=1200,
                        help="stop the update loop after this many seconds (0: never; default 1200); the JSON says so")
    parser.add_argument("--enter-share", type=float, default=0.1,
                        help="share of the updates aimed at members whose message makes them enter (default 0.1)")
    parser.add_argument("--sample", type=int, default=1000, help="members recomputed in Python to check the projections")
    parser.add_argument("--max-age-days", type=int, default=1,
                        help="reuse cached data that ends at most this many days before today (default 1)")
    parser.add_argument("--rebuild", action="store_true", help="regenerate the cached data")
    parser.add_argument("--analyze", action="store_true", help="run ANALYZE before the timed parts (the app never does)")
    parser.add_argument("--keep", action="store_true", help="keep the run's database copy and Parquet files")
    args = parser.parse_args(argv)
    if args.members < 100 or args.events < args.members * 3:
        parser.error("need at least 100 members and 3 events a member")
    return args


def cache_key(args):
    return f"m{args.members}-e{args.events}-d{args.days}-s{args.seed}-t{round(args.tag_share * 100)}"


# -- 1. data ---------------------------------------------------------------------------------------

def table_columns(conn, table):
    """{column: (notnull, default)} of a table, to check that a raw insert fills every required column."""
    return {row[1]: (row[3], row[4]) for row in conn.execute(f'PRAGMA table_info("{table}")')}


def check_columns(conn, table, given):
    """Abort if `table` has a NOT NULL column without default that `given` lacks (the schema changed)."""
    missing = [c for c, (notnull, default) in table_columns(conn, table).items()
               if notnull and default is None and c not in given and c != "id"]
    unknown = [c for c in given if c not in table_columns(conn, table)]
    if missing or unknown:
        raise SystemExit(f"{table}: the bench's raw insert does not match the schema "
                         f"(missing {missing}, unknown {unknown}); update bench/segments.py")


class Calendar:
    """Local days of the workspace (a fixed UTC offset: Asia/Shanghai has had no DST since 1991)."""

    def __init__(self, now, days):
        tz = ZoneInfo(TIME_ZONE)
        self.offset = int(now.astimezone(tz).utcoffset().total_seconds())
        self.today = now.astimezone(tz).date()
        self.first = self.today - timedelta(days=days - 1)
        first_back = self.first - timedelta(days=400)
        if any((datetime(d.year, d.month, d.day, 12, tzinfo=tz).utcoffset().total_seconds() != self.offset)
               for d in (first_back + timedelta(days=n) for n in range(0, 400 + days, 7))):
            raise SystemExit(f"{TIME_ZONE} changed its UTC offset in the period; the SQL derivation assumes a fixed one")
        self.base = calendar.timegm(self.first.timetuple()) - self.offset  # epoch of local midnight, day 0
        self.now = int(now.timestamp()) - 120  # events end two minutes before the run started
        self.last_day = (self.today - self.first).days

    def sql_shift(self):
        hours = self.offset // 3600
        return f"{'+' if hours >= 0 else '-'}{abs(hours)} hours"


class Generator:
    """Simulator-shaped activity from one random.Random(seed): heavy-tailed talkers whose activity fades
    after they join, a trial order on arrival, camp orders (more likely for talkers) with a few refunds,
    monthly renewals, materials and a few VIP orders; messages peak at 20:00-22:00."""

    HOURS = [1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 2, 3, 3.5, 3.5, 3.5, 4, 3.5, 3, 3, 3, 3.5, 4, 6, 9, 10, 8, 3]

    def __init__(self, args, cal):
        self.args, self.cal, self.rng = args, cal, random.Random(args.seed)
        self.hour_cum = []
        total = 0
        for weight in self.HOURS:
            total += weight
            self.hour_cum.append(total)
        self.hour_total = total
        # Cumulative activity by age (days since joining): 0.35 + 0.65·exp(-age/6), as the simulator's _life.
        self.age_cum = [0.0]
        for age in range(1, args.days + 400):
            self.age_cum.append(self.age_cum[-1] + 0.35 + 0.65 * math.exp(-age / 6))

    def moment(self, day, earliest=None):
        """An epoch second on local day `day` (hour-weighted), before the run's start and after `earliest`."""
        rng, cal = self.rng, self.cal
        start = cal.base + day * 86400
        hour = bisect.bisect_right(self.hour_cum, rng.random() * self.hour_total)
        at = start + min(hour, 23) * 3600 + int(rng.random() * 3600)
        if earliest is not None and at <= earliest:
            at = earliest + 1 + int(rng.random() * 600)
        if at > cal.now:
            low = earliest + 1 if earliest is not None else start
            at = low + int(rng.random() * max(1, cal.now - low))
        return at

    def members(self):
        """Pass 1: per member talkativeness, arrival day (negative: before the window) and the non-message
        events (join, orders, refunds) as (epoch, type, amount, order number)."""
        args, cal, rng = self.args, self.cal, self.rng
        last = cal.last_day
        people = []
        order_no = 0
        for _ in range(args.members):
            talk = rng.lognormvariate(-0.9, 1.35)  # the simulator's: median about 0.4 messages a day
            if rng.random() < 0.35:
                arrival = -1 - int(rng.random() * 90)  # an older member, joined before the window
            else:
                while True:  # campaign waves: Mon-Wed weigh more
                    arrival = int(rng.random() * (last + 1))
                    if rng.random() < (1.0 if (cal.first + timedelta(days=arrival)).weekday() < 3 else 0.55):
                        break
            joined = self.moment(arrival)
            events = [(joined, T_JOINED, None, None)]
            if arrival >= 0:
                order_no += 1
                events.append((joined - 30, T_PAID, PRODUCTS["trial"], order_no))
                if arrival + 3 <= last and rng.random() < 0.06:
                    order_no += 1
                    events.append((self.moment(arrival + 3, joined), T_PAID, PRODUCTS["materials"] - MATERIALS_DISCOUNT, order_no))
            if rng.random() < 0.03 + min(0.08, talk * 0.05):  # bought the camp on day 5-8
                camp_day = arrival + 5 + int(rng.random() * 4)
                if 0 <= camp_day <= last:
                    order_no += 1
                    at = self.moment(camp_day, joined)
                    amount = PRODUCTS["camp"] - (CAMP_DISCOUNT if rng.random() < 0.25 else 0)
                    events.append((at, T_PAID, amount, order_no))
                    if rng.random() < 0.03 and at + 1200 <= cal.now:
                        events.append((at + 1200, T_REFUNDED, amount, order_no))
                renew = camp_day + 30
                while renew <= last:  # the perks group's monthly membership
                    if renew >= 0 and rng.random() < 0.5:
                        order_no += 1
                        events.append((self.moment(renew, joined), T_PAID, PRODUCTS["monthly"], order_no))
                    renew += 30
                if rng.random() < 0.05:
                    vip_day = camp_day + 10 + int(rng.random() * 40)
                    if 0 <= vip_day <= last:
                        order_no += 1
                        events.append((self.moment(vip_day, joined), T_PAID, PRODUCTS["vip"], order_no))
            first_age, last_age = max(1, -arrival), last - arrival
            weight = talk * (self.age_cum[last_age] - self.age_cum[first_age - 1]) if last_age >= first_age else 0.0
            people.append((talk, arrival, joined, weight, events))
        return people

    def message_counts(self, people, messages):
        """Poisson message counts with expected total `messages`, then nudged to exactly `messages`."""
        rng = self.rng
        total_weight = sum(p[3] for p in people)
        scale = messages / total_weight
        counts = []
        for p in people:
            counts.append(_poisson(rng, p[3] * scale))
        eligible = [i for i, p in enumerate(people) if p[3] > 0]
        diff = messages - sum(counts)
        while diff > 0:
            counts[rng.choice(eligible)] += 1
            diff -= 1
        while diff < 0:
            i = rng.choice(eligible)
            if counts[i]:
                counts[i] -= 1
                diff += 1
        return counts

    def messages_of(self, arrival, joined, count):
        """`count` message times of one member: days by the fading activity curve, hours by the evening peak."""
        rng, cum, cal = self.rng, self.age_cum, self.cal
        first_age, last_age = max(1, -arrival), cal.last_day - arrival
        low, span = cum[first_age - 1], cum[last_age] - cum[first_age - 1]
        out = []
        for _ in range(count):
            age = bisect.bisect_left(cum, low + rng.random() * span)
            age = first_age if age < first_age else (last_age if age > last_age else age)
            out.append(self.moment(arrival + age, joined))
        return out


def _poisson(rng, rate):
    if rate <= 0:
        return 0
    if rate > 30:
        return max(0, int(rng.gauss(rate, math.sqrt(rate)) + 0.5))
    threshold, k, product = math.exp(-rate), 0, rng.random()
    while product > threshold:
        k += 1
        product *= rng.random()
    return k


def index_sql(conn, table):
    return [(name, sql) for name, sql in conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL", [table])]


def generate(db_path, stage_path, args, workspace_id, tag_id, now):
    """Fill the database: members, identities, groups, the ledger, then the projections (see the module doc)."""
    from siyu.channels.simulator.generator import CITIES, CODES, GIVEN, PHRASES, SURNAMES

    cal = Calendar(now, args.days)
    gen = Generator(args, cal)
    timings = {}
    started = time.perf_counter()
    say(f"generate: {args.members:,} members, {args.events:,} simulator events, days {cal.first} to {cal.today} "
        f"({TIME_ZONE}), seed {args.seed}")
    people = gen.members()
    fixed = sum(len(p[4]) for p in people)
    messages = args.events - fixed
    if messages < 0:
        raise SystemExit(f"--events {args.events} is below the {fixed:,} joins and orders of {args.members:,} members")
    counts = gen.message_counts(people, messages)
    timings["plan_s"] = time.perf_counter() - started
    say(f"  plan: {fixed:,} joins and orders, {messages:,} messages to place ({timings['plan_s']:.1f}s)")

    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1048576")
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute(f"ATTACH DATABASE '{stage_path}' AS stage")
    conn.execute("PRAGMA stage.journal_mode=OFF")
    conn.execute("PRAGMA stage.synchronous=OFF")
    recorded = str(now.astimezone(dt_timezone.utc).replace(tzinfo=None))
    prefix = f"s{args.seed}-{cal.first:%Y%m%d}"

    # Members (ids 1..N, numbers 1..N), their simulator identities, and lead groups of GROUP_SIZE filled in
    # arrival order (as the simulator fills the open lead group).
    t = time.perf_counter()
    joined_at = [p[2] for p in people]
    by_arrival = sorted(range(args.members), key=joined_at.__getitem__)
    del joined_at
    group_of = [0] * args.members
    for rank, i in enumerate(by_arrival):
        group_of[i] = rank // GROUP_SIZE + 1
    groups = (args.members + GROUP_SIZE - 1) // GROUP_SIZE
    member_cols = ("id", "workspace_id", "number", "display_name", "gender", "city", "remark", "profile", "created_at",
                   "barred_reason", "phone", "phone_digest", "email", "wechat")
    identity_cols = ("id", "workspace_id", "member_id", "channel", "external_id", "display_name", "created_at")
    group_cols = ("id", "workspace_id", "channel", "external_id", "name", "kind", "capacity", "status", "created_at")
    check_columns(conn, "members_member", member_cols)
    check_columns(conn, "members_identity", identity_cols)
    check_columns(conn, "groups_group", group_cols)
    if conn.execute("SELECT count(*) FROM members_member").fetchone()[0]:
        raise SystemExit("the database already has members")
    rng = random.Random(args.seed + 1)
    conn.execute("BEGIN")
    conn.executemany(
        f"INSERT INTO groups_group ({', '.join(group_cols)}) VALUES (?, ?, 'simulator', ?, ?, 'lead', ?, 'active', ?)",
        [(g, workspace_id, f"s{args.seed}-g{g - 1}", f"9.9元体验课 {g}群", GROUP_SIZE + GROUP_SIZE // 5,
          _text(cal, cal.base - 86400 * 91)) for g in range(1, groups + 1)],
    )
    for start in range(0, args.members, 100_000):
        rows, identities = [], []
        for i in range(start, min(start + 100_000, args.members)):
            name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
            created = _text(cal, people[i][2])
            rows.append((i + 1, workspace_id, i + 1, name, rng.choice("fm"), rng.choice(CITIES), created))
            identities.append((i + 1, workspace_id, i + 1, f"s{args.seed}-u{i}", name, created))
        conn.executemany(
            f"INSERT INTO members_member ({', '.join(member_cols)}) VALUES (?, ?, ?, ?, ?, ?, '', '{{}}', ?, '', '', '', '', '')",
            rows,
        )
        conn.executemany(
            f"INSERT INTO members_identity ({', '.join(identity_cols)}) VALUES (?, ?, ?, 'simulator', ?, ?, ?)", identities,
        )
    conn.execute("UPDATE core_workspace SET member_number_seq = ? WHERE id = ?", [args.members, workspace_id])
    conn.execute("COMMIT")
    timings["members_s"] = time.perf_counter() - t
    say(f"  members, identities, {groups:,} groups: {timings['members_s']:.1f}s")

    # Events: (epoch, member, group, type, amount, aux) into the staging file; aux is the phrase or code
    # index, the order number, or the tag id.
    t = time.perf_counter()
    conn.execute("DROP TABLE IF EXISTS stage.raw")
    conn.execute("CREATE TABLE stage.raw (t INTEGER, member INTEGER, grp INTEGER, type INTEGER, amount INTEGER, aux INTEGER)")
    insert = "INSERT INTO stage.raw VALUES (?, ?, ?, ?, ?, ?)"
    buffer = []
    tagged = 0
    phrases, codes = len(PHRASES), len(CODES)
    random_ = gen.rng.random
    conn.execute("BEGIN")
    for i, (_talk, arrival, joined, _weight, events) in enumerate(people):
        member, group = i + 1, group_of[i]
        for at, kind, amount, order_no in events:
            if kind == T_JOINED:
                buffer.append((at, member, group, kind, None, int(random_() * codes)))
            else:
                buffer.append((at, member, None, kind, amount, order_no))
        for at in gen.messages_of(arrival, joined, counts[i]):
            buffer.append((at, member, group, T_MESSAGE, None, int(random_() * phrases)))
        if random_() < args.tag_share:
            tagged += 1
            buffer.append((min(joined + 3600, cal.now), member, None, T_TAGGED, None, tag_id))
        if len(buffer) >= 200_000:
            conn.executemany(insert, buffer)
            buffer.clear()
        if i and i % 200_000 == 0:
            say(f"    {i:,} members generated ({time.perf_counter() - t:.0f}s)")
    conn.executemany(insert, buffer)
    conn.execute("COMMIT")
    del people, buffer
    timings["generate_s"] = time.perf_counter() - t
    say(f"  events generated into the staging file: {timings['generate_s']:.1f}s ({tagged:,} tag events)")

    # The ledger: one INSERT … SELECT in time order, without the secondary indexes (recreated after). Source
    # ids are numbered in that order and zero-padded, so the unique (workspace, source, source_id) index,
    # which is part of the table, grows at its end.
    t = time.perf_counter()
    event_indexes = index_sql(conn, "core_event")
    for name, _sql in event_indexes:
        conn.execute(f'DROP INDEX "{name}"')
    phrase_case = "CASE s.aux " + " ".join(
        f"WHEN {n} THEN {_sql_text(json.dumps({'text': p}, ensure_ascii=False, separators=(',', ':')))}"
        for n, p in enumerate(PHRASES)) + " END"
    code_case = "CASE s.aux " + " ".join(f"WHEN {n} THEN {_sql_text(c)}" for n, c in enumerate(CODES)) + " END"
    product = (f"CASE s.amount WHEN {PRODUCTS['trial']} THEN 'trial' WHEN {PRODUCTS['materials'] - MATERIALS_DISCOUNT} "
               f"THEN 'materials' WHEN {PRODUCTS['monthly']} THEN 'monthly' WHEN {PRODUCTS['vip']} THEN 'vip' ELSE 'camp' END")
    discount = (f"CASE s.amount WHEN {PRODUCTS['materials'] - MATERIALS_DISCOUNT} THEN {MATERIALS_DISCOUNT} "
                f"WHEN {PRODUCTS['camp'] - CAMP_DISCOUNT} THEN {CAMP_DISCOUNT} END")
    order_id = f"'{prefix}-o' || s.aux"
    data = f"""CASE s.type
        WHEN {T_MESSAGE} THEN {phrase_case}
        WHEN {T_JOINED} THEN json_object('code', {code_case})
        WHEN {T_PAID} THEN CASE WHEN {discount} IS NULL
            THEN json_object('order_id', {order_id}, 'amount_cents', s.amount, 'product', {product})
            ELSE json_object('order_id', {order_id}, 'amount_cents', s.amount, 'product', {product}, 'discount_cents', {discount}) END
        WHEN {T_REFUNDED} THEN json_object('order_id', {order_id}, 'amount_cents', s.amount, 'product', {product})
        WHEN {T_TAGGED} THEN json_object('tag', s.aux, 'via', 'import', 'rule', NULL, 'by', NULL)
    END"""
    event_cols = ("workspace_id", "type", "occurred_at", "recorded_at", "source", "source_id", "member_id", "group_id", "data")
    check_columns(conn, "core_event", event_cols)
    conn.execute("BEGIN")
    conn.execute(
        f"""INSERT INTO core_event ({', '.join(event_cols)})
        SELECT ?, s.type, datetime(s.t, 'unixepoch'), ?,
            CASE WHEN s.type = {T_TAGGED} THEN 'siyu' ELSE 'simulator' END,
            CASE WHEN s.type = {T_TAGGED} THEN 'member.tagged:bench-import:' || printf('%09d', s.n)
                ELSE '{prefix}-' || printf('%09d', s.n) END,
            s.member, s.grp, {data}
        FROM (SELECT *, row_number() OVER (ORDER BY t, rowid) AS n FROM stage.raw) s""",
        [workspace_id, recorded],
    )
    conn.execute("COMMIT")
    conn.execute("DETACH DATABASE stage")
    os.remove(stage_path)
    timings["ledger_s"] = time.perf_counter() - t
    total, workspaces, low_member, high_member, low_group, high_group, future, simulator = conn.execute(
        "SELECT count(*), count(DISTINCT workspace_id), min(member_id), max(member_id), min(group_id), max(group_id), "
        "sum(occurred_at > ?), sum(source = 'simulator') FROM core_event", [recorded]).fetchone()
    backwards = conn.execute(
        "SELECT count(*) FROM (SELECT occurred_at < lag(occurred_at) OVER (ORDER BY id) AS back FROM core_event) WHERE back"
    ).fetchone()[0]
    say(f"  core_event: {total:,} rows in {timings['ledger_s']:.1f}s ({simulator:,} from the simulator)")
    if (workspaces, low_member, low_group, future, backwards, simulator) != (1, 1, 1, 0, 0, args.events) \
            or high_member > args.members or high_group > groups:
        raise SystemExit(f"core_event is not as generated: {workspaces} workspaces, members {low_member}-{high_member}, "
                         f"groups {low_group}-{high_group}, {future} in the future, {backwards} out of time order, "
                         f"{simulator} simulator events")

    # The projections the segment reads, derived from the ledger as members.projections computes them.
    t = time.perf_counter()
    shift = cal.sql_shift()
    amount = "json_extract(data, '$.amount_cents')"
    spend = f"CASE type WHEN {T_PAID} THEN {amount} WHEN {T_REFUNDED} THEN -{amount} ELSE 0 END"
    stats_cols = ("member_id", "workspace_id", "first_seen_at", "last_seen_at", "last_message_at", "messages", "orders", "spend_cents")
    day_cols = ("workspace_id", "member_id", "day", "messages", "orders", "spend_cents", "clicks")
    tag_cols = ("workspace_id", "member_id", "tag_id", "via", "rule_id", "by_id", "added_at")
    stay_cols = ("workspace_id", "group_id", "member_id", "role", "joined_at", "left_at")
    for table, cols in (("members_memberstats", stats_cols), ("members_memberday", day_cols),
                        ("members_membertag", tag_cols), ("groups_membership", stay_cols),
                        ("groups_groupstats", ("group_id", "workspace_id", "members_now"))):
        check_columns(conn, table, cols)
    derived_indexes = {table: index_sql(conn, table) for table in ("members_memberday", "members_membertag", "groups_membership")}
    for indexes in derived_indexes.values():
        for name, _sql in indexes:
            conn.execute(f'DROP INDEX "{name}"')
    steps = {
        "member_stats": f"""INSERT INTO members_memberstats ({', '.join(stats_cols)})
            SELECT member_id, workspace_id, min(occurred_at), max(occurred_at),
                max(CASE WHEN type = {T_MESSAGE} THEN occurred_at END),
                sum(type = {T_MESSAGE}), sum(type = {T_PAID}), sum({spend})
            FROM core_event WHERE workspace_id = {workspace_id} AND member_id IS NOT NULL
                AND type NOT IN ({', '.join(map(str, NOT_SEEN))})
            GROUP BY member_id ORDER BY member_id""",
        "member_day": f"""INSERT INTO members_memberday ({', '.join(day_cols)})
            SELECT workspace_id, member_id, date(occurred_at, '{shift}') AS local_day,
                sum(type = {T_MESSAGE}), sum(type = {T_PAID}), sum({spend}),
                sum(type = {T_CLICKED} AND NOT coalesce(json_extract(data, '$.bot'), 0))
            FROM core_event WHERE workspace_id = {workspace_id} AND member_id IS NOT NULL
                AND type IN ({T_MESSAGE}, {T_PAID}, {T_REFUNDED}, {T_CLICKED})
            GROUP BY local_day, member_id ORDER BY local_day, member_id""",
        # One tag event per member here, so "the last event per (member, tag) wins" is that event.
        "member_tag": f"""INSERT INTO members_membertag ({', '.join(tag_cols)})
            SELECT workspace_id, member_id, json_extract(data, '$.tag'), json_extract(data, '$.via'), NULL, NULL, occurred_at
            FROM core_event WHERE workspace_id = {workspace_id} AND type = {T_TAGGED} ORDER BY member_id""",
        "memberships": f"""INSERT INTO groups_membership ({', '.join(stay_cols)})
            SELECT workspace_id, group_id, member_id, 'member', min(occurred_at), NULL
            FROM core_event WHERE workspace_id = {workspace_id} AND type = {T_JOINED} GROUP BY group_id, member_id""",
        "group_stats": f"""INSERT INTO groups_groupstats (group_id, workspace_id, members_now)
            SELECT group_id, workspace_id, count(*) FROM groups_membership
            WHERE workspace_id = {workspace_id} AND left_at IS NULL GROUP BY group_id""",
    }
    conn.execute("BEGIN")
    for name, sql in steps.items():
        s = time.perf_counter()
        conn.execute(sql)
        say(f"    {name}: {time.perf_counter() - s:.1f}s")
    conn.execute("COMMIT")
    for indexes in derived_indexes.values():
        for _name, sql in indexes:
            conn.execute(sql)
    timings["projections_s"] = time.perf_counter() - t
    say(f"  projections derived: {timings['projections_s']:.1f}s")

    t = time.perf_counter()
    for name, sql in event_indexes:
        s = time.perf_counter()
        conn.execute(sql)
        say(f"    index {name}: {time.perf_counter() - s:.1f}s")
    timings["indexes_s"] = time.perf_counter() - t
    t = time.perf_counter()
    for table in ("members_identity", "members_memberstats", "members_memberday", "members_membertag",
                  "groups_membership", "groups_groupstats"):
        broken = conn.execute(f'PRAGMA foreign_key_check("{table}")').fetchall()
        if broken:
            raise SystemExit(f"{table}: {len(broken)} rows with a dangling foreign key, e.g. {broken[:3]}")
    say(f"  foreign keys of the derived tables checked: {time.perf_counter() - t:.1f}s")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    timings["total_s"] = time.perf_counter() - started
    say(f"  ledger indexes: {timings['indexes_s']:.1f}s; data ready in {timings['total_s']:.1f}s "
        f"({args.events / timings['total_s']:,.0f} simulator events/s overall)")
    return {
        "first_day": cal.first.isoformat(), "last_day": cal.today.isoformat(), "ledger_rows": total,
        "tag_events": tagged, "messages": messages, "joins_and_orders": fixed, "groups": groups,
        "timings": {k: round(v, 1) for k, v in timings.items()},
    }


def _text(cal, epoch):
    return datetime.fromtimestamp(epoch, dt_timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _sql_text(value):
    return "'" + value.replace("'", "''") + "'"


# -- checks of the derived projections ---------------------------------------------------------------

def recompute(cursor, member_ids):
    """MemberStats and MemberDay rows of `member_ids` recomputed in Python from their core_event rows, the
    way members.projections.MemberStatsProjection applies events (local days in the workspace's zone)."""
    tz = ZoneInfo(TIME_ZONE)
    stats, days = {}, {}
    for member_id in member_ids:
        cursor.execute("SELECT type, occurred_at, data FROM core_event WHERE member_id = %s ORDER BY occurred_at, id", [member_id])
        row, totals = None, {}
        for kind, at_text, data_text in cursor.fetchall():
            if kind in NOT_SEEN:
                continue
            at = _parse(at_text)
            if row is None:
                row = {"first_seen_at": at, "last_seen_at": at, "last_message_at": None, "messages": 0, "orders": 0, "spend_cents": 0}
            row["first_seen_at"], row["last_seen_at"] = min(row["first_seen_at"], at), max(row["last_seen_at"], at)
            if kind not in (T_MESSAGE, T_PAID, T_REFUNDED, T_CLICKED):
                continue
            data = json.loads(data_text)
            day = at.astimezone(tz).date().isoformat()
            total = totals.setdefault(day, {"messages": 0, "orders": 0, "spend_cents": 0, "clicks": 0})
            if kind == T_MESSAGE:
                row["messages"] += 1
                row["last_message_at"] = max(row["last_message_at"] or at, at)
                total["messages"] += 1
            elif kind == T_PAID:
                row["orders"] += 1
                row["spend_cents"] += data["amount_cents"]
                total["orders"] += 1
                total["spend_cents"] += data["amount_cents"]
            elif kind == T_REFUNDED:
                row["spend_cents"] -= data["amount_cents"]
                total["spend_cents"] -= data["amount_cents"]
            elif not data.get("bot"):
                total["clicks"] += 1
        if row is not None:
            stats[member_id] = row
        for day, total in totals.items():
            days[(member_id, day)] = total
    return stats, days


def _parse(value):
    """A stored timestamp (text, or a datetime if the driver converted it) as an aware UTC datetime."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=dt_timezone.utc) if value.tzinfo is None else value.astimezone(dt_timezone.utc)
    return datetime.fromisoformat(value).replace(tzinfo=dt_timezone.utc)


def projections_check(member_ids, label):
    """Compare the stored MemberStats and MemberDay rows of `member_ids` with `recompute`; return mismatches."""
    from django.db import connection

    member_ids = sorted(member_ids)
    problems = []
    with connection.cursor() as cursor:
        want_stats, want_days = recompute(cursor, member_ids)
        got_stats, got_days = {}, {}
        for start in range(0, len(member_ids), 500):
            chunk = member_ids[start : start + 500]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                "SELECT member_id, first_seen_at, last_seen_at, last_message_at, messages, orders, spend_cents "
                f"FROM members_memberstats WHERE member_id IN ({marks})", chunk)
            for m, first, last, last_message, messages, orders, spend in cursor.fetchall():
                got_stats[m] = {"first_seen_at": _parse(first), "last_seen_at": _parse(last),
                                "last_message_at": _parse(last_message) if last_message else None,
                                "messages": messages, "orders": orders, "spend_cents": spend}
            cursor.execute(
                f"SELECT member_id, day, messages, orders, spend_cents, clicks FROM members_memberday WHERE member_id IN ({marks})",
                chunk)
            for m, day, messages, orders, spend, clicks in cursor.fetchall():
                got_days[(m, str(day))] = {"messages": messages, "orders": orders, "spend_cents": spend, "clicks": clicks}
    for m in member_ids:
        if want_stats.get(m) != got_stats.get(m):
            problems.append(f"MemberStats of member {m}: stored {got_stats.get(m)}, recomputed {want_stats.get(m)}")
    for key in sorted(set(want_days) | set(got_days)):
        if want_days.get(key) != got_days.get(key):
            problems.append(f"MemberDay {key}: stored {got_days.get(key)}, recomputed {want_days.get(key)}")
    say(f"  {label}: {len(member_ids):,} members, {len(want_days):,} member-days recomputed from core_event: "
        f"{'ok' if not problems else f'{len(problems)} MISMATCHES'}")
    for line in problems[:10]:
        say(f"    {line}")
    return problems


def tags_check(member_ids, tag_id):
    """MemberTag of the sample against the members' member.tagged/untagged events (the last one wins)."""
    from siyu.core.models import Event
    from siyu.members.models import MemberTag

    member_ids = sorted(member_ids)
    want = {}
    for member_id, kind in Event.objects.filter(member_id__in=member_ids, type__in=[T_TAGGED, T_UNTAGGED],
                                                data__tag=tag_id).order_by("occurred_at", "id").values_list("member_id", "type"):
        want[member_id] = kind == T_TAGGED
    want = {m for m, held in want.items() if held}
    got = set(MemberTag.objects.filter(member_id__in=member_ids, tag_id=tag_id).values_list("member_id", flat=True))
    say(f"  MemberTag of the sample: {len(got):,} holders stored, {len(want):,} from the ledger: {'ok' if got == want else 'MISMATCH'}")
    return got == want


# -- 3. updates -------------------------------------------------------------------------------------

def window_start(today, days):
    return today - timedelta(days=days - 1)  # members.filters._window_start: today included


def update_candidates(workspace, tag_id, now, updates, enter_share, seed):
    """Members to send one message each: some whose 3rd message in 7 days makes them enter, the rest random."""
    from django.db import connection

    today = now.astimezone(ZoneInfo(TIME_ZONE)).date()
    d7, d90 = window_start(today, 7).isoformat(), window_start(today, 90).isoformat()
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT t.member_id FROM members_membertag t
            WHERE t.tag_id = %s
              AND (SELECT coalesce(sum(d.messages), 0) FROM members_memberday d WHERE d.member_id = t.member_id AND d.day >= %s) = 2
              AND (SELECT coalesce(sum(d.spend_cents), 0) FROM members_memberday d WHERE d.member_id = t.member_id AND d.day >= %s) >= 10000
            ORDER BY t.member_id""",
            [tag_id, d7, d90],
        )
        enterers = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT max(id) FROM members_member WHERE workspace_id = %s", [workspace.pk])
        highest = cursor.fetchone()[0]
    rng = random.Random(seed + 7)
    chosen = rng.sample(enterers, min(len(enterers), round(updates * enter_share)))
    taken = set(chosen)
    while len(chosen) < updates:
        m = rng.randint(1, highest)
        if m not in taken:
            taken.add(m)
            chosen.append(m)
    rng.shuffle(chosen)
    return chosen, len(enterers), len(taken & set(enterers))


def run_updates(workspace, segment, member_ids, seed, budget_s):
    """One events_ingest per member (one group.message), timed; stops early after `budget_s` seconds (if > 0).
    Returns (seconds, changed flags, changed, entered, left)."""
    from django.db import connection
    from django.utils import timezone

    from siyu.channels.simulator.generator import PHRASES
    from siyu.core.ingest import events_ingest
    from siyu.members.models import SegmentMember

    with connection.cursor() as cursor:
        refs = {}
        for start in range(0, len(member_ids), 500):
            chunk = member_ids[start : start + 500]
            cursor.execute(
                "SELECT i.member_id, i.external_id, i.display_name, g.external_id, g.name, g.kind, g.capacity "
                "FROM members_identity i JOIN groups_membership s ON s.member_id = i.member_id AND s.left_at IS NULL "
                "JOIN groups_group g ON g.id = s.group_id "
                f"WHERE i.channel = 'simulator' AND i.member_id IN ({', '.join(['%s'] * len(chunk))})", chunk)
            for m, ext, name, g_ext, g_name, kind, capacity in cursor.fetchall():
                refs[m] = ({"id": ext, "name": name}, {"id": g_ext, "name": g_name, "kind": kind, "capacity": capacity})
    rng = random.Random(seed + 11)
    tag = f"u{int(time.time())}"
    seconds, flags, changed, entered, left = [], [], 0, 0, 0
    deadline = time.perf_counter() + budget_s if budget_s > 0 else None
    for n, member_id in enumerate(member_ids):
        if deadline is not None and time.perf_counter() > deadline:
            say(f"    update budget of {budget_s:.0f}s spent after {n:,} updates: stopping")
            break
        actor, group = refs[member_id]
        before = SegmentMember.objects.filter(segment=segment, member_id=member_id).exists()
        event = {"type": "group.message", "source_id": f"bench-{tag}-{n}", "actor": actor, "group": group,
                 "data": {"text": rng.choice(PHRASES)}}
        event["occurred_at"] = timezone.now()
        start = time.perf_counter()
        result = events_ingest(workspace=workspace, source="simulator", events=[event])
        seconds.append(time.perf_counter() - start)
        assert result.stored == 1, result
        after = SegmentMember.objects.filter(segment=segment, member_id=member_id).exists()
        flags.append(after != before)
        if after != before:
            changed += 1
            entered += after
            left += before
        if (n + 1) % 100 == 0:
            say(f"    {n + 1:,} updates, median so far {statistics.median(seconds) * 1000:.1f} ms, {changed} changed")
    return seconds, flags, changed, entered, left


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]  # nearest rank


# -- diagnostics: where the build's time goes ----------------------------------------------------------

def diagnose(workspace, filter, now):
    """EXPLAIN QUERY PLAN of the compiled filter and the time of each leaf alone (not timed in the results)."""
    from django.db import connection

    from siyu.members.filters import filter_member_ids, members_matching

    members = members_matching(workspace=workspace, filter=filter, now=now).values_list("pk", flat=True)
    sql, params = members.query.sql_with_params()
    say("  compiled SQL:")
    say("    " + sql % tuple(repr(p) for p in params))
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        say("  query plan:")
        for row in cursor.fetchall():
            say(f"    {row}")
    leaves = {"members (no condition)": {}}
    names = ["tag", "messages_7d", "spend_90d"]
    for name, leaf in zip(names, filter["all"]):
        leaves[name] = leaf
    leaves["whole filter"] = filter
    out = {}
    for name, leaf in leaves.items():
        start = time.perf_counter()
        found = filter_member_ids(workspace=workspace, filter=leaf, now=now)
        out[name] = round(time.perf_counter() - start, 3)
        say(f"  {name}: {out[name]:.3f}s, {len(found):,} members")
    return out


# -- 4. DuckDB -------------------------------------------------------------------------------------------

def export(db_path, workspace_id, run_dir):
    """The raw events to Parquet (not timed): id, member_id, type, occurred_at (UTC), amount_cents, tag_id."""
    import duckdb

    csv_path, parquet = run_dir / "events.csv", run_dir / "events.parquet"
    sql = (f"SELECT id, member_id, type, occurred_at, "
           f"CASE WHEN type IN ({T_PAID}, {T_REFUNDED}) THEN json_extract(data, '$.amount_cents') END, "
           f"CASE WHEN type IN ({T_TAGGED}, {T_UNTAGGED}) THEN json_extract(data, '$.tag') END "
           f"FROM core_event WHERE workspace_id = {workspace_id} AND member_id IS NOT NULL")
    with open(csv_path, "w") as out:
        subprocess.run(["sqlite3", "-readonly", "-csv", str(db_path), sql], stdout=out, check=True)
    con = duckdb.connect()
    con.execute(
        f"""COPY (SELECT * FROM read_csv('{csv_path}', header = false, columns = {{
            'id': 'BIGINT', 'member_id': 'BIGINT', 'type': 'SMALLINT', 'occurred_at': 'TIMESTAMP',
            'amount_cents': 'BIGINT', 'tag_id': 'BIGINT'}})) TO '{parquet}' (FORMAT parquet)""")
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{parquet}')").fetchone()[0]
    con.close()
    csv_path.unlink()
    return parquet, rows


def duckdb_query(parquet, tag_id, today, offset_hours):
    """The segment from the raw events: holders of the tag (last tagged/untagged event wins), ≥ 3 messages
    in the last 7 local days, paid minus refunded ≥ 10000 cents in the last 90 local days."""
    d7, d90 = window_start(today, 7), window_start(today, 90)
    ev = f"read_parquet('{parquet}')"
    return f"""
CREATE TABLE segment AS
WITH tagged AS (
    SELECT member_id FROM {ev} WHERE type IN ({T_TAGGED}, {T_UNTAGGED}) AND tag_id = {tag_id}
    GROUP BY member_id HAVING arg_max(type, (occurred_at, id)) = {T_TAGGED}
), counted AS (
    SELECT member_id, type, amount_cents, CAST(occurred_at + INTERVAL {offset_hours} HOUR AS DATE) AS day
    FROM {ev} WHERE type IN ({T_MESSAGE}, {T_PAID}, {T_REFUNDED})
), talkers AS (
    SELECT member_id FROM counted WHERE type = {T_MESSAGE} AND day >= DATE '{d7}'
    GROUP BY member_id HAVING count(*) >= 3
), spenders AS (
    SELECT member_id FROM counted WHERE type IN ({T_PAID}, {T_REFUNDED}) AND day >= DATE '{d90}'
    GROUP BY member_id HAVING sum(CASE WHEN type = {T_PAID} THEN amount_cents ELSE -amount_cents END) >= 10000
)
SELECT member_id FROM tagged INTERSECT SELECT member_id FROM talkers INTERSECT SELECT member_id FROM spenders
"""


# -- main -----------------------------------------------------------------------------------------------

def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    key = cache_key(args)
    cache = CACHE_DIR / key
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    lock = open(CACHE_DIR / f"{key}.lock", "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        say(f"waiting for another run using the cache {key} ...")
        fcntl.flock(lock, fcntl.LOCK_EX)
    run_started = time.perf_counter()
    run_dir = BENCH_DIR / f"segments-{datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}"
    run_dir.mkdir(parents=True)
    db_path = run_dir / "siyu.sqlite3"
    try:
        meta_path = cache / "meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else None
        today = datetime.now(ZoneInfo(TIME_ZONE)).date()
        reason = None
        if args.rebuild:
            reason = "--rebuild"
        elif meta is None or not (cache / "siyu.sqlite3").exists():
            reason = "no cached data"
        elif meta.get("data_version") != DATA_VERSION:
            reason = f"the cache has data version {meta.get('data_version')}, this script {DATA_VERSION}"
        elif (today - datetime.fromisoformat(meta["last_day"]).date()).days > args.max_age_days:
            reason = f"the cached data ends {meta['last_day']}, more than {args.max_age_days} day(s) ago"
        cached = reason is None
        if cached:
            t = time.perf_counter()
            shutil.copyfile(cache / "siyu.sqlite3", db_path)
            say(f"cached data {cache} (ends {meta['last_day']}), copied in {time.perf_counter() - t:.1f}s")
        else:
            say(f"building the data: {reason}")
        django_start(run_dir, f"sqlite:///{db_path}")

        from django.core.management import call_command
        from django.db import connection
        from django.utils import timezone

        from siyu.core.events import EventType
        from siyu.core.models import Event, Workspace
        from siyu.members import projections as member_projections
        from siyu.members.segments import segment_create
        from siyu.members.models import Member, MemberTag, SegmentMember, Tag
        from siyu.members.filters import filter_member_ids
        from siyu.members.tags import tag_create
        from siyu.core.services import workspace_create

        for number, member in ((T_TAGGED, "MEMBER_TAGGED"), (T_UNTAGGED, "MEMBER_UNTAGGED"), (T_JOINED, "GROUP_JOINED"),
                               (T_MESSAGE, "GROUP_MESSAGE"), (T_CLICKED, "LINK_CLICKED"), (T_PAID, "ORDER_PAID"),
                               (T_REFUNDED, "ORDER_REFUNDED")):
            assert int(getattr(EventType, member)) == number, member
        assert set(NOT_SEEN) == {int(t) for t in member_projections.NOT_SEEN}, "members.projections.NOT_SEEN changed"

        version = code_version()
        say(f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, code {version}, {os.cpu_count()} CPUs")
        call_command("migrate", verbosity=0)
        if cached:
            workspace = Workspace.objects.get(slug="bench")
            tag = Tag.objects.get(pk=meta["tag_id"])
            if meta.get("code") != version:
                say(f"  note: the cache was built by code {meta.get('code')}; use --rebuild if the projections changed")
        else:
            workspace = workspace_create(slug="bench", name="Segments bench", time_zone=TIME_ZONE)
            tag = tag_create(workspace=workspace, name="高意向")
            connection.close()
            built = generate(db_path, run_dir / "stage.sqlite3", args, workspace.pk, tag.pk, timezone.now())
            meta = {"data_version": DATA_VERSION, "key": key, "code": version, "workspace_id": workspace.pk,
                    "tag_id": tag.pk, "members": args.members, "events": args.events, "seed": args.seed, **built}
        members_total = Member.objects.filter(workspace=workspace).count()
        ledger_rows = Event.objects.filter(workspace=workspace).count()
        say(f"workspace: {members_total:,} members, {ledger_rows:,} events in the ledger "
            f"({MemberTag.objects.filter(tag=tag).count():,} with tag {tag.pk} “{tag.name}”), data {meta['first_day']} to {meta['last_day']}")

        # Check the derived projections on a sample before anything is timed.
        rng = random.Random(args.seed + 3)
        sample = rng.sample(range(1, members_total + 1), min(args.sample, members_total))
        problems = projections_check(sample, "projections check (sample)")
        if problems or not tags_check(sample, tag.pk):
            raise SystemExit("the derived projections do not match the ledger: aborting")
        if not cached:
            connection.close()
            t = time.perf_counter()
            cache.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(db_path, cache / "siyu.sqlite3")
            meta_path.write_text(json.dumps(meta, indent=2) + "\n")  # written last: the cache is complete
            say(f"  cached as {cache} ({(cache / 'siyu.sqlite3').stat().st_size / 2**30:.2f} GiB, copied in {time.perf_counter() - t:.1f}s)")
        if args.analyze:
            t = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            say(f"ANALYZE: {time.perf_counter() - t:.1f}s")

        # 2. The first full build.
        filter = {"all": [{"tag": tag.pk}, {"count": "messages", "days": 7, "op": "gte", "value": 3},
                          {"count": "spend", "days": 90, "op": "gte", "value": 100}]}
        say(f"B: segment_create with {json.dumps(filter)}")
        start = time.perf_counter()
        segment = segment_create(workspace=workspace, name=f"bench {datetime.now():%H%M%S}", filter=filter)
        build_s = time.perf_counter() - start
        segment.refresh_from_db()
        say(f"B: built in {build_s:.3f}s: {segment.size:,} members (segment.build_ms {segment.build_ms})")

        # 3. One event at a time.
        now = timezone.now()
        chosen, enterers, aimed = update_candidates(workspace, tag.pk, now, args.updates, args.enter_share, args.seed)
        size_before = segment.size
        entered_events_before = Event.objects.filter(workspace=workspace, type=EventType.MEMBER_SEGMENT_ENTERED).count()
        say(f"U: {len(chosen):,} one-message ingests: {aimed} aimed at members who should enter "
            f"(of {enterers:,} tagged members with 2 messages in 7 days and enough spend), the rest random")
        tagged = set()
        for start in range(0, len(chosen), 900):
            tagged.update(MemberTag.objects.filter(tag=tag, member_id__in=chosen[start : start + 900]).values_list("member_id", flat=True))
        update_started = time.perf_counter()
        seconds, flags, changed, entered, left = run_updates(workspace, segment, chosen, args.seed, args.update_budget_s)
        update_loop_s = time.perf_counter() - update_started
        kinds = ["changed" if flag else ("unchanged, tagged" if chosen[n] in tagged else "unchanged, untagged")
                 for n, flag in enumerate(flags)]
        split = {}
        for label in ("changed", "unchanged, tagged", "unchanged, untagged"):
            part = [s for s, kind in zip(seconds, kinds) if kind == label]
            if part:
                split[label] = {"n": len(part), "p50": round(statistics.median(part) * 1000, 2),
                                "p95": round(percentile(part, 0.95) * 1000, 2), "max": round(max(part) * 1000, 2)}
        slow = sorted(range(len(seconds)), key=seconds.__getitem__)[-5:]
        segment.refresh_from_db()
        entered_events = Event.objects.filter(workspace=workspace, type=EventType.MEMBER_SEGMENT_ENTERED).count() - entered_events_before
        p50, p95, worst = statistics.median(seconds) * 1000, percentile(seconds, 0.95) * 1000, max(seconds) * 1000
        say(f"U: p50 {p50:.2f} ms, p95 {p95:.2f} ms, max {worst:.2f} ms, mean {statistics.mean(seconds) * 1000:.2f} ms; "
            f"{changed} changed membership ({entered} entered, {left} left); size {size_before:,} -> {segment.size:,}; "
            f"{entered_events} member.segment_entered events")
        say(f"U: by outcome (ms): {split}; slowest calls (n, ms, changed): "
            f"{[(n, round(seconds[n] * 1000, 1), flags[n]) for n in slow]}")

        # Checks: the live list against a full recomputation; the touched members' projections.
        check_now = timezone.now()
        live = set(SegmentMember.objects.filter(segment=segment).values_list("member_id", flat=True))
        full = filter_member_ids(workspace=workspace, filter=filter, now=check_now)
        verified = live == full and len(live) == segment.size
        say(f"check: live list {len(live):,}, full recomputation {len(full):,}, segment.size {segment.size:,}: "
            f"{'equal' if verified else f'DIFFERENT ({len(live - full)} only live, {len(full - live)} only recomputed)'}")
        touched_ok = not projections_check(chosen[: len(seconds)], "projections check (the updated members, after ingest)")
        verified = verified and touched_ok

        say("diagnostics (not timed): the compiled filter")
        leaf_s = diagnose(workspace, filter, check_now)

        # 4. DuckDB.
        connection.close()
        t = time.perf_counter()
        parquet, exported = export(db_path, workspace.pk, run_dir)
        say(f"D: exported {exported:,} member events to {parquet.name} in {time.perf_counter() - t:.1f}s (not timed)")
        import duckdb

        today = check_now.astimezone(ZoneInfo(TIME_ZONE)).date()
        offset_hours = int(check_now.astimezone(ZoneInfo(TIME_ZONE)).utcoffset().total_seconds() // 3600)
        con = duckdb.connect()
        threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
        start = time.perf_counter()
        con.execute(duckdb_query(parquet, tag.pk, today, offset_hours))
        duckdb_s = time.perf_counter() - start
        duck = {row[0] for row in con.execute("SELECT member_id FROM segment").fetchall()}
        con.close()
        duckdb_match = duck == live
        say(f"D: DuckDB {duckdb_s:.3f}s with {threads} threads: {len(duck):,} members, "
            f"{'equal to the live list' if duckdb_match else f'DIFFERENT ({len(duck - live)} only DuckDB, {len(live - duck)} only Siyu)'}")

        ratio = build_s / duckdb_s
        say(f"build {build_s:.3f}s (target <= {TARGETS['build_s']}), update p50 {p50:.2f} ms (target <= {TARGETS['update_ms_p50']}), "
            f"build / DuckDB = {ratio:.2f}; whole run {time.perf_counter() - run_started:.0f}s")
        result = {
            "name": "segments",
            "members": members_total,
            "events": ledger_rows,
            "build_s": round(build_s, 3),
            "size": size_before,
            "size_after_updates": segment.size,
            "update_ms_p50": round(p50, 2),
            "update_ms_p95": round(p95, 2),
            "update_ms_max": round(worst, 2),
            "updates": len(seconds),
            "updates_planned": len(chosen),
            "update_loop_s": round(update_loop_s, 1),
            "stopped_early": len(seconds) < len(chosen),
            "changed": changed,
            "entered_events": entered_events,
            "update_ms_by_outcome": split,
            "duckdb_s": round(duckdb_s, 3),
            "ratio_to_duckdb": round(ratio, 3),
            "verified": verified,
            "duckdb_match": duckdb_match,
            "targets": TARGETS,
            "leaf_s": leaf_s,
            "duckdb_threads": threads,
            "data_path": DATA_PATH,
            "data": {"first_day": meta["first_day"], "last_day": meta["last_day"], "simulator_events": args.events,
                     "tag_events": meta["tag_events"], "seed": args.seed, "tag_share": args.tag_share,
                     "build_timings_s": meta["timings"]},
            "cached": cached,
            "analyzed": args.analyze,
            "db": "sqlite",
            "commit": version,
        }
        print(json.dumps(result, ensure_ascii=False), flush=True)
        return 0 if verified and duckdb_match else 1
    finally:
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)
        else:
            say(f"kept {run_dir}")
        lock.close()


if __name__ == "__main__":
    sys.exit(main())
