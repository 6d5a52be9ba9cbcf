"""Entry (引流) purchases are revenue but no conversion (issue 15.2; seed 000's 引流产品 vs paid products).

Five people pay the 9.9 trial and join lead group A; four speak; one buys the 199 camp. Before the fix
conversion said 100 % (everyone bought the trial) and the funnel's 发言 → 下单 said 4 of 4.
"""
from datetime import date

from siyu.analytics import cohorts, metrics
from siyu.analytics.models import Sale
from siyu.analytics.rollups import rollups_refresh
from siyu.core.ingest import events_ingest

FIRST = LAST = TODAY = date(2026, 3, 2)


def ledger(*, trial_kind="entry"):
    events = []
    for n in range(5):
        actor = {"id": f"@u{n}:x", "name": f"u{n}"}
        group = {"id": "!a:x", "name": "A", "kind": "lead"}
        # Three orders say their kind; two only name the product, a lead product of the workspace.
        data = {"order_id": f"t{n}", "amount_cents": 990, "product": "trial"}
        if n < 3 and trial_kind:
            data["product_kind"] = trial_kind
        events += [
            {"type": "link.exposed", "source_id": f"x{n}", "occurred_at": f"2026-03-02T0{n}:00:00Z", "group": group, "data": {}},
            {"type": "order.paid", "source_id": f"p{n}", "occurred_at": f"2026-03-02T0{n}:10:00Z", "actor": actor, "data": data},
            {"type": "group.joined", "source_id": f"j{n}", "occurred_at": f"2026-03-02T0{n}:11:00Z", "actor": actor,
             "group": group, "data": {}},
        ]
        if n < 4:
            events.append({"type": "group.message", "source_id": f"m{n}", "occurred_at": f"2026-03-02T0{n}:20:00Z",
                           "actor": actor, "group": group, "data": {"text": "hi"}})
    events.append({"type": "order.paid", "source_id": "camp", "occurred_at": "2026-03-02T08:00:00Z",
                   "actor": {"id": "@u0:x", "name": "u0"},
                   "data": {"order_id": "c0", "amount_cents": 19900, "product": "camp", "product_kind": "paid"}})
    return events


def test_conversion_aov_and_repurchase_count_paid_products_only(workspace):
    events_ingest(workspace=workspace, source="matrix", events=ledger())
    rollups_refresh(workspace=workspace, today=TODAY)
    assert dict(Sale.objects.filter(workspace=workspace).values_list("order_id", "entry")) == {
        "t0": True, "t1": True, "t2": True, "t3": True, "t4": True, "c0": False,
    }
    totals = metrics.period_totals(workspace=workspace, first=FIRST, last=LAST)
    figures = metrics.figures(totals)
    assert (figures["conversion"].numerator, figures["conversion"].denominator) == (1, 5)
    assert figures["aov"].value == 19900
    assert figures["repurchase"].value == 0.0  # the trial and the camp are not two paid orders
    assert totals.revenue_cents == 5 * 990 + 19900  # the trial is still revenue: ROI and revenue count it
    assert dict(metrics.trend("conversion", totals)) == {FIRST: 0.2}
    assert dict(metrics.trend("aov", totals)) == {FIRST: 19900}
    group = workspace.groups.get().pk
    by_group = metrics.group_totals(workspace=workspace, first=FIRST, last=LAST)[group]
    assert (by_group.buyers, by_group.paid_revenue_cents) == (1, 19900)
    one = metrics.figures(metrics.period_totals(workspace=workspace, first=FIRST, last=LAST, group=group))
    assert (one["conversion"].value, one["aov"].value) == (0.2, 19900)

    steps = cohorts.lifecycle_funnel(workspace=workspace, first=FIRST, last=LAST)
    assert [(s.key, s.count) for s in steps] == [
        ("exposures", 5), ("joined", 5), ("entry", 5), ("spoke", 4), ("bought", 1), ("bought_again", 0),
    ]
    assert steps[4].rate == 0.25


def test_an_order_kind_overrides_the_lead_products_and_no_entry_step_without_entry_orders(workspace):
    events_ingest(workspace=workspace, source="matrix", events=ledger(trial_kind="paid"))
    rollups_refresh(workspace=workspace, today=TODAY)
    entries = dict(Sale.objects.filter(workspace=workspace).values_list("order_id", "entry"))
    assert [entries[f"t{n}"] for n in range(5)] == [False, False, False, True, True]
    Sale.objects.filter(workspace=workspace).update(entry=False)
    steps = cohorts.lifecycle_funnel(workspace=workspace, first=FIRST, last=LAST)
    assert [s.key for s in steps] == ["exposures", "joined", "spoke", "bought", "bought_again"]
    assert [s.count for s in steps][2:] == [4, 4, 1]
