"""Fixtures of the browser tests: Playwright's sync API drives Debian's Chromium against `live_server`.

Each test module defines its own `community` fixture, which creates the data and works out everything
its tests expect. `page` depends on it, so that work is done before Playwright starts, and Playwright
is stopped before pytest-django flushes the database (fixtures tear down in reverse order):
Playwright's sync API runs an asyncio event loop on the test's thread, and Django refuses ORM calls
from such a thread (SynchronousOnlyOperation).
"""
import importlib.util

import pytest

from tests.conftest import require

from .helpers import CHROMIUM, LAUNCH_ARGS


@pytest.fixture
def chromium():
    require(CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install chromium (Debian's build; never Playwright's download)")
    require(importlib.util.find_spec("playwright") is not None, "the playwright package is not installed")
    return CHROMIUM


@pytest.fixture
def page(chromium, community, live_server):
    """A Chromium page on the live server, as a Chinese-speaking operator's browser (zh-CN).
    Any JavaScript error on it fails the test."""
    # Imported here so that collecting the tests never needs playwright.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        context = browser.new_context(
            base_url=live_server.url, locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(10_000)
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
        try:
            yield page
        finally:
            context.close()
            browser.close()
        assert not errors, f"JavaScript errors on the page: {errors}"
