"""The member import wizard in a real Chromium: upload a GBK file with a bad phone, read the dry-run report,
change the mapping, check again, import, and find the members in the list; download the templates, choose per
missing tag (create / ignore), import the other rows, at a phone's and a desktop's width."""
from pathlib import Path

import pytest

from siyu.core.models import Role
from siyu.core.services import staff_role_set, staff_user_ensure, workspace_create
from siyu.members.tags import tag_create

from .helpers import PASSWORD, USERNAME, log_in, screenshot, zh

pytestmark = pytest.mark.e2e


@pytest.fixture
def community(chromium, transactional_db, tmp_path):
    workspace = workspace_create(slug="garden", name="花园私域", time_zone="Asia/Shanghai")
    staff_role_set(workspace=workspace, user=staff_user_ensure(username=USERNAME, password=PASSWORD), role=Role.OPERATOR)
    path = tmp_path / "会员名单.csv"
    path.write_text("姓名,手机号,城市\n王小明,138-0013-8000,北京\n李华,12345,上海\n", encoding="gbk")
    tag_create(workspace=workspace, name="高意向")
    tagged = tmp_path / "标签名单.csv"
    tagged.write_text("姓名,手机号,标签,渠道\n王小明,13800138000,高意向,抖音\n李华,13900139000,新客,转介绍\n"
                      "张三,12345,,\n周到,13700137000,\"新客,旧活动\",\n", encoding="utf-8")
    return {"workspace": workspace, "file": path, "tagged": tagged}


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


@pytest.mark.parametrize("width, height", [(390, 844), (1440, 900)])
def test_template_per_tag_choices_and_the_other_rows(page, community, width, height):
    """Download both templates, import a file naming missing tags and a bad phone: choose per tag (create one,
    ignore the other), check again, import the other rows, and find the source, tag and timeline entry."""
    from playwright.sync_api import expect

    page.set_viewport_size({"width": width, "height": height})
    page.goto("/login/")
    log_in(page)
    page.goto("/w/garden/members/import/")
    with page.expect_download() as csv_download:
        page.get_by_role("link", name=zh("CSV template")).click()
    body = Path(csv_download.value.path()).read_bytes()
    assert body.startswith(b"\xef\xbb\xbf") and body.decode("utf-8-sig").splitlines()[0].startswith("姓名,手机")
    assert "渠道" in body.decode("utf-8-sig").splitlines()[0] and csv_download.value.suggested_filename.endswith(".csv")
    with page.expect_download() as xlsx_download:
        page.get_by_role("link", name=zh("XLSX template")).click()
    assert xlsx_download.value.suggested_filename.endswith(".xlsx")
    assert Path(xlsx_download.value.path()).read_bytes().startswith(b"PK")  # a zip: the workbook

    page.set_input_files("#import-upload input[name=file]", str(community["tagged"]))
    page.get_by_role("button", name=zh("Upload")).click()
    page.get_by_role("button", name=zh("Check the file (dry run)")).click()
    expect(page.locator("#bad-rows")).to_have_text("3")
    missing = page.locator("#missing-tags")
    expect(missing).to_contain_text("新客")
    expect(missing).to_contain_text("旧活动")
    expect(page.locator("#import-choice")).to_be_visible()  # fix the file, or import the other rows
    expect(page.locator("button[value=commit_others]")).to_be_visible()
    create = missing.locator("tr", has_text="新客").get_by_label(zh("Create it"))
    ignore = missing.locator("tr", has_text="旧活动").get_by_label(zh("Ignore it"))
    for radio in (create, ignore):
        radio.scroll_into_view_if_needed()
        box = radio.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width  # reachable on a phone too
    screenshot(page, f"import-missing-tags-{width}")
    create.check()
    ignore.check()
    page.get_by_role("button", name=zh("Apply these choices and check again")).click()

    expect(page.locator("#bad-rows")).to_have_text("1")  # only the bad phone is left
    expect(page.locator("#new-tags")).to_contain_text("新客")
    expect(page.locator("#ignored-tags")).to_contain_text("旧活动")
    expect(page.locator("#missing-tags tr", has_text="新客").get_by_label(zh("Create it"))).to_be_checked()
    page.locator("button[value=commit_others]").click()

    expect(page.locator("#import-report h2")).to_have_text(zh("Imported"))
    expect(page.locator("#created")).to_have_text("3")
    page.get_by_role("link", name=zh("See members")).click()
    results = page.locator("#member-results")
    expect(results).to_contain_text("好友推荐")  # the source (转介绍 in the file), by its label
    results.get_by_role("link", name="#2").click()
    expect(page.locator("#member-source")).to_have_text("好友推荐")
    expect(page.locator("#timeline")).to_contain_text(zh("Imported"))
    expect(page.locator("#timeline")).to_contain_text("标签名单.csv")
    expect(page.locator("#tags")).to_contain_text("新客")
