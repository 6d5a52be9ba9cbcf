import statistics
from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from siyu.channels.simulator.generator import Community, Plan
from siyu.channels.simulator.services import simulation_plan, simulation_run
from siyu.core.models import Event

PLAN = Plan(groups=8, members=1000, days=30, seed=11, until=date(2026, 3, 1))


def events_of(plan):
    return [e for _, day in Community(plan).days() for e in day]


def test_the_same_seed_gives_the_same_events_and_another_seed_does_not():
    first, second = events_of(PLAN), events_of(PLAN)
    assert first == second
    other = events_of(Plan(**{**PLAN.__dict__, "seed": 12}))
    assert [e["data"] for e in other[:200]] != [e["data"] for e in first[:200]]


def test_the_community_has_the_shapes_operators_see():
    events = events_of(PLAN)
    kinds = Counter(e["type"] for e in events)
    assert kinds["group.joined"] >= PLAN.members and kinds["link.exposed"] > kinds["group.joined"]
    assert kinds["group.left"] > 0 and kinds["order.paid"] > PLAN.members  # everyone paid the trial, some more
    products = Counter(e["data"]["product"] for e in events if e["type"] == "order.paid")
    assert products["trial"] == PLAN.members and 0 < products["vip"] < products["camp"] < products["trial"]
    # Heavy tail: the top tenth of speakers send far more than their share.
    per_person = Counter(e["actor"]["id"] for e in events if e["type"] == "group.message" and "-u" in e["actor"]["id"])
    counts = sorted(per_person.values(), reverse=True)
    top_share = sum(counts[: len(counts) // 10]) / sum(counts)
    assert top_share > 0.4, top_share
    assert statistics.median(counts) < statistics.mean(counts)
    # Evening peak: 20:00-22:59 local holds the busiest hours.
    hours = Counter(e["occurred_at"].hour for e in events if e["type"] == "group.message")
    busiest = {h for h, _ in hours.most_common(3)}
    assert busiest <= {19, 20, 21, 22}, hours.most_common(5)
    assert all(isinstance(e["occurred_at"], datetime) and e["occurred_at"].tzinfo for e in events)
    # Within a day, events come in time order.
    for _, day in Community(PLAN).days():
        assert [e["occurred_at"] for e in day] == sorted(e["occurred_at"] for e in day)


def test_running_a_plan_again_stores_nothing(workspace):
    plan = simulation_plan(workspace=workspace, groups=4, members=80, days=7, seed=3, until=date(2026, 3, 1))
    received, stored = simulation_run(workspace=workspace, plan=plan)
    assert received == stored > 0
    assert simulation_run(workspace=workspace, plan=plan) == (received, 0)
    assert Event.objects.filter(workspace=workspace).count() == stored


def test_every_event_happens_before_until_and_refunds_name_their_order():
    from datetime import time as clock
    from zoneinfo import ZoneInfo

    plan = Plan(groups=6, members=2000, days=20, seed=2, until=date(2026, 3, 1))
    events = events_of(plan)
    end = datetime.combine(plan.until, clock(0), tzinfo=ZoneInfo(plan.time_zone))
    assert max(e["occurred_at"] for e in events) < end
    # Every event stays inside its own simulated day (the demo's seed once let a join spill past midnight).
    demo = Plan(groups=40, members=5000, days=60, seed=2026, until=date(2026, 5, 1))
    for day, day_events in Community(demo).days():
        first = datetime.combine(demo.start, clock(0), tzinfo=ZoneInfo(demo.time_zone))
        assert all(e["occurred_at"].astimezone(ZoneInfo(demo.time_zone)).date() == (first.date() + timedelta(days=day))
                   for e in day_events if e["type"] != "link.exposed"), day
    paid = {e["data"]["order_id"] for e in events if e["type"] == "order.paid"}
    refunds = [e for e in events if e["type"] == "order.refunded"]
    assert refunds and all(r["data"]["order_id"] in paid for r in refunds)


def test_demo_keeps_an_existing_workspaces_history(db):
    from siyu.channels.simulator.demo import DEMO_SLUG, demo_create
    from siyu.core.models import Workspace

    demo_create(groups=4, members=60, days=5)
    workspace = Workspace.objects.get(slug=DEMO_SLUG)
    stored = Event.objects.filter(workspace=workspace).count()
    demo_create(groups=4, members=60, days=6)  # as if run again another day
    assert Event.objects.filter(workspace=workspace).count() == stored
    assert workspace.staff.count() == 4
    # Members in depth: tag groups, tags on members, a live tag rule and segments with lists.
    from siyu.members.models import MemberTag, Segment, TagRule

    assert workspace.tag_groups.count() == 3 and MemberTag.objects.filter(workspace=workspace).exists()
    assert TagRule.objects.filter(workspace=workspace).count() == 1
    assert Segment.objects.filter(workspace=workspace, built_at__isnull=False).count() == 3
    from siyu.members.models import Lead, Member, Note

    assert Member.objects.filter(workspace=workspace, owner__username="sales").exists()
    assert Note.objects.filter(workspace=workspace).count() == 12
    assert not Lead.objects.filter(lead_list__workspace=workspace).exclude(assigned_to__username="sales").exists()


def test_silent_members_are_recalled_on_tuesdays_at_most_three_times():
    plan = Plan(groups=4, members=200, days=70, seed=5, until=date(2026, 3, 1))
    recalls = [e for e in events_of(plan) if e["type"] == "campaign.touched" and e["data"]["campaign"].startswith("recall-")]
    assert recalls and all(e["occurred_at"].astimezone(ZoneInfo(plan.time_zone)).weekday() == 1 for e in recalls)
    per_person = Counter(e["actor"]["id"] for e in recalls)
    assert max(per_person.values()) == 3  # silent people would be recalled each of the 10 Tuesdays otherwise
