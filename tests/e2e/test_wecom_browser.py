"""The WeCom page and the dead letters in a real Chromium, at 390x844 and 1440x900: the connect form refuses a
bad EncodingAESKey, the callback URL is shown, "test the callback" goes over the network to the live server,
and a dead letter is read and replayed."""
import pytest
from django.test import Client

from siyu.core.models import Role
from siyu.core.services import staff_role_set, staff_user_ensure, workspace_create
from tests.wecom.callbacks import CORP_ID, ENCODING_AES_KEY, TOKEN, connect, event_xml, signed_post

from .helpers import PASSWORD, USERNAME, log_in, zh

pytestmark = pytest.mark.e2e
WIDTH = "() => [document.documentElement.scrollWidth, window.innerWidth]"


@pytest.fixture
def community(chromium, transactional_db):
    workspace = workspace_create(slug="flowers", name="花园私域", time_zone="Asia/Shanghai")
    staff_role_set(workspace=workspace, user=staff_user_ensure(username=USERNAME, password=PASSWORD), role=Role.OWNER)
    account = connect(workspace)
    url, body = signed_post(account, event_xml("change_external_chat", ChatId="wrOgQhDgAAMYQiS5ol9G7gK9JVAAAA",
                                               ChangeType="update", UpdateDetail="add_member", JoinScene="3"))
    assert Client().post(url, data=body, content_type="text/xml").status_code == 200  # verified, but no MemChangeList
    return {"path": f"/hooks/wecom/{account.hook_token}/"}


@pytest.mark.parametrize("size", [(390, 844), (1440, 900)])
def test_an_owner_tests_the_callback_and_replays_a_dead_letter(page, community, live_server, size):
    from playwright.sync_api import expect

    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto("/login/")
    log_in(page)
    page.wait_for_url("**/w/**")
    page.goto("/w/flowers/bot/")
    page.locator("a", has_text=zh("WeCom app")).first.click()
    expect(page.locator("#wecom-callback-url")).to_have_text(live_server.url + community["path"])
    assert page.evaluate(WIDTH)[0] <= page.evaluate(WIDTH)[1]

    page.locator("button", has_text=zh("Test the callback")).click()
    expect(page.locator("ul.messages")).to_contain_text(zh("The callback URL answered the verification with the right echo."))

    form = page.locator("form[action$='wecom/connect/']")
    for name, value in {"corp_id": CORP_ID, "agent_id": "1000002", "secret": "s", "token": TOKEN, "encoding_aes_key": ENCODING_AES_KEY[:-1] + "!"}.items():
        form.locator(f"[name={name}]").fill(value)
    form.locator("button.primary").click()
    expect(page.locator("form[action$='wecom/connect/']")).to_contain_text(zh("The EncodingAESKey is 43 letters and digits, as set under the app's 'Receive messages' settings."))

    page.goto("/w/flowers/wecom/")
    page.locator("dd a[href$='dead-letters/']").click()
    row = page.locator("main table tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("no MemChangeList")
    row.locator("summary").click()
    expect(row.locator("pre")).to_contain_text("change_external_chat")
    assert page.evaluate(WIDTH)[0] <= page.evaluate(WIDTH)[1]
    row.locator("button").click()
    expect(page.locator("main")).to_contain_text(zh("Replay failed: %(reason)s").split("%")[0])
