"""The simulated course seller tells the seeds' story (issue 15.4).

- Seed 000 (社群运营的三个常见场景——以知识付费产品为例): the lead groups are a long-lived pool
  (一是用户保留: 建立长期活跃、高触摸率的私域流量池), entered through a paid lead product
  (用户支付门槛提高用户质量), so entry conversion is high.
- Seed 004 (当下微信社群运营如何运营): 运营后線上付定一般0-6%比率 … 取中上值4%, and 最终付费转化达到了6%
  in its best campaign: paid conversion in single digits.
- Leave rate: a few percent a week, not most of the group.
"""
from datetime import timedelta

from django.utils import timezone

from siyu.analytics import cohorts, metrics
from siyu.analytics.rollups import rollups_refresh
from siyu.channels.simulator.services import simulation_plan, simulation_run


def test_the_demo_headline_figures_fall_in_the_seeds_ranges(workspace):
    simulation_run(workspace=workspace, plan=simulation_plan(workspace=workspace, groups=12, members=1500, days=60, seed=2026))
    rollups_refresh(workspace=workspace)
    yesterday = timezone.now().astimezone(workspace.tz).date() - timedelta(days=1)
    week = metrics.figures(metrics.period_totals(workspace=workspace, first=yesterday - timedelta(days=6), last=yesterday))
    month_first = yesterday - timedelta(days=29)
    month = metrics.figures(metrics.period_totals(workspace=workspace, first=month_first, last=yesterday))
    assert 0.005 <= week["leave_rate"].value <= 0.06  # a few percent a week
    assert month["leave_rate"].value <= 0.2
    assert 0.01 <= month["conversion"].value < 0.10  # paid conversion in single digits
    steps = {s.key: s for s in cohorts.lifecycle_funnel(workspace=workspace, first=month_first, last=yesterday)}
    assert steps["entry"].rate >= 0.9  # nearly everyone who joins paid the 9.9 trial first
    assert steps["bought"].count / steps["joined"].count < 0.10
    lead = [t.members_end for g, t in metrics.group_totals(workspace=workspace, first=month_first, last=yesterday).items()
            if workspace.groups.get(pk=g).kind == "lead"]
    assert sum(100 <= n <= 500 for n in lead) >= len(lead) / 2  # most lead groups 100-500 members
