"""Handover in a real Chromium (issue 15.8): an admin previews a transfer between active colleagues (在职继承) with
the members told — the counts with the open leads and the text a member reads — confirms it once, and the history
says what moved; at a phone's and a laptop's width the page does not overflow sideways."""
import pytest
from django.utils import timezone

from siyu.core.ingest import events_ingest
from siyu.core.models import Role
from siyu.core.services import staff_role_set, staff_user_ensure, workspace_create
from siyu.members.models import Lead, LeadList, Member, Segment
from siyu.members.owners import member_owner_set
from tests.conftest import ev

from .helpers import PASSWORD, USERNAME, log_in, screenshot, zh

pytestmark = pytest.mark.e2e


@pytest.fixture
def community(chromium, transactional_db):
    workspace = workspace_create(slug="flowers", name="花园私域", time_zone="Asia/Shanghai")
    admin = staff_user_ensure(username=USERNAME, password=PASSWORD)
    staff_role_set(workspace=workspace, user=admin, role=Role.ADMIN)
    ann, bob = (staff_user_ensure(username=name, password=PASSWORD) for name in ("ann", "bob"))
    for user in (ann, bob):
        staff_role_set(workspace=workspace, user=user, role=Role.SALES)
    events_ingest(workspace=workspace, source="simulator",
                  events=[ev("group.joined", n, actor=f"p{n}", group="g1", minutes=n) for n in range(3)])
    members = list(Member.objects.filter(workspace=workspace).order_by("number"))
    member_owner_set(members=members, owner=ann, by=admin)
    lead_list = LeadList.objects.create(workspace=workspace, name="L", segment=Segment.objects.create(
        workspace=workspace, name="s"), weights={"orders": 1})
    for member in members:
        Lead.objects.create(lead_list=lead_list, member=member, score=1, assigned_to=ann, assigned_at=timezone.now())
    return {"ann": ann.pk, "bob": bob.pk, "first": members[0], "numbers": f"{members[0].number}, {members[1].number}"}


def _no_sideways_overflow(page):
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
        .map(e => `${e.tagName.toLowerCase()}.${e.className} ${Math.round(e.getBoundingClientRect().right)}px`)""")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"wider than the screen: {wide[:8]}"


def test_an_admin_previews_and_confirms_a_transfer_with_the_members_told(page, community, live_server):
    from playwright.sync_api import expect

    page.goto("/login/")
    log_in(page)
    expect(page.locator("h1")).to_contain_text(zh("Dashboard"))
    for width, height in ((390, 844), (1440, 900)):
        page.set_viewport_size({"width": width, "height": height})
        page.goto("/w/flowers/handover/")
        _no_sideways_overflow(page)
    page.locator("input[name=kind][value=active]").check()
    page.locator("select[name=from_user]").select_option(str(community["ann"]))
    page.locator("select[name=to_user]").select_option(str(community["bob"]))
    page.locator("input[name=numbers]").fill(community["numbers"])
    page.locator("input[name=tell]").check()
    page.locator("textarea[name=message]").fill("{name} 您好，之后由 {staff} 为您服务")
    page.get_by_role("button", name=zh("Preview")).click()
    expect(page.locator("#handover-preview")).to_have_text(
        zh("%(members)s members, %(leads)s open leads and %(groups)s groups will move.")
        % {"members": 2, "leads": 2, "groups": 0})
    expect(page.locator("#handover-sample")).to_have_text(f"{community['first'].display_name} 您好，之后由 bob 为您服务")
    _no_sideways_overflow(page)
    screenshot(page, "handover-transfer-preview")
    page.get_by_role("button", name=zh("Confirm handover")).click()
    expect(page.locator(".messages")).to_contain_text(zh("Handed over %(members)s members, %(leads)s open leads and %(groups)s "
                                                               "groups; %(told)s members told.")
                                                            % {"members": 2, "leads": 2, "groups": 0, "told": 2})
    row = page.locator("table.data tbody tr").first
    expect(row).to_contain_text(zh("Between active colleagues"))
    expect(row.locator("td.num")).to_have_text(["2", "2", "0", "2"])
