"""A viewer in a real Chromium (issue 15.12): no "New link" button, no "Update now", and opening the new-link form
by its address shows the translated refusal page that names the roles that may, not a bare "403 Forbidden"."""
import pytest

from siyu.core.models import Role
from siyu.core.services import staff_role_set, staff_user_ensure, workspace_create

from .helpers import PASSWORD, USERNAME, log_in, screenshot

pytestmark = pytest.mark.e2e


@pytest.fixture
def community(chromium, transactional_db):
    workspace = workspace_create(slug="flowers", name="花园私域", time_zone="Asia/Shanghai")
    staff_role_set(workspace=workspace, user=staff_user_ensure(username=USERNAME, password=PASSWORD), role=Role.VIEWER)
    return workspace


def test_a_viewer_is_told_politely_which_role_is_needed(page, community, live_server):
    from playwright.sync_api import expect

    page.goto("/login/")
    log_in(page)
    expect(page.locator("h1")).to_contain_text("数据看板")
    expect(page.get_by_role("button", name="立即更新")).to_have_count(0)
    page.goto("/w/flowers/links/")
    expect(page.get_by_role("link", name="新建链接")).to_have_count(0)
    response = page.goto("/w/flowers/links/new/")
    assert response is not None and response.status == 403
    expect(page.locator("h1")).to_have_text("你的角色不能进行此操作")
    expect(page.locator(".refused")).to_contain_text("可以这样做的角色：")
    expect(page.locator(".refused")).to_contain_text("运营")
    expect(page.locator("input[name=target_url]")).to_have_count(0)
    screenshot(page, "refusal-viewer-new-link")
