"""The wake-up rate (seed 002: 对沉默用户用"唤醒活动"激活 … 3天内唤醒率达40%), hand-computed.

Group A holds u1..u6 from day 0, group B holds u1 only. A campaign reaches them on day 10 at 12:00 (u6 a
day before "now", so its 3 days are not over):
  u1 silent (last message day 1), speaks on day 12: woken (counted for A and for B)
  u2 silent, speaks on day 14, 4 days later: not woken
  u3 spoke on day 8: not silent, not counted
  u4 silent, only edits a message on day 11: an edit is no message, not woken
  u5 silent, left A on day 5 and is in no group when reached: not counted
  u6 silent, reached a day ago: its 3 days are not over, not counted
"""
from datetime import timedelta

from django.utils import timezone

from siyu.analytics import metrics
from siyu.analytics.models import ModelSettings
from siyu.analytics.rollups import rollups_refresh
from siyu.groups.models import Group


def test_silent_members_reached_who_speak_within_3_days(workspace, ingest):
    now = timezone.now().replace(microsecond=0)
    day0 = now - timedelta(days=20)
    counter = iter(range(1000))

    def event(type_, days, actor, group=None, **data):
        raw = {"type": type_, "source_id": f"w{next(counter)}", "occurred_at": (day0 + timedelta(days=days)).isoformat(),
               "actor": {"id": actor, "name": actor}, "data": data}
        if group:
            raw["group"] = {"id": group, "name": f"Group {group}", "kind": "lead"}
        return raw

    people = ["u1", "u2", "u3", "u4", "u5", "u6"]
    ingest([
        *[event("group.joined", 0, p, "A") for p in people],
        event("group.joined", 0.1, "u1", "B"),
        event("group.message", 1, "u1", "A", text="hi"),
        event("group.left", 5, "u5", "A"),
        event("group.message", 8, "u3", "A", text="still here"),
        *[event("campaign.touched", 10, p, campaign="recall") for p in people[:5]],
        event("campaign.touched", 19, "u6", campaign="recall"),
        event("group.message", 12, "u1", "B", text="back!"),
        event("group.message", 14, "u2", "A", text="late"),
        event("group.message", 11, "u4", "A", text="edited", replaces="$earlier"),
    ])
    rollups_refresh(workspace=workspace)
    first = timezone.localtime(day0, workspace.tz).date()
    last = timezone.localtime(now, workspace.tz).date()
    whole = metrics.wake_up_rate(metrics.period_totals(workspace=workspace, first=first, last=last))
    assert (whole.numerator, whole.denominator, whole.value) == (1, 3, 1 / 3)  # u1 of u1, u2, u4
    a, b = (Group.objects.get(workspace=workspace, name=f"Group {n}").pk for n in "AB")
    assert metrics.wake_up_rate(metrics.period_totals(workspace=workspace, first=first, last=last, group=b)).value == 1
    by_group = metrics.group_totals(workspace=workspace, first=first, last=last)
    assert (by_group[a].woken, by_group[a].silent_reached) == (1, 3)
    assert metrics.figures(by_group[b])["wake_up"].value == 1
    sets = metrics.period_totals(workspace=workspace, first=first, last=last, groups=[a, b])
    assert (sets.woken, sets.silent_reached) == (1, 3)  # u1 is in both: one reach
    # The reach on day 10 is outside a period that ends before it: no data, never 0.
    early = metrics.wake_up_rate(metrics.period_totals(workspace=workspace, first=first, last=first + timedelta(days=3)))
    assert early.value is None and early.no_data
    assert all(value is None for _, value in metrics.trend("wake_up", metrics.period_totals(
        workspace=workspace, first=first, last=last)))  # no daily value, like retention
    # Silent means no message in the activity window: with 1 day, u3 (spoke 2 days before) is silent too.
    ModelSettings.objects.update_or_create(workspace=workspace, defaults={"activity_window_days": 1})
    narrow = metrics.wake_up_rate(metrics.period_totals(workspace=workspace, first=first, last=last))
    assert (narrow.numerator, narrow.denominator) == (1, 4)
    metric = metrics.METRICS["wake_up"]
    assert metric.share and metric.unit == "percent" and set(metric.event_types) == {601, 304}
    assert "社群运营策略全流程及变现模式" in str(metric.source)
