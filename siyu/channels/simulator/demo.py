"""The demo workspaces: a course seller in the shape of seed 000, with staff in every role, and a
smaller second course seller where the demo owner is an admin (to show the workspace switcher)."""
from django.db import transaction

from siyu.core.models import Role, Workspace
from siyu.core.services import staff_role_set, staff_user_ensure, workspace_create

from .members_demo import members_demo
from .services import simulation_plan, simulation_run

DEMO_SLUG = "demo"
DEMO_PASSWORD = "siyu-demo-2026"
DEMO_STAFF = [("demo", Role.OWNER), ("operator", Role.OPERATOR), ("sales", Role.SALES), ("viewer", Role.VIEWER)]
CAMP_SLUG = "demo-camp"


def demo_create(*, groups=40, members=5_000, days=90, seed=2026, progress=None):
    """Create the demo workspaces and their staff, and simulate the communities of those created now.

    Returns the main workspace. Safe to run again: users and roles are ensured, and a workspace that
    exists already keeps its history (simulating it again on a later day would add a second,
    overlapping period for the same people).
    """
    with transaction.atomic():
        users = {name: staff_user_ensure(username=name, password=DEMO_PASSWORD) for name, _ in DEMO_STAFF}
        workspace, new_workspace = _workspace_ensure(DEMO_SLUG, "星火学堂 Spark Academy")
        camp, new_camp = _workspace_ensure(CAMP_SLUG, "启明编程营 Qiming Coding Camp")
        for name, role in DEMO_STAFF:
            staff_role_set(workspace=workspace, user=users[name], role=role)
        staff_role_set(workspace=camp, user=users["demo"], role=Role.ADMIN)
    if new_workspace:
        plan = simulation_plan(workspace=workspace, groups=groups, members=members, days=days, seed=seed)
        simulation_run(workspace=workspace, plan=plan, progress=progress)
        members_demo(workspace=workspace, staff=users, seed=seed)
    if new_camp:
        plan = simulation_plan(workspace=camp, groups=6, members=max(50, members // 20), days=30, seed=seed + 1)
        simulation_run(workspace=camp, plan=plan)
    return workspace


def _workspace_ensure(slug, name):
    existing = Workspace.objects.filter(slug=slug).first()
    if existing:
        return existing, False
    return workspace_create(slug=slug, name=name, time_zone="Asia/Shanghai"), True
