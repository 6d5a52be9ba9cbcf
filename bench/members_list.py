"""Members list at scale: page timings of the console's members list with 1,000,000 members.

    .venv/bin/python bench/members_list.py [--members 1000000] [--db sqlite|postgres]

Fills a fresh database with members (and their memberships across 100 groups) by direct inserts,
then times console requests through Django's test client: the first page, a page deep in the list
(keyset), a number lookup, a name search and a group filter. The reference is the first page: a
keyset page deep in the list should cost about what the first one does (ratio near 1.0).
Prints a last line of JSON.
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--repeat", type=int, default=5, help="requests per measured page (median reported)")
    return parser.parse_args()


def setup_database(kind):
    scratch = Path(tempfile.mkdtemp(prefix="siyu-bench-members-"))
    os.environ["SIYU_VAR_DIR"] = str(scratch)
    if kind == "sqlite":
        os.environ["SIYU_DATABASE_URL"] = f"sqlite:///{scratch / 'bench.sqlite3'}"
    else:
        import psycopg

        with psycopg.connect("postgresql://root@127.0.0.1:5432/test", autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS siyu_bench_members")
            conn.execute("CREATE DATABASE siyu_bench_members")
        os.environ["SIYU_DATABASE_URL"] = "postgres://root@127.0.0.1:5432/siyu_bench_members"
    os.environ["DJANGO_SETTINGS_MODULE"] = "siyu.settings.base"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fill(members):
    from django.db import connection, transaction
    from django.utils import timezone

    from siyu.core.models import Role, Workspace
    from siyu.core.services import staff_role_set, staff_user_ensure, workspace_create
    from siyu.groups.models import Group

    workspace = workspace_create(slug="big", name="Big")
    user = staff_user_ensure(username="bench", password="bench-password-1")
    staff_role_set(workspace=workspace, user=user, role=Role.OPERATOR)
    groups = Group.objects.bulk_create(
        [Group(workspace=workspace, channel="simulator", external_id=f"g{i}", name=f"群 {i}", kind="lead" if i % 5 else "perks")
         for i in range(100)]
    )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    surnames = "王李张刘陈杨黄赵吴周"
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(1, members + 1, 50_000):
            numbers = range(start, min(start + 50_000, members + 1))
            cursor.executemany(
                "INSERT INTO members_member (workspace_id, number, display_name, gender, city, remark, profile, created_at,"
                " barred_reason, phone, phone_digest, email, wechat)"
                " VALUES (%s, %s, %s, '', '', '', '{}', %s, '', '', '', '', '')",
                [(workspace.pk, n, f"{surnames[n % 10]}同学{n}", now) for n in numbers],
            )
        cursor.execute("SELECT id, number FROM members_member WHERE workspace_id = %s", [workspace.pk])
        ids = cursor.fetchall()
        for start in range(0, len(ids), 50_000):
            cursor.executemany(
                "INSERT INTO groups_membership (workspace_id, group_id, member_id, role, joined_at, left_at)"
                " VALUES (%s, %s, %s, 'member', %s, NULL)",
                [(workspace.pk, groups[number % 100].pk, pk, now) for pk, number in ids[start : start + 50_000]],
            )
        cursor.execute(
            "INSERT INTO groups_groupstats (group_id, workspace_id, members_now) SELECT group_id, workspace_id, COUNT(*)"
            " FROM groups_membership WHERE left_at IS NULL GROUP BY group_id, workspace_id"
        )
    Workspace.objects.filter(pk=workspace.pk).update(member_number_seq=members)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return workspace, user, groups, time.perf_counter() - started


def timed(client, url, repeat):
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - started)
        assert response.status_code == 200, (url, response.status_code)
    return round(statistics.median(samples) * 1000, 1)


def main():
    args = parse_args()
    setup_database(args.db)
    from django.test import Client

    workspace, user, groups, fill_seconds = fill(args.members)
    print(f"filled {args.members} members in {fill_seconds:.1f}s", file=sys.stderr)
    client = Client()
    client.force_login(user)
    base = f"/w/{workspace.slug}/members/"
    deep = max(2, args.members // 2)
    pages = {
        "first_page_ms": base,
        "deep_page_ms": f"{base}?before={deep}",
        "last_page_ms": f"{base}?before=30",
        "number_lookup_ms": f"{base}?q={deep}",
        "name_search_ms": f"{base}?q=同学12345",
        "group_filter_ms": f"{base}?group={groups[7].pk}",
        "kind_filter_deep_ms": f"{base}?kind=perks&before={deep}",
    }
    figures = {name: timed(client, url, args.repeat) for name, url in pages.items()}
    for name, value in figures.items():
        print(f"{name:>22}: {value} ms", file=sys.stderr)
    result = {"name": "members_list", "members": args.members, "db": args.db, **figures,
              "deep_to_first_ratio": round(figures["deep_page_ms"] / figures["first_page_ms"], 3)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
