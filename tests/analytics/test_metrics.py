"""Every metric hand-computed on a small fixed ledger (Asia/Shanghai, period Mon 2026-03-02 .. Sun 03-08).

People (u1..u5) and groups: A (lead, with links), B (perks), C (empty: known, no members), D (opened
mid-period). Times are UTC; the local day is 8 hours ahead.

Before the period: u1, u2, u3 join A; u1 joins B.
In the period:
  03-02  4 exposures of A's code; u4 joins A invited by u1; u1 writes 2 messages in A and 1 in B,
         u4 one in A; u1 pays o1 9900; u4 pays o2 990; A costs 2000
  03-03  u2 writes in A at 01:30 local (still 03-02 in UTC), then leaves A; o2 is refunded in full
  03-04  2 exposures of A's code; u1 pays o3 5000 with a discount; a 1000 cost with no group
  03-05  u2 rejoins A; u5 pays o4 19900 at 13:50 and joins D at 14:00 (D's first day), writes there
  03-06  u3 leaves A
"""
from datetime import date

import pytest

from siyu.analytics import metrics
from siyu.analytics.models import GroupDay, Sale, SaleGroup, WorkspaceDay
from siyu.analytics.rollups import rollups_rebuild, rollups_refresh
from siyu.core.ingest import events_ingest
from siyu.groups.models import Group

FIRST, LAST = date(2026, 3, 2), date(2026, 3, 8)
TODAY = date(2026, 3, 8)


def event(n, type_, at, *, actor=None, group=None, kind="lead", **data):
    raw = {"type": type_, "source_id": f"m{n}", "occurred_at": at, "data": data}
    if actor:
        raw["actor"] = {"id": f"@{actor}:x", "name": actor}
    if group:
        raw["group"] = {"id": f"!{group}:x", "name": f"Group {group}", "kind": kind}
    return raw


def ledger():
    A, B, D = {"group": "A"}, {"group": "B", "kind": "perks"}, {"group": "D", "kind": "perks"}
    return [
        event(1, "group.joined", "2026-03-01T02:00:00Z", actor="u1", **A),
        event(2, "group.joined", "2026-03-01T03:00:00Z", actor="u2", **A),
        event(3, "group.joined", "2026-03-01T04:00:00Z", actor="u3", **A),
        event(4, "group.joined", "2026-03-01T05:00:00Z", actor="u1", **B),
        event(5, "group.updated", "2026-03-01T06:00:00Z", group="C", name="Group C"),
        *[event(10 + i, "link.exposed", "2026-03-02T01:00:00Z", code="poster", visitor=f"v{i}", **A) for i in range(4)],
        event(20, "group.joined", "2026-03-02T02:00:00Z", actor="u4", inviter="@u1:x", **A),
        event(21, "group.message", "2026-03-02T04:00:00Z", actor="u1", text="hi", **A),
        event(22, "group.message", "2026-03-02T04:05:00Z", actor="u1", text="hi again", **A),
        event(23, "group.message", "2026-03-02T04:10:00Z", actor="u4", text="hello", **A),
        event(24, "group.message", "2026-03-02T04:20:00Z", actor="u1", text="in B", **B),
        event(25, "order.paid", "2026-03-02T06:00:00Z", actor="u1", order_id="o1", amount_cents=9900, product="camp"),
        event(26, "order.paid", "2026-03-02T06:30:00Z", actor="u4", order_id="o2", amount_cents=990, product="trial"),
        event(27, "cost.recorded", "2026-03-02T08:00:00Z", amount_cents=2000, **A),
        event(30, "group.message", "2026-03-02T17:30:00Z", actor="u2", text="late night", **A),
        event(31, "order.refunded", "2026-03-03T01:00:00Z", actor="u4", order_id="o2", amount_cents=990),
        event(32, "group.left", "2026-03-03T03:00:00Z", actor="u2", **A),
        *[event(40 + i, "link.exposed", "2026-03-04T01:00:00Z", code="poster", visitor=f"w{i}", **A) for i in range(2)],
        event(42, "order.paid", "2026-03-04T06:00:00Z", actor="u1", order_id="o3", amount_cents=5000,
              discount_cents=1000, product="camp-materials"),
        event(43, "cost.recorded", "2026-03-04T07:00:00Z", amount_cents=1000, category="design"),
        event(50, "group.joined", "2026-03-05T03:00:00Z", actor="u2", **A),
        event(51, "order.paid", "2026-03-05T05:50:00Z", actor="u5", order_id="o4", amount_cents=19900, product="camp"),
        event(52, "group.joined", "2026-03-05T06:00:00Z", actor="u5", **D),
        event(53, "group.message", "2026-03-05T07:00:00Z", actor="u5", text="new here", **D),
        event(60, "group.left", "2026-03-06T03:00:00Z", actor="u3", **A),
    ]


@pytest.fixture
def community(workspace):
    events_ingest(workspace=workspace, source="matrix", events=ledger())
    rollups_refresh(workspace=workspace, today=TODAY)
    return workspace


def group_id(workspace, name):
    return Group.objects.get(workspace=workspace, external_id=f"!{name}:x").pk


def values(totals):
    return {key: figure.value for key, figure in metrics.figures(totals).items()}


def test_workspace_metrics_by_hand(community):
    totals = metrics.period_totals(workspace=community, first=FIRST, last=LAST)
    # People, not seats: u1 is in A and B but counts once. Entries: u4, u2 again, u5; exits: u2, u3.
    assert (totals.members_start, totals.joins, totals.leaves, totals.members_end) == (3, 3, 2, 4)
    figures = metrics.figures(totals)
    assert (figures["join_rate"].numerator, figures["join_rate"].denominator) == (3, 6)
    assert figures["join_rate"].value == 0.5
    # Of the 6 people in the community during the period (3 at the start, 3 entries), 2 left.
    assert (figures["leave_rate"].numerator, figures["leave_rate"].denominator) == (2, 6)
    # Daily speakers / members that day: .5, .25, 0, .2 (u2 and u5 came in: 5 present), 0, 0, 0.
    assert figures["interaction_rate"].numerator == pytest.approx(0.95)
    assert figures["interaction_rate"].denominator == 7
    assert figures["interaction_rate"].value == pytest.approx(0.95 / 7)
    assert (figures["messages_per_member"].numerator, figures["messages_per_member"].denominator) == (6, 6)
    # u2 left and came back: a member at both ends, so retained.
    assert (figures["retention"].numerator, figures["retention"].denominator) == (2, 3)
    # o2 was refunded in full: u4 is no buyer and o2 adds nothing.
    assert (figures["conversion"].numerator, figures["conversion"].denominator) == (2, 6)
    assert figures["aov"].value == 34800 / 2
    assert (figures["roi"].numerator, figures["roi"].denominator) == (34800, 3000)
    assert figures["roi"].value == pytest.approx(11.6)
    assert (figures["repurchase"].numerator, figures["repurchase"].denominator) == (1, 2)
    assert totals.orders == 3


def test_group_metrics_by_hand(community):
    a = metrics.period_totals(workspace=community, first=FIRST, last=LAST, group=group_id(community, "A"))
    assert (a.members_start, a.joins, a.leaves, a.members_end) == (3, 2, 2, 3)
    assert values(a) == {
        "join_rate": pytest.approx(2 / 6),
        "leave_rate": pytest.approx(2 / 5),
        "interaction_rate": pytest.approx(0.75 / 7),
        "messages_per_member": pytest.approx(4 / 5),
        "retention": pytest.approx(2 / 3),
        "conversion": pytest.approx(1 / 5),
        "aov": 14900,
        "roi": pytest.approx(14900 / 2000),
        "repurchase": 1.0,
        "wake_up": None,  # no campaign reached anyone
    }
    b = metrics.period_totals(workspace=community, first=FIRST, last=LAST, group=group_id(community, "B"))
    assert values(b) == {
        "join_rate": None, "leave_rate": 0.0, "interaction_rate": pytest.approx(1 / 7), "messages_per_member": 1.0,
        "retention": 1.0, "conversion": 1.0, "aov": 14900, "roi": None, "repurchase": 1.0, "wake_up": None,
    }


def test_group_created_mid_period_starts_on_its_first_day(community):
    d = group_id(community, "D")
    assert GroupDay.objects.filter(group_id=d).order_by("day").first().day == date(2026, 3, 5)
    totals = metrics.period_totals(workspace=community, first=FIRST, last=LAST, group=d)
    # Days 03-05..03-08 only: 1 of 1 spoke on the first day, nobody after.
    assert values(totals) == {
        "join_rate": None, "leave_rate": 0.0, "interaction_rate": 0.25, "messages_per_member": 1.0,
        "retention": None, "conversion": 1.0, "aov": 19900, "roi": None, "repurchase": 0.0,
        "wake_up": None,
    }
    # o4 was paid ten minutes before u5 joined D: it counts for the group the purchase led to.
    assert list(SaleGroup.objects.filter(sale__order_id="o4").values_list("group_id", flat=True)) == [d]


def test_empty_group_has_no_data_never_zero(community):
    totals = metrics.period_totals(workspace=community, first=FIRST, last=LAST, group=group_id(community, "C"))
    assert all(value is None for value in values(totals).values())


def test_set_of_groups_counts_people_once(community):
    ids = [group_id(community, "A"), group_id(community, "D")]
    totals = metrics.period_totals(workspace=community, first=FIRST, last=LAST, groups=ids)
    assert (totals.members_start, totals.joins, totals.leaves, totals.members_end) == (3, 3, 2, 4)
    figures = metrics.figures(totals)
    assert (figures["messages_per_member"].numerator, figures["messages_per_member"].denominator) == (5, 6)
    assert (figures["conversion"].numerator, figures["conversion"].denominator) == (2, 6)
    assert figures["aov"].value == 34800 / 2


def test_local_day_boundary(community, make_workspace):
    a = group_id(community, "A")
    by_day = {row.day: row for row in GroupDay.objects.filter(group_id=a)}
    assert (by_day[date(2026, 3, 2)].messages, by_day[date(2026, 3, 3)].messages) == (3, 1)
    # The same ledger in a UTC workspace puts the late-night message on 03-02.
    utc = make_workspace(time_zone="UTC")
    events_ingest(workspace=utc, source="matrix", events=ledger())
    rollups_refresh(workspace=utc, today=TODAY)
    by_day = {row.day: row for row in GroupDay.objects.filter(group_id=group_id(utc, "A"))}
    assert (by_day[date(2026, 3, 2)].messages, by_day[date(2026, 3, 3)].messages) == (4, 0)


def test_refund_is_netted_on_the_orders_day(community):
    o2 = Sale.objects.get(workspace=community, order_id="o2")
    assert (o2.amount_cents, o2.refunded_cents, o2.day) == (990, 990, date(2026, 3, 2))
    day = WorkspaceDay.objects.get(workspace=community, day=date(2026, 3, 2))
    assert (day.buyers, day.orders, day.revenue_cents, day.cost_cents) == (1, 1, 9900, 2000)


def test_rebuild_gives_the_same_rows(community):
    def snapshot():
        return (
            sorted(GroupDay.objects.filter(workspace=community).values_list("group_id", "day", *GroupDay.FIGURES)),
            sorted(WorkspaceDay.objects.filter(workspace=community).values_list("day", *GroupDay.FIGURES)),
        )

    before = snapshot()
    rollups_rebuild(workspace=community, today=TODAY)
    assert snapshot() == before


def test_formulas_exist_in_both_languages():
    for metric in metrics.METRICS.values():
        texts = metric.formula_texts()
        assert texts["en"] and texts["zh-hans"] and texts["en"] != texts["zh-hans"], metric.key


def test_figures_are_plain_numbers_on_every_database(community):
    """PostgreSQL sums bigints as numeric: the totals must still be ints and floats, not Decimals."""
    ids = [group_id(community, "A"), group_id(community, "D")]
    all_totals = [
        metrics.period_totals(workspace=community, first=FIRST, last=LAST, groups=ids),
        *metrics.group_totals(workspace=community, first=FIRST, last=LAST).values(),
    ]
    for totals in all_totals:
        for name in ("joins", "leaves", "exposures", "messages", "orders", "revenue_cents", "cost_cents", "member_days"):
            assert type(getattr(totals, name)) is int, name
        for figure in metrics.figures(totals).values():
            assert figure.value is None or type(figure.value) is float, figure.key
