"""Every console page on a phone and on a laptop (issue 15.13), in Chromium, in zh-hans and en.

The pages are the console crawl's (tests/reliability/crawl.py: every URL pattern of the URLconf, with real ids of
the crawl's world), kept when they answer a whole page. On each, at 390x844 and at 1440x900: nothing is wider
than the window (a table scrolls inside its own box), and the header is one line at 1440 and at most a fifth of
the screen at 390, where its menu is folded until the Menu button opens it.
"""
import re

import pytest
from django.conf import settings
from django.test import Client

from siyu.analytics.rollups import rollups_refresh
from siyu.core.models import Role
from tests.reliability.crawl import build_url, console_patterns, fresh_random, value_sets, world_build

from .helpers import PASSWORD

pytestmark = pytest.mark.e2e
PHONE, LAPTOP = (390, 844), (1440, 900)
LANGUAGES = ("zh-hans", "en")

MEASURE = """() => {
  const nav = document.querySelector('nav.main-nav'), link = nav && nav.querySelector('a');
  const header = document.querySelector('header.top');
  const tables = [...document.querySelectorAll('main table')];
  const loose = tables.filter(t => { for (let p = t.parentElement; p; p = p.parentElement) {
    if (['auto', 'scroll'].includes(getComputedStyle(p).overflowX)) return false; } return true; });
  const menu = document.getElementById('top-menu');
  return { scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
           header: header.getBoundingClientRect().height, nav: nav ? nav.getBoundingClientRect().height : 0,
           link: link ? link.getBoundingClientRect().height : 0, looseTables: loose.length,
           menuShown: menu.getBoundingClientRect().height > 0 };
}"""


@pytest.fixture
def community(chromium, transactional_db):
    own, other = world_build()
    rollups_refresh(workspace=own.workspace)
    owner = own.users[Role.OWNER]
    client = Client()
    client.force_login(owner)
    urls, rng = [], fresh_random()
    for pattern in console_patterns():
        url = build_url(pattern, value_sets(pattern, own, other, rng)[0][1])
        response = client.get(url)
        if response.status_code == 200 and not response.streaming and b'<header class="top">' in response.content:
            urls.append(url)
    return {"username": owner.get_username(), "urls": urls, "slug": own.workspace.slug}


def log_in(page, username):
    page.goto("/login/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button.primary").click()
    page.wait_for_url("**/w/**")


def test_every_console_page_fits_a_phone_and_a_laptop_in_both_languages(page, live_server, community):
    from playwright.sync_api import expect

    urls = community["urls"]
    # The crawl's world has rows of every kind: the detail pages are among them, not only the lists.
    for detail in (r"/groups/\d+/$", r"/members/\d+/$", r"/links/\d+/$", r"/codes/\d+/$", r"/segments/\d+/$",
                   r"/leads/\d+/$"):
        assert any(re.search(detail, url) for url in urls), detail
    assert len(urls) >= 30, urls
    log_in(page, community["username"])
    problems = []
    for language in LANGUAGES:
        page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}])
        for width, height in (PHONE, LAPTOP):
            page.set_viewport_size({"width": width, "height": height})
            for url in urls:
                page.goto(url)
                page.wait_for_load_state("load")
                assert page.locator("html").get_attribute("lang") == language
                m = page.evaluate(MEASURE)
                where = f"{url} at {width}x{height} in {language}"
                if m["innerWidth"] != width or m["scrollWidth"] > m["innerWidth"]:
                    problems.append(f"{where}: {m['scrollWidth']} px wide in a {m['innerWidth']} px window")
                if m["looseTables"]:
                    problems.append(f"{where}: {m['looseTables']} tables outside a scrolling box")
                if width == LAPTOP[0]:
                    if not (m["menuShown"] and 0 < m["nav"] <= m["link"] + 1 and m["header"] < 2 * m["link"]):
                        problems.append(f"{where}: the header is not one line (nav {m['nav']} px, a link {m['link']} px, header {m['header']} px)")
                else:
                    if m["header"] > height / 5 or m["menuShown"]:
                        problems.append(f"{where}: header {m['header']} px, menu shown: {m['menuShown']}")
            if width == PHONE[0]:  # the Menu button opens the folded menu, and Escape folds it again
                page.goto(urls[0])
                toggle = page.locator("button.menu-toggle")
                expect(toggle).to_have_attribute("aria-expanded", "false")
                expect(page.locator("nav.main-nav")).to_be_hidden()
                toggle.click()
                expect(toggle).to_have_attribute("aria-expanded", "true")
                expect(page.locator("nav.main-nav a").first).to_be_visible()
                expect(page.locator("select[name=language]")).to_be_visible()
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                page.keyboard.press("Escape")
                expect(toggle).to_have_attribute("aria-expanded", "false")
                expect(page.locator("nav.main-nav")).to_be_hidden()
    assert not problems, f"{len(problems)} layout problems:\n" + "\n".join(problems[:60])


def test_the_header_is_one_line_on_a_1280_laptop_in_english(page, live_server, community):
    log_in(page, community["username"])
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": "en", "url": live_server.url}])
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"/w/{community['slug']}/")
    m = page.evaluate(MEASURE)
    assert m["menuShown"] and m["nav"] <= m["link"] + 1 and m["scrollWidth"] <= 1280, m
