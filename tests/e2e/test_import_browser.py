"""The member import wizard in a real Chromium: upload a GBK file with a bad phone, read the dry-run report,
change the mapping, check again, import, and find the members in the list."""
import pytest

from siyu.core.models import Role
from siyu.core.services import staff_role_set, staff_user_ensure, workspace_create

from .helpers import PASSWORD, USERNAME, log_in, screenshot, zh

pytestmark = pytest.mark.e2e


@pytest.fixture
def community(chromium, transactional_db, tmp_path):
    workspace = workspace_create(slug="garden", name="花园私域", time_zone="Asia/Shanghai")
    staff_role_set(workspace=workspace, user=staff_user_ensure(username=USERNAME, password=PASSWORD), role=Role.OPERATOR)
    path = tmp_path / "会员名单.csv"
    path.write_text("姓名,手机号,城市\n王小明,138-0013-8000,北京\n李华,12345,上海\n", encoding="gbk")
    return {"workspace": workspace, "file": path}


def test_an_operator_imports_a_file_after_fixing_the_mapping(page, community):
    from playwright.sync_api import expect

    page.goto("/login/")
    log_in(page)
    page.goto("/w/garden/members/import/")
    page.set_input_files("#import-upload input[name=file]", str(community["file"]))
    page.get_by_role("button", name=zh("Upload")).click()

    expect(page.locator("#import-encoding")).to_contain_text("GBK")
    expect(page.locator("#import-mapping")).to_contain_text("王小明")
    expect(page.locator("select[name=map-1]")).to_have_value("phone")
    page.get_by_role("button", name=zh("Check the file (dry run)")).click()

    report = page.locator("#bad-row-table")
    expect(report).to_contain_text("12345")
    expect(report.locator("tr.bad td").first).to_have_text("3")
    expect(page.locator("#bad-rows")).to_have_text("1")
    screenshot(page, "import-report")

    page.get_by_role("button", name=zh("Change mapping or options")).click()
    page.select_option("select[name=map-1]", "")
    page.get_by_role("button", name=zh("Check the file (dry run)")).click()
    expect(page.locator("#bad-rows")).to_have_text("0")
    expect(page.locator("#created")).to_have_text("2")
    page.get_by_role("button", name=zh("Import"), exact=True).click()

    expect(page.locator("#import-report h2")).to_have_text(zh("Imported"))
    page.get_by_role("link", name=zh("See members")).click()
    expect(page.locator("#member-results")).to_contain_text("王小明")
    expect(page.locator("#member-results")).to_contain_text("李华")
