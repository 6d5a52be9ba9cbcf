"""How fast the dashboard draws in Chromium on the demo (issue 15.14), served as `siyu serve` serves it: waitress, and
WhiteNoise with siyu.settings.base's hashed, compressed static files (collected into a temporary STATIC_ROOT).

Cold is a new browser context (an empty cache), warm a reload. The test prints one line, e.g.
`dashboard first render: cold 780 ms (HTML 91, scripts and charts 487), warm 329 ms (...); chart bundle ...`;
first render is from the start of the navigation to charts.js having drawn every chart. It asserts what makes it
fast (one small bundle, compressed, cached for good, not fetched again) and that the charts are drawn, never a time.
Also: a zh-hans page's date axes read in Chinese (Plotly's zh-CN locale), an English one's in English."""
import re
import threading

import pytest

from siyu.analytics.rollups import rollups_refresh
from siyu.channels.simulator.demo import CAMP_SLUG, DEMO_PASSWORD, DEMO_SLUG, demo_create
from siyu.core.models import Workspace
from siyu.core.staticfiles import static_collect_if_needed
from siyu.groups.models import Group
from tests.conftest import hashed_static, production_security_apply

from .helpers import CHROMIUM, LAUNCH_ARGS

pytestmark = pytest.mark.e2e
BUNDLE = "plotly-finance.min."  # the dashboard's (siyu.console.chart_bundles picks it)
# Records when charts.js has drawn every chart (it sets body[data-charts-ready]), before the page's own scripts run.
WATCH = """
window.__drawn = null;
new MutationObserver(function (changes, observer) {
  if (document.body && document.body.dataset.chartsReady) { window.__drawn = performance.now(); observer.disconnect(); }
}).observe(document, { attributes: true, subtree: true, attributeFilter: ["data-charts-ready"] });
"""
DATE_TICKS = "[data-chart=lines] .xtick text, [data-chart=bars] .xtick text"  # a group's daily charts (not its heatmap)
# Navigation and the bundle's resource timing (none when the memory cache served it: it was not even looked up).
TIMING = """bundle => {
  const nav = performance.getEntriesByType("navigation")[0];
  const entry = performance.getEntriesByType("resource").find(r => r.name.includes(bundle));
  return { drawn: window.__drawn, html: nav.responseEnd, interactive: nav.domInteractive,
           sent: entry ? entry.transferSize : 0, encoded: entry && entry.encodedBodySize, size: entry && entry.decodedBodySize };
}"""


@pytest.fixture
def community(chromium, transactional_db, settings, tmp_path):
    """The demo (siyu demo's workspaces, 40 groups and 5,000 members over 90 days) with its rollups, the
    production headers less HTTPS, and the static files collected as `siyu serve` does."""
    production_security_apply(settings, SECURE_SSL_REDIRECT=False, SESSION_COOKIE_SECURE=False, CSRF_COOKIE_SECURE=False)
    demo_create()
    for slug in (DEMO_SLUG, CAMP_SLUG):
        rollups_refresh(workspace=Workspace.objects.get(slug=slug))
    group = Group.objects.filter(workspace__slug=DEMO_SLUG).order_by("pk").first()
    with hashed_static(tmp_path / "static"):
        assert static_collect_if_needed()
        yield f"/w/{DEMO_SLUG}/groups/{group.pk}/figures/"


@pytest.fixture
def server(community):
    """waitress, as `siyu serve` runs it, on a free port, with a handler made now (so WhiteNoise reads the
    collected files)."""
    from django.core.wsgi import get_wsgi_application
    from waitress import create_server

    wsgi = create_server(get_wsgi_application(), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=wsgi.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{wsgi.effective_port}"
    wsgi.close()
    thread.join(5)


def draw(page, url, bundle=BUNDLE):
    from playwright.sync_api import expect

    response = page.goto(url)
    expect(page.locator("body")).to_have_attribute("data-charts-ready", "1")
    expect(page.locator(".js-plotly-plot")).to_have_count(page.locator("[data-chart]").count())
    page.wait_for_function("window.__drawn !== null")
    return response, page.evaluate(TIMING, bundle)


def test_the_dashboard_draws_fast_from_one_small_compressed_long_cached_bundle(chromium, community, server):
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        errors = []
        try:
            login = browser.new_context(base_url=server, locale="zh-CN", timezone_id="Asia/Shanghai")
            page = login.new_page()
            page.goto("/login/")
            page.locator("input[name=username]").fill("demo")
            page.locator("input[name=password]").fill(DEMO_PASSWORD)
            page.locator("form button.primary").click()
            expect(page).to_have_url(f"{server}/w/{DEMO_SLUG}/")
            cookies = login.storage_state()
            login.close()

            # Cold: a new context has an empty cache; only the session cookie comes along.
            context = browser.new_context(base_url=server, locale="zh-CN", timezone_id="Asia/Shanghai",
                                          viewport={"width": 1440, "height": 900}, storage_state=cookies)
            context.add_init_script(WATCH)
            page = context.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            bundles = []
            page.on("response", lambda r: bundles.append(r) if BUNDLE in r.url else None)
            _, cold = draw(page, f"/w/{DEMO_SLUG}/")
            expect(page.locator(".tier .js-plotly-plot .slice").first).to_be_visible()
            scripts = page.eval_on_selector_all("script[src]", "all => all.map(s => s.getAttribute('src'))")
            assert [s for s in scripts if "plotly" in s] == [s for s in scripts if BUNDLE in s or "locale-zh-cn" in s]
            assert len(bundles) == 1 and re.search(r"/plotly-finance\.min\.[0-9a-f]{12}\.js$", bundles[0].url)
            headers = bundles[0].headers
            assert headers["cache-control"] == "max-age=315360000, public, immutable"
            assert headers["content-encoding"] in ("br", "gzip")
            assert cold["encoded"] < cold["size"] / 2.5  # compressed on the wire

            _, warm = draw(page, f"/w/{DEMO_SLUG}/")  # warm: the same dashboard again, everything cached
            assert warm["sent"] == 0  # the bundle came from the cache without asking the server
            page.reload()
            expect(page.locator("body")).to_have_attribute("data-charts-ready", "1")
            page.wait_for_function("window.__drawn !== null")
            reload = page.evaluate(TIMING, BUNDLE)
            print(
                f"\ndashboard first render: cold {cold['drawn']:.0f} ms (HTML {cold['html']:.0f}, scripts and charts "
                f"{cold['drawn'] - cold['interactive']:.0f}), warm {warm['drawn']:.0f} ms (HTML {warm['html']:.0f}, "
                f"scripts and charts {warm['drawn'] - warm['interactive']:.0f}), reload {reload['drawn']:.0f} ms; "
                f"chart bundle {cold['sent'] / 1024:.0f} KiB sent for {cold['size'] / 1024:.0f} KiB "
                f"({headers['content-encoding']})"
            )

            # Plotly's locale follows the page's language: a group's daily charts have date axes.
            draw(page, community, "plotly-cartesian.min.")
            ticks = page.locator(DATE_TICKS).all_text_contents()
            assert ticks and all(re.fullmatch(r"[\d年月日\s]+", t) and "月" in t and "日" in t for t in ticks), ticks
            context.close()

            english = browser.new_context(base_url=server, locale="en-US", timezone_id="Asia/Shanghai", storage_state=cookies)
            english.add_init_script(WATCH)
            page = english.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            draw(page, community)
            assert page.locator("html").get_attribute("lang") == "en"
            ticks = page.locator(DATE_TICKS).all_text_contents()
            months = "Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec"
            assert ticks and all(re.match(rf"({months}) \d{{1,2}}", t) for t in ticks), ticks
            english.close()
        finally:
            browser.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
