from datetime import date

from django.core.management import call_command

from siyu.channels.simulator.services import simulation_plan, simulation_run
from siyu.core.models import Event
from siyu.groups.models import GroupDailyStats, Membership
from siyu.members.models import Member, MemberDailyActivity, MemberStats
from tests.conftest import ev


def snapshot(workspace):
    """Every projection row of a workspace, without surrogate ids."""
    return {
        "memberships": sorted(
            Membership.objects.filter(workspace=workspace).values_list("group_id", "member_id", "role", "joined_at", "left_at")
        ),
        "member_stats": sorted(
            MemberStats.objects.filter(workspace=workspace).values_list(
                "member_id", "first_seen_at", "last_seen_at", "last_message_at", "messages", "orders", "spend_cents"
            )
        ),
        "member_days": sorted(
            MemberDailyActivity.objects.filter(workspace=workspace).values_list("member_id", "group_id", "day", "messages")
        ),
        "group_days": sorted(
            GroupDailyStats.objects.filter(workspace=workspace).values_list("group_id", "day", "joins", "leaves", "messages", "exposures")
        ),
        "profiles": sorted(Member.objects.filter(workspace=workspace).values_list("pk", "display_name", "gender", "city")),
    }


def test_rebuild_equals_the_incrementally_maintained_state(workspace, make_workspace):
    plan = simulation_plan(workspace=workspace, groups=6, members=400, days=21, seed=7, until=date(2026, 3, 1))
    simulation_run(workspace=workspace, plan=plan)
    bystander = make_workspace()
    simulation_run(workspace=bystander, plan=simulation_plan(workspace=bystander, groups=3, members=50, days=5, seed=8, until=date(2026, 3, 1)))
    incremental = snapshot(workspace)
    untouched = snapshot(bystander)
    assert len(incremental["memberships"]) > 400 and len(incremental["member_days"]) > 500

    call_command("rebuild", workspace=workspace.slug, verbosity=0)

    assert snapshot(workspace) == incremental
    assert snapshot(bystander) == untouched


def test_rebuild_after_projection_loss_restores_it(ingest, workspace):
    ingest([ev("group.joined", 1, actor="ann", group="g1"), ev("group.message", 2, actor="ann", group="g1", minutes=1, text="hi")])
    before = snapshot(workspace)
    Membership.objects.all().delete()
    MemberStats.objects.all().delete()
    call_command("rebuild", verbosity=0)
    assert snapshot(workspace) == before
    assert Event.objects.count() == 2
