"""The demo workspace: a course seller in the shape of seed 000, with staff in every role."""
from django.db import transaction

from siyu.core.models import Role, Workspace
from siyu.core.services import staff_role_set, staff_user_ensure, workspace_create

from .services import simulation_plan, simulation_run

DEMO_SLUG = "demo"
DEMO_PASSWORD = "siyu-demo-2026"
DEMO_STAFF = [("demo", Role.OWNER), ("operator", Role.OPERATOR), ("sales", Role.SALES), ("viewer", Role.VIEWER)]
SHOP_SLUG = "demo-shop"


def demo_create(*, groups=40, members=5_000, days=60, seed=2026, progress=None):
    """Create the demo workspaces and their staff if absent, and simulate their communities.

    Returns the main workspace. Safe to run again: existing workspaces and users are kept and the
    simulation stores nothing twice.
    """
    with transaction.atomic():
        users = {name: staff_user_ensure(username=name, password=DEMO_PASSWORD) for name, _ in DEMO_STAFF}
        workspace = Workspace.objects.filter(slug=DEMO_SLUG).first() or workspace_create(
            slug=DEMO_SLUG, name="星火学堂 Spark Academy", time_zone="Asia/Shanghai"
        )
        shop = Workspace.objects.filter(slug=SHOP_SLUG).first() or workspace_create(
            slug=SHOP_SLUG, name="小满好物 Xiaoman Goods", time_zone="Asia/Shanghai"
        )
        for name, role in DEMO_STAFF:
            staff_role_set(workspace=workspace, user=users[name], role=role)
        staff_role_set(workspace=shop, user=users["demo"], role=Role.ADMIN)
    simulation_run(
        workspace=workspace,
        plan=simulation_plan(workspace=workspace, groups=groups, members=members, days=days, seed=seed),
        progress=progress,
    )
    simulation_run(
        workspace=shop,
        plan=simulation_plan(workspace=shop, groups=6, members=max(50, members // 20), days=30, seed=seed + 1),
    )
    return workspace
