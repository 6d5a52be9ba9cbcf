"""Every figure that is a share of people stays within 0-100 %, whatever the ledger (docs/metrics.md)."""
import itertools
from datetime import timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from siyu.analytics import metrics
from siyu.analytics.rollups import rollups_rebuild
from siyu.core.ingest import events_ingest
from siyu.core.services import workspace_create

from .test_incremental import START, TODAY, build_ledger, steps

_examples = itertools.count()
SHARES = [key for key, metric in metrics.METRICS.items() if metric.share]


def test_the_shares_are_the_rates_of_people():
    assert SHARES == ["leave_rate", "interaction_rate", "retention", "conversion", "repurchase", "wake_up"]
    assert not any(metrics.METRICS[k].share for k in ("join_rate", "messages_per_member", "aov", "roi"))


def assert_shares(totals, where):
    for key, figure in metrics.figures(totals).items():
        if key in SHARES and figure.value is not None:
            assert 0 <= figure.value <= 1, (where, key, figure)
    for key in SHARES:
        for day, value in metrics.trend(key, totals):
            assert value is None or 0 <= value <= 1, (where, key, day, value)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
# A group that grows during the period: one member at the start, three joins, two leaves. The old
# leave rate (leaves ÷ members at the start) said 200 %.
@example(actions=[("join", 0, 0, 1), ("join", 1, 0, 300), ("join", 2, 0, 1), ("join", 3, 0, 1),
                  ("leave", 1, 0, 1), ("leave", 2, 0, 1)], first=1, length=4)
@given(actions=steps, first=st.integers(0, 10), length=st.integers(0, 10))
def test_shares_stay_within_0_and_100_percent(db, actions, first, length):
    workspace = workspace_create(slug=f"s{next(_examples)}", name="S")
    events_ingest(workspace=workspace, source="matrix", events=build_ledger(actions))
    rollups_rebuild(workspace=workspace, today=TODAY)
    start = START.date() + timedelta(days=first)
    end = min(start + timedelta(days=length), TODAY)
    periods = [(start, end), (START.date(), TODAY)]
    group_ids = list(workspace.groups.values_list("pk", flat=True))
    for period_first, period_last in periods:
        assert_shares(metrics.period_totals(workspace=workspace, first=period_first, last=period_last), "workspace")
        for group in group_ids:
            assert_shares(metrics.period_totals(workspace=workspace, first=period_first, last=period_last, group=group),
                          f"group {group}")
        if len(group_ids) > 1:
            assert_shares(metrics.period_totals(workspace=workspace, first=period_first, last=period_last,
                                                groups=group_ids[:2]), "set of groups")
        for group, totals in metrics.group_totals(workspace=workspace, first=period_first, last=period_last).items():
            assert_shares(totals, f"groups table {group}")
