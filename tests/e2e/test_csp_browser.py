"""The console under siyu.settings.prod's headers (issue 14.11) in a real Chromium: the Content-Security-Policy
blocks nothing the pages need. Plotly draws the dashboard's charts, htmx updates the members list, and
console.js (which replaced the inline handlers) asks before a delete and sends a select's form."""
import re

import pytest

from siyu.analytics.rollups import rollups_refresh
from siyu.channels.simulator.services import simulation_plan, simulation_run
from siyu.core.models import Role
from siyu.core.services import staff_role_set, staff_user_ensure, workspace_create
from siyu.members.tags import tag_create
from tests.conftest import production_security_apply

from .helpers import PASSWORD, USERNAME, assert_not_reloaded, mark_document, open_logged_in, zh

pytestmark = pytest.mark.e2e
# Records every CSP violation on every page, before any of the page's own scripts run.
WATCH = "window.__csp = []; document.addEventListener('securitypolicyviolation', e => " \
        "window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + e.sourceFile + ':' + e.lineNumber));"


@pytest.fixture
def community(chromium, transactional_db, settings):
    # The production headers, less HTTPS: the live server speaks plain HTTP (HSTS and cookies: test_production_headers).
    production_security_apply(settings, SECURE_SSL_REDIRECT=False, SESSION_COOKIE_SECURE=False, CSRF_COOKIE_SECURE=False)
    flowers = workspace_create(slug="flowers", name="花园私域", time_zone="Asia/Shanghai")
    simulation_run(workspace=flowers, plan=simulation_plan(workspace=flowers, seed=7, groups=3, members=80, days=10))
    rollups_refresh(workspace=flowers)
    staff_role_set(workspace=flowers, user=staff_user_ensure(username=USERNAME, password=PASSWORD), role=Role.OWNER)
    tag_create(workspace=flowers, name="高意向")


def violations(page):
    return page.evaluate("window.__csp")


def test_the_console_works_under_the_production_content_security_policy(page, live_server, community, settings):
    from playwright.sync_api import expect

    page.context.add_init_script(WATCH)
    console = []
    page.on("console", lambda message: console.append(message.text) if "Content Security Policy" in message.text else None)
    response = page.goto("/login/")
    assert response.headers["content-security-policy"] == settings.SIYU_CONTENT_SECURITY_POLICY
    assert response.headers["referrer-policy"] == "same-origin" and response.headers["x-frame-options"] == "DENY"

    open_logged_in(page, live_server)  # the dashboard: Plotly's charts
    expect(page.locator("body")).to_have_attribute("data-charts-ready", "1")
    expect(page.locator(".js-plotly-plot")).to_have_count(page.locator("[data-chart]").count())
    expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()
    assert violations(page) == []

    page.goto("/w/flowers/members/")  # htmx: the search updates the list in place
    mark_document(page)
    page.locator("input[name=q]").fill("no-such-member-anywhere")
    expect(page).to_have_url(re.compile(r"q=no-such-member-anywhere"))
    assert_not_reloaded(page)
    assert violations(page) == []

    page.goto("/w/flowers/tags/")  # console.js: a delete asks first; "cancel" keeps the tag, "OK" deletes it
    row = page.locator("tr", has_text="高意向")
    page.once("dialog", lambda dialog: dialog.dismiss())
    row.get_by_role("button", name=zh("Delete")).click()
    expect(row).to_be_visible()
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    row.get_by_role("button", name=zh("Delete")).click()
    expect(page.locator("tr", has_text="高意向")).to_have_count(0)
    assert asked and asked[0].startswith(zh("Delete this tag? It is taken from every member; segments naming it will show an error.")[:6])
    assert violations(page) == []

    page.locator("select[name=language]").select_option("en")  # console.js: the select sends its form
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert violations(page) == [] and console == []
