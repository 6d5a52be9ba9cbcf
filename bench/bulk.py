"""Bulk actions at their limit: tag, undo and set the owner of 50,000 members, "all that match" the members list.

    .venv/bin/python bench/bulk.py [--members 50000] [--db sqlite|postgres]

Fills a fresh database as bench/members_list.py does (members by direct inserts, memberships in 100 groups),
then times the services of siyu.members.bulk on a selection of every member (the list's filter, evaluated
again and its count checked, as the console sends it): bulk_tag (one member.tagged event per member),
bulk_undo (one member.untagged each), bulk_owner_set (one member.owner_changed each). Prints a last line of JSON.
"""
import argparse
import json
import sys
import time

from members_list import fill, setup_database


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    return parser.parse_args()


def main():
    args = parse_args()
    setup_database(args.db)
    from siyu.core.models import Role
    from siyu.core.services import staff_role_set, staff_user_ensure
    from siyu.members.bulk import Selection, bulk_owner_set, bulk_tag, bulk_undo
    from siyu.members.selectors import member_list_matching
    from siyu.members.tags import tag_create

    workspace, user, _groups, fill_seconds = fill(args.members)
    print(f"filled {args.members} members in {fill_seconds:.1f}s", file=sys.stderr)
    staff_role_set(workspace=workspace, user=user, role=Role.OPERATOR)
    owner = staff_user_ensure(username="bench-sales", password="bench-password-1")
    staff_role_set(workspace=workspace, user=owner, role=Role.SALES)
    tag = tag_create(workspace=workspace, name="批量")

    def everyone():
        return Selection(members=member_list_matching(workspace=workspace), expected=args.members)

    timings = {}
    started = time.perf_counter()
    action = bulk_tag(workspace=workspace, selection=everyone(), tag_ids=[tag.pk], by=user, key="bench-tag")
    timings["tag_s"] = round(time.perf_counter() - started, 2)
    assert action.changed == args.members, action.changed
    started = time.perf_counter()
    restored = bulk_undo(action=action, by=user)
    timings["undo_s"] = round(time.perf_counter() - started, 2)
    assert restored == args.members, restored
    started = time.perf_counter()
    moved = bulk_owner_set(workspace=workspace, selection=everyone(), owner=owner, by=user, key="bench-owner")
    timings["owner_s"] = round(time.perf_counter() - started, 2)
    assert moved.changed == args.members, moved.changed
    print(json.dumps({"name": "bulk", "members": args.members, "db": args.db, **timings,
                      "tag_members_per_s": round(args.members / timings["tag_s"])}))


if __name__ == "__main__":
    main()
