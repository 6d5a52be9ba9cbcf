"""Staff in a real Chromium (issue 15.11): a group's 助教 is not in the members list nor its total; "Show
staff" lists them with the 员工 badge; an operator marks a member as staff on the member page and back,
at 390x844 and 1440x900."""
import pytest
from django.utils import timezone

from siyu.core.ingest import events_ingest
from siyu.core.models import Role
from siyu.core.services import staff_role_set, staff_user_ensure, workspace_create
from siyu.members.models import Member

from .helpers import PASSWORD, USERNAME, log_in, zh

pytestmark = pytest.mark.e2e


@pytest.fixture
def community(chromium, transactional_db):
    workspace = workspace_create(slug="vip", name="VIP私域", time_zone="Asia/Shanghai")
    staff_role_set(workspace=workspace, user=staff_user_ensure(username=USERNAME, password=PASSWORD), role=Role.OPERATOR)
    people = [("VIP核心会助教", "admin"), ("小明", "member"), ("小红", "member")]
    events_ingest(workspace=workspace, source="simulator", events=[
        {"type": "group.joined", "source_id": f"join-{name}", "occurred_at": timezone.now().isoformat(),
         "actor": {"id": f"@{name}:example.org", "name": name}, "group": {"id": "!vip:example.org", "name": "VIP核心会"},
         "data": {"role": role}}
        for name, role in people
    ])
    # Read here: no ORM call once Playwright runs (see conftest).
    return {"number": Member.objects.get(workspace=workspace, display_name="小红").number}


@pytest.mark.parametrize("width, height", [(390, 844), (1440, 900)])
def test_staff_are_hidden_shown_on_request_and_marked_on_the_member_page(page, community, width, height):
    from playwright.sync_api import expect

    page.set_viewport_size({"width": width, "height": height})
    page.goto("/login/")
    log_in(page)
    page.goto("/w/vip/members/")
    results = page.locator("#member-results")
    expect(results).to_contain_text("小明")
    expect(results).not_to_contain_text("VIP核心会助教")
    expect(results.locator(".count")).to_contain_text("2")  # the total: the two members, not the 助教

    page.get_by_label(zh("Show staff")).check()  # htmx reloads the results
    expect(results).to_contain_text("VIP核心会助教")
    expect(results.locator(".count")).to_contain_text("3")
    badge = results.locator(".badge-staff")
    expect(badge).to_have_count(1)
    expect(badge).to_be_visible()
    expect(badge).to_have_text("员工")

    page.goto(f"/w/vip/members/{community['number']}/")
    expect(page.locator("h1 .badge-staff")).to_have_count(0)
    page.get_by_role("button", name="标记为员工").click()
    expect(page.locator("h1 .badge-staff")).to_be_visible()
    expect(page.locator("#member-staff")).to_contain_text("运营人员标记")
    page.get_by_role("button", name="标记为非员工").click()
    expect(page.locator("h1 .badge-staff")).to_have_count(0)
    page.goto("/w/vip/members/")
    expect(results).to_contain_text("小红")
