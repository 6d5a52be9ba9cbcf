"""The segment builder in a real Chromium: conditions are added as rows, the live count follows each
change, and saving shows the segment's page with its list."""
import pytest
from django.utils import timezone

from siyu.core.ingest import events_ingest
from siyu.core.models import Role
from siyu.core.services import staff_role_set, staff_user_ensure, workspace_create
from siyu.members.models import Member, TagVia
from siyu.members.tags import tag_create, tags_apply

from .helpers import PASSWORD, USERNAME, log_in, zh

pytestmark = pytest.mark.e2e


@pytest.fixture
def community(chromium, transactional_db):
    workspace = workspace_create(slug="maths", name="奥数私域", time_zone="Asia/Shanghai")
    staff_role_set(workspace=workspace, user=staff_user_ensure(username=USERNAME, password=PASSWORD), role=Role.OPERATOR)
    talk = [("小明", 5), ("小红", 1), ("小刚", 4)]
    events_ingest(workspace=workspace, source="simulator", events=[
        {"type": "group.message", "source_id": f"{name}{n}", "occurred_at": timezone.now().isoformat(),
         "actor": {"id": f"@{name}:example.org", "name": name}, "group": {"id": "!g:example.org", "name": "奥数1群"},
         "data": {"text": "题目"}}
        for name, count in talk for n in range(count)
    ])
    vip = tag_create(workspace=workspace, name="高消费")
    members = [Member.objects.get(workspace=workspace, display_name=name).pk for name in ("小明", "小红")]
    tags_apply(workspace=workspace, pairs=[(m, vip.pk) for m in members], via=TagVia.MANUAL)
    return workspace


def test_the_builder_counts_live_and_saves(page, community):
    from playwright.sync_api import expect

    page.goto("/login/")
    log_in(page)
    page.goto("/w/maths/segments/new/")
    page.fill("input[name=name]", "高消费又活跃")
    count = page.get_by_test_id("preview-count")
    page.select_option("select[name=c-0-kind]", "tag")
    expect(count).to_have_text("2")  # the first row: has tag 高消费 (the only tag)

    page.get_by_role("button", name=zh("Add a condition")).click()
    page.select_option("select[name=c-1-kind]", "count")
    page.select_option("select[name=c-1-what]", "messages")
    page.select_option("select[name=c-1-op]", "gte")
    page.fill("input[name=c-1-value]", "3")
    expect(count).to_have_text("1")
    expect(page.locator("#preview")).to_contain_text("小明")

    page.locator("input[name=c-1-value]").fill("")  # an unfinished row says what is missing
    expect(page.locator("#preview .error")).to_be_visible()
    page.fill("input[name=c-1-value]", "3")
    expect(count).to_have_text("1")

    page.get_by_role("button", name=zh("Save the segment")).click()
    expect(page.get_by_test_id("segment-size")).to_have_text("1")
    expect(page.locator("main")).to_contain_text("小明")


def test_switching_to_json_keeps_the_rows_filter(page, community):
    import json

    from playwright.sync_api import expect

    page.goto("/login/")
    log_in(page)
    page.goto("/w/maths/segments/new/")
    count = page.get_by_test_id("preview-count")
    page.select_option("select[name=c-0-kind]", "count")
    page.fill("input[name=c-0-value]", "4")
    expect(count).to_have_text("2")  # 小明 (5) and 小刚 (4)
    page.get_by_role("button", name=zh("Edit as JSON (nested AND/OR/NOT)")).click()
    editor = page.locator("textarea[name=json]")
    assert json.loads(editor.input_value()) == {"all": [{"count": "messages", "op": "gte", "value": 4}]}
    editor.fill(json.dumps({"any": [{"count": "messages", "op": "gte", "value": 5}, {"not": {"count": "messages", "op": "gte", "value": 2}}]}))
    expect(count).to_have_text("2")  # 小明 (5) and 小红 (1)
