"""The bot's console pages in a real Chromium: the welcome's live preview, a bad regular expression
refused with its position, a strike undone from the moderation log, the outbox, and the keyword-reply
tester (试一试)."""
import re

import pytest
from django.utils import timezone

from siyu.channels.services import outbox_drain
from siyu.core.ingest import events_ingest
from siyu.core.models import Role
from siyu.core.services import staff_role_set, staff_user_ensure, workspace_create
from siyu.groups.models import Group, KeywordReply, ModerationKind, ModerationRule

from .helpers import PASSWORD, USERNAME, log_in, zh

pytestmark = pytest.mark.e2e


def live(type_, n, actor, **data):
    return {
        "type": type_, "source_id": f"$e{n}", "occurred_at": timezone.now().isoformat(), "data": data,
        "actor": {"id": f"@{actor}:example.org", "name": actor}, "group": {"id": "!g:example.org", "name": "花友一群"},
    }


@pytest.fixture
def community(chromium, transactional_db):
    workspace = workspace_create(slug="flowers", name="花园私域", time_zone="Asia/Shanghai")
    staff_role_set(workspace=workspace, user=staff_user_ensure(username=USERNAME, password=PASSWORD), role=Role.OWNER)
    ModerationRule.objects.create(workspace=workspace, name="广告链接", kind=ModerationKind.LINKS)
    KeywordReply.objects.create(workspace=workspace, pattern="群规", reply="请看群公告", mention_asker=True)
    events_ingest(workspace=workspace, source="simulator", events=[
        live("group.joined", 1, "小美"), live("group.message", 2, "小美", text="快来 https://ads.example.com"),
    ])
    outbox_drain()
    return {"group": Group.objects.get(workspace=workspace).pk}


def test_an_operator_edits_the_welcome_with_a_live_preview_and_undoes_a_strike(page, community, live_server):
    from playwright.sync_api import expect

    page.goto("/login/")
    log_in(page)
    page.goto(f"/w/flowers/groups/{community['group']}/bot/")
    welcome = page.locator("textarea[name=welcome_text]")
    welcome.fill("{name} 欢迎来到{group}!学号 {number}")
    preview = page.locator("#welcome-preview")
    expect(preview).to_contain_text("欢迎来到花友一群!学号")
    welcome.fill("{name} 欢迎 {nickname}")
    expect(preview.locator(".error")).to_contain_text("{nickname}")

    # A keyword reply with a broken regular expression: refused, with where the error is.
    page.locator("summary", has_text=zh("Add a keyword reply")).click()
    form = page.locator("form[action$='replies/new/']")
    form.locator("select[name=match]").select_option("regex")
    form.locator("input[name=pattern]").fill("群(规")
    form.locator("textarea[name=reply]").fill("{rules}")
    form.locator("button.primary").click()
    expect(page.locator(".field.invalid .error").first).to_contain_text(re.compile(r"1"))

    # The moderation log shows the strike; undoing it marks it undone.
    page.goto("/w/flowers/moderation/")
    row = page.locator("tr", has_text="广告链接")
    expect(row).to_contain_text("小美")
    expect(row).to_contain_text("1/2")
    row.get_by_role("button", name=zh("Undo strike")).click()
    expect(page.locator("tr.undone-row")).to_have_count(1)

    # The outbox lists the warning and the deletion the bot sent.
    page.goto("/w/flowers/outbox/?status=sent")
    expect(page.locator("table.outbox tbody tr")).to_have_count(2)
    expect(page.locator("table.outbox")).to_contain_text("广告链接")


def test_an_operator_tries_messages_and_sees_which_reply_answers_and_what_it_would_say(page, community, live_server):
    from playwright.sync_api import expect

    page.goto("/login/")
    log_in(page)
    page.goto(f"/w/flowers/groups/{community['group']}/bot/")
    tester = page.locator("#reply-try")
    expect(tester.locator("h3")).to_contain_text("试一试")
    result = page.locator("#reply-try-result")
    tester.locator("textarea[name=text]").fill("请问群规是什么?")
    tester.get_by_role("button", name=zh("Try it")).click()
    expect(result.locator(".try-answer")).to_have_text("@小明 请看群公告")  # the sample member, mentioned
    expect(result.locator(".try-rule")).to_contain_text("群规")
    expect(result).to_contain_text(zh("workspace-wide"))

    tester.locator("textarea[name=text]").fill("今天天气不错")  # answered as the operator types, no button
    expect(result.locator(".try-none")).to_have_text(zh("No keyword reply answers this message: the bot stays silent."))
    tester.locator("textarea[name=text]").fill("群规 快来 https://ads.example.com")
    expect(result.locator(".try-moderated")).to_contain_text("广告链接")

    # Nothing was queued: the outbox holds only the fixture's welcome, warning and deletion.
    page.goto("/w/flowers/outbox/")
    expect(page.locator("table.outbox tbody tr")).to_have_count(3)
    expect(page.locator("table.outbox")).not_to_contain_text("请看群公告")
