"""Short links in a real Chromium: an operator creates a link in the console (the UTM builder previews
the final URL as they type), a phone in WeChat scans its QR and lands on the target, the spooled click
is flushed, and the link's page shows the scan.

The flush runs on a thread of its own: the test's thread runs Playwright's event loop, where Django
refuses ORM calls (see conftest.py).
"""
import threading

import pytest
from django.db import connections

from siyu.core.models import Role
from siyu.core.services import staff_role_set, staff_user_ensure, workspace_create
from siyu.links.spool import links_spool_flush

from .helpers import PASSWORD, USERNAME, log_in, screenshot, zh

pytestmark = pytest.mark.e2e

WECHAT_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 "
    "MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN"
)


@pytest.fixture
def community(chromium, transactional_db):
    workspace = workspace_create(slug="flowers", name="花园私域", time_zone="Asia/Shanghai")
    staff_role_set(workspace=workspace, user=staff_user_ensure(username=USERNAME, password=PASSWORD), role=Role.OPERATOR)
    links_spool_flush()  # clicks other tests of this process left behind are not this test's
    return workspace


def flush_on_a_thread():
    """links_spool_flush() where the ORM may run; its result, or the exception it raised."""
    outcome = {}

    def run():
        try:
            outcome["result"] = links_spool_flush()
        except Exception as exc:  # handed to the test's thread, which fails with it
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]


def test_a_scan_from_a_phone_is_followed_and_shows_on_the_links_page(page, community, live_server):
    from playwright.sync_api import expect

    page.goto("/login/")
    log_in(page)
    page.goto("/w/flowers/links/")
    page.get_by_role("link", name=zh("New link")).click()
    target = f"{live_server.url}/login/?from=poster"
    page.locator("input[name=target_url]").fill(target)
    page.locator("input[name=slug]").fill("spring")
    page.locator("input[name=utm_source]").fill("poster")
    page.locator("input[name=utm_campaign]").fill("春季")
    final = f"{target}&utm_source=poster&utm_campaign=%E6%98%A5%E5%AD%A3"
    expect(page.locator("#utm-preview")).to_have_text(final)  # the live preview, before saving
    page.locator("input[name=tags]").fill("海报")
    page.locator("#link-form button.primary").click()
    expect(page.locator("h1 .short")).to_have_text(f"{live_server.url}/s/spring")
    expect(page.locator(".totals .scans")).to_have_text("0")
    qr = page.locator("img.qr-preview")
    expect(qr).to_be_visible()
    assert page.evaluate("(img) => img.complete && img.naturalWidth > 100", qr.element_handle())

    # A phone in WeChat scans the printed code: /s/spring?qr=1, redirected to the target.
    phone_context = page.context.browser.new_context(
        base_url=live_server.url, viewport={"width": 390, "height": 844}, user_agent=WECHAT_IPHONE, is_mobile=True,
        has_touch=True, device_scale_factor=3, locale="zh-CN",
    )
    try:
        phone = phone_context.new_page()
        response = phone.goto("/s/spring?qr=1")
        assert response.url == final
        assert response.request.redirected_from.url == f"{live_server.url}/s/spring?qr=1"
        assert response.request.redirected_from.response().status == 302
        expect(phone.locator("input[name=username]")).to_be_visible()
    finally:
        phone_context.close()

    result = flush_on_a_thread()
    assert result is not None

    page.reload()
    expect(page.locator(".totals .scans")).to_have_text("1")
    expect(page.locator(".totals .clicks")).to_have_text("0")
    expect(page.locator(".totals .bots")).to_contain_text("0.0%")
    expect(page.locator("table.breakdown-browser")).to_contain_text("微信")  # WeChat, in the page's language (15.16)
    page.wait_for_function("document.body.dataset.chartsReady === '1'")
    screenshot(page, "link-stats-after-a-scan")

    # The list shows the same scan in its column.
    page.locator("nav.main-nav").get_by_role("link", name=zh("Links"), exact=True).click()
    row = page.locator("tr[data-link]", has_text="spring")
    expect(row.locator("td.num").nth(1)).to_have_text("1")
    row.locator("button.copy").click()
    expect(row.locator("button.copy")).to_have_attribute("data-copied", "1")
