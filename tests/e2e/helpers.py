"""What the browser tests share besides fixtures (those are in conftest.py): constants and page helpers.

Nothing here touches the ORM: these helpers run while Playwright runs (see conftest.py).
"""
import re
from pathlib import Path

from django.conf import settings
from django.utils import translation

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
USERNAME, PASSWORD = "li.yun", "pw-for-tests-123"
PAGE = 50  # rows per page of the members list and of a member's timeline


def zh(text):
    """What the console shows for `text` in the default language (so: whatever the catalogue says)."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(translation.gettext(text))


def zh_label(choice):
    with translation.override(settings.LANGUAGE_CODE):
        return str(choice.label)


def chinese(text):
    """True when `text` has Han characters: the catalogue really translated it (not just echoed English)."""
    return re.search(r"[\u4e00-\u9fff]", text) is not None


def screenshot(page, name):
    folder = Path(settings.VAR_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # else the sticky header is drawn where the page was scrolled to
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def log_in(page, password=PASSWORD):
    page.locator("input[name=username]").fill(USERNAME)
    page.locator("input[name=password]").fill(password)
    page.locator("form button.primary").click()


def open_logged_in(page, live_server, heading=None):
    """Log in from the login page and land on the first workspace's dashboard (`heading`: its title
    in the page's language; the default language's by default)."""
    from playwright.sync_api import expect

    page.goto("/login/")
    log_in(page)
    expect(page).to_have_url(f"{live_server.url}/w/flowers/")
    expect(page.locator("h1")).to_contain_text(heading or zh("Dashboard"))


def nav_to(page, live_server, label, path):
    """Follow the header's main navigation link `label` (as the page shows it) to `path`."""
    from playwright.sync_api import expect

    page.locator("nav.main-nav").get_by_role("link", name=label, exact=True).click()
    expect(page).to_have_url(f"{live_server.url}{path}")


def mark_document(page):
    """Put a marker on `window`; it survives htmx swaps and vanishes on a full page load."""
    page.evaluate("window.__siyuNoReload = true")


def assert_not_reloaded(page):
    assert page.evaluate("window.__siyuNoReload === true"), "the page was reloaded instead of updated by htmx"


def cell_texts(rows, column):
    return [t.strip() for t in rows.locator(f"td:nth-child({column})").all_inner_texts()]
