"""The analytics dashboard (the console's landing page, /w/<slug>/) in a real browser.

The same conventions as test_console_browser.py: each test simulates a small community of its own
(6 groups, 300 members, 20 days) and refreshes its rollups, and the `community` fixture works out
everything the pages should show *before* the `page` fixture (conftest.py) starts Playwright, so no
ORM call happens while the browser runs. Expectations come from the analytics layer
(metrics.period_totals / group_totals + figures, MemberModel) and the translation catalogue; the
pages are read only through the browser.

Screenshots, one per scenario, go to <SIYU_VAR_DIR>/screenshots/ (var/test/screenshots/ by default).
"""
import csv
import io
import re
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.utils import timezone, translation

from siyu.analytics import metrics
from siyu.analytics.models import ActivityTier, MemberModel
from siyu.analytics.rollups import rollups_refresh
from siyu.analytics.selectors import MODEL_LABELS
from siyu.channels.simulator.services import simulation_plan, simulation_run
from siyu.core.models import Role
from siyu.core.services import staff_role_set, staff_user_ensure, workspace_create
from siyu.groups.models import Group

from .helpers import PAGE, PASSWORD, USERNAME, cell_texts, chinese, open_logged_in, screenshot, zh

pytestmark = pytest.mark.e2e

PERIODS = (30, 90, 7)  # the default period, then the ones the period test picks in turn
DEFAULT, SORTED = 30, 7  # the groups table is sorted in the last 7 days
SORT_KEY = "join_rate"  # there some groups have a join rate and some have none
TIER_FIELD, TIER = "activity_tier", ActivityTier.CORE
CSV_HEADERS = ["Group", "Kind", "Members at start", "Members at end", "Joins", "Leaves", "Exposures", "Messages",
               "Buyers", "Orders", "Revenue (¥)", "Cost (¥)"]


def in_language(language, text):
    with translation.override(language):
        return str(text)


def shown(figure, language):
    """A figure as the dashboard prints it: 31.1%, 8.76, ¥231.36, 4.69× or "no data"."""
    if figure.value is None:
        return in_language(language, translation.gettext_lazy("no data"))
    unit, value = figure.metric.unit, figure.value
    if unit == "percent":
        return f"{value * 100:.1f}%"
    if unit == "money":
        return f"¥{value / 100:,.2f}"
    if unit == "ratio":
        return f"{value:.2f}×"
    return f"{value:.2f}"


def sorted_figures(rows, descending):
    """(name, figure) rows by the figure's value, "no data" last in both directions."""
    with_data = sorted((r for r in rows if r[1].value is not None), key=lambda r: r[1].value, reverse=descending)
    return with_data + [r for r in rows if r[1].value is None]


@pytest.fixture
def community(chromium, transactional_db):
    """The user owns "flowers" (simulated, 6 groups, 300 members, 20 days) with its rollups refreshed.
    Returns what the dashboard should show, read from the database and the catalogue now."""
    flowers = workspace_create(slug="flowers", name="花园私域", time_zone="Asia/Shanghai")
    simulation_run(workspace=flowers, plan=simulation_plan(workspace=flowers, seed=7, groups=6, members=300, days=20))
    rollups_refresh(workspace=flowers)
    user = staff_user_ensure(username=USERNAME, password=PASSWORD)
    staff_role_set(workspace=flowers, user=user, role=Role.OWNER)

    today = timezone.now().astimezone(flowers.tz).date()
    names = dict(Group.objects.filter(workspace=flowers).values_list("pk", "name"))
    periods = {}
    for days in PERIODS:
        first = today - timedelta(days=days - 1)
        figures = metrics.figures(metrics.period_totals(workspace=flowers, first=first, last=today))
        groups = {
            names[group_id]: metrics.figures(totals)
            for group_id, totals in metrics.group_totals(workspace=flowers, first=first, last=today).items()
        }
        periods[days] = SimpleNamespace(
            first=first.isoformat(), last=today.isoformat(), label=zh(f"Last {days} days"),
            cards={language: [shown(f, language) for f in figures.values()] for language in ("zh-hans", "en")},
            groups=groups,
        )

    # The groups table sorted by one metric, both ways (as the texts shown: equal values may come in any order).
    rows = [(name, figures[SORT_KEY]) for name, figures in periods[SORTED].groups.items()]
    assert any(f.value is None for _, f in rows) and len({f.value for _, f in rows if f.value is not None}) > 1, (
        f"the sort test wants groups with and without a {SORT_KEY} in the last {SORTED} days"
    )
    sort = SimpleNamespace(
        key=SORT_KEY, label=zh(metrics.METRICS[SORT_KEY].label), column=3 + list(metrics.METRICS).index(SORT_KEY),
        shown={name: shown(f, "zh-hans") for name, f in rows},
        ascending=[shown(f, "zh-hans") for _, f in sorted_figures(rows, descending=False)],
        descending=[shown(f, "zh-hans") for _, f in sorted_figures(rows, descending=True)],
    )

    # A tier's slice: its members, newest first, as the members list shows them (a page at most).
    numbers = list(
        MemberModel.objects.filter(workspace=flowers, **{TIER_FIELD: TIER})
        .order_by("-member__number").values_list("member__number", flat=True)
    )
    assert numbers, f"someone should be in the {TIER} tier"
    counts = {value: MemberModel.objects.filter(workspace=flowers, **{TIER_FIELD: value}).count() for value in ActivityTier.values}
    tier = SimpleNamespace(
        field=TIER_FIELD, value=TIER.value, index=ActivityTier.values.index(TIER.value),
        option=f"{zh(MODEL_LABELS[TIER_FIELD])}: {zh(TIER.label)}",
        slices=[(zh(choice.label), counts[choice.value]) for choice in ActivityTier],
        numbers=numbers[:PAGE], count=len(numbers),
    )

    default = periods[DEFAULT]
    return SimpleNamespace(
        periods=periods, sort=sort, tier=tier,
        labels={language: [in_language(language, m.label) for m in metrics.METRICS.values()] for language in ("zh-hans", "en")},
        csv_headers=[zh(h) for h in CSV_HEADERS] + [zh(m.label) for m in metrics.METRICS.values()],
        csv_rows={name: [None if f.value is None else round(f.value, 6) for f in figures.values()]
                  for name, figures in default.groups.items()},
    )


def assert_charts_drawn(page):
    """charts.js has drawn every chart of the page with Plotly."""
    from playwright.sync_api import expect

    expect(page.locator("body")).to_have_attribute("data-charts-ready", "1")
    charts = page.locator("[data-chart]")
    assert charts.count() > 0
    expect(page.locator(".js-plotly-plot")).to_have_count(charts.count())
    expect(page.locator(".tier .js-plotly-plot .slice").first).to_be_visible()


def card_values(page):
    return [t.strip() for t in page.locator(".cards .metric .value").all_inner_texts()]


def assert_period(page, period, language="zh-hans"):
    """The page shows the figures of `period`, and says which days they are about."""
    from playwright.sync_api import expect

    between = f"{period.first} 至 {period.last}" if language == "zh-hans" else f"{period.first} to {period.last}"
    expect(page.locator("#period-form")).to_contain_text(between)
    cards = page.locator(".cards .metric").evaluate_all(
        "cards => cards.map(c => [c.title, c.querySelector('.why a').getAttribute('href')])"
    )
    assert len(cards) == len(period.cards[language])
    for title, href in cards:
        assert f" {period.first} – {period.last}" in title, title  # the formula and the fraction's days
        assert f"start={period.first}&end={period.last}" in href, href  # the events behind the figure
    assert card_values(page) == period.cards[language]


def choose_period(page, period):
    from playwright.sync_api import expect

    days = re.search(r"\d+", period.label).group()
    with page.expect_navigation(url=re.compile(rf"[?&]period={days}(&|$)")):
        page.locator("#period-form select[name=period]").select_option(label=period.label)
    expect(page.locator("#period-form select[name=period] option:checked")).to_have_text(period.label)


# (1) The dashboard in Chinese, its charts and the groups CSV; then in English ------------------

def test_the_dashboard_in_chinese_with_charts_and_the_groups_csv_then_in_english(page, community, live_server):
    from playwright.sync_api import expect

    period = community.periods[DEFAULT]
    open_logged_in(page, live_server)
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.locator("h1")).to_contain_text("数据看板")
    expect(page.locator("h1 small")).to_have_text("花园私域")
    expect(page.locator("nav.main-nav a.on")).to_have_text("数据看板")
    labels = page.locator(".cards .metric .label")
    expect(labels).to_have_text(community.labels["zh-hans"])
    expect(labels.first).to_have_text("进群率")
    assert all(chinese(t) for t in labels.all_inner_texts())
    assert_period(page, period)
    assert_charts_drawn(page)
    screenshot(page, "d1-dashboard-zh")

    # The groups table as CSV: UTF-8 with a BOM, Chinese headers, one row per group with figures.
    with page.expect_download() as info:
        page.locator("a.download-groups-csv").click()
    download = info.value
    assert download.suggested_filename == f"groups_{period.first}_{period.last}.csv"
    data = Path(download.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), "the CSV should start with a UTF-8 byte order mark"
    rows = list(csv.reader(io.StringIO(data.decode("utf-8").removeprefix("\ufeff"), newline="")))
    assert rows[0] == community.csv_headers
    assert all(chinese(h) for h in rows[0])
    body = rows[1:]
    assert len(body) == len(period.groups) == len(community.csv_rows) > 0
    assert [r[0] for r in body] == sorted(community.csv_rows), "the rows should come by group name"
    width = len(metrics.METRICS)
    for row in body:
        assert [None if v == "" else float(v) for v in row[-width:]] == community.csv_rows[row[0]], row[0]

    # The header's language select: the same dashboard in English.
    page.locator("header select[name=language]").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(f"{live_server.url}/w/flowers/")
    expect(page.locator("h1")).to_contain_text("Dashboard")
    expect(page.locator("nav.main-nav a.on")).to_have_text("Dashboard")
    labels = page.locator(".cards .metric .label")
    expect(labels).to_have_text(community.labels["en"])
    expect(labels.first).to_have_text("Join rate")
    expect(page.locator("#groups-table thead")).to_contain_text("Leave rate")
    assert not chinese(page.locator(".cards").inner_text())
    assert_period(page, period, "en")
    assert_charts_drawn(page)
    screenshot(page, "d1-dashboard-en")


# (2) Another period, then sorting the groups table in it -------------------------------------

def test_another_period_reloads_the_figures_and_a_metric_header_sorts_the_groups(page, community, live_server):
    from playwright.sync_api import expect

    periods = community.periods
    open_logged_in(page, live_server)
    assert_charts_drawn(page)  # charts.js has also hooked the period select by then
    assert_period(page, periods[DEFAULT])
    for days in PERIODS[1:]:
        choose_period(page, periods[days])
        assert_period(page, periods[days])
        assert_charts_drawn(page)
    assert periods[PERIODS[-1]].cards["zh-hans"] != periods[DEFAULT].cards["zh-hans"]
    screenshot(page, "d2-dashboard-7-days")

    # Sorting by a metric: "no data" last both ways; the period stays.
    sort = community.sort
    rows = page.locator("#groups-table tbody tr")
    header = page.locator("#groups-table thead a", has_text=sort.label)
    expect(rows).to_have_count(len(sort.shown))
    for direction, expected, arrow in (("asc", sort.ascending, "▲"), ("desc", sort.descending, "▼")):
        header.click()
        expect(page).to_have_url(re.compile(rf"\?period={SORTED}&.*&sort={sort.key}&dir={direction}#groups$"))
        expect(header).to_have_text(f"{sort.label} {arrow}")
        names, values = rows.locator("td:first-child a").all_inner_texts(), cell_texts(rows, sort.column)
        assert values == expected, direction
        assert dict(zip(names, values)) == sort.shown, "a row shows another group's figure"
    assert_period(page, periods[SORTED])
    screenshot(page, "d3-groups-sorted")


def test_the_period_select_shows_the_period_of_the_figures(client, make_workspace, make_staff):
    """Without the browser (a browser test would cost seconds): the select's chosen option in the HTML."""
    workspace = make_workspace()
    client.force_login(make_staff(workspace, role=Role.OWNER))
    for query in ("", "?sort=join_rate&dir=asc#groups"):  # the landing page, and a sorted table (no period asked)
        html = client.get(f"/w/{workspace.slug}/{query}").content.decode()
        start = html.index('<select name="period"')
        chosen = re.findall(r'<option value="([^"]*)"[^>]*\sselected', html[start:html.index("</select>", start)])
        assert chosen == [str(DEFAULT)], (query, chosen)


# (3) A tier's slice opens its members ---------------------------------------------------------

POINT_ON = """path => {
  // A point where the slice itself (not its text) takes the pointer: the hit nearest the hits' middle.
  const box = path.getBoundingClientRect(), hits = [];
  for (let fy = 0.02; fy < 1; fy += 0.04) for (let fx = 0.02; fx < 1; fx += 0.04) {
    const x = box.left + fx * box.width, y = box.top + fy * box.height;
    if (document.elementFromPoint(x, y) === path) hits.push([x, y]);
  }
  if (!hits.length) return null;
  const mx = hits.reduce((s, h) => s + h[0], 0) / hits.length, my = hits.reduce((s, h) => s + h[1], 0) / hits.length;
  const [x, y] = hits.reduce((a, h) => Math.hypot(h[0] - mx, h[1] - my) < Math.hypot(a[0] - mx, a[1] - my) ? h : a);
  return { x: x - box.left, y: y - box.top };
}"""


def test_clicking_a_tier_slice_lists_the_members_of_that_tier(page, community, live_server):
    from playwright.sync_api import expect

    tier = community.tier
    open_logged_in(page, live_server)
    assert_charts_drawn(page)
    section = page.locator(f".tier[data-field={tier.field}]")
    # The list under the pie says how many members each slice holds.
    items = section.locator(".slices li")
    expect(items.locator("a")).to_have_text([label for label, _ in tier.slices])
    expect(items.locator(".num")).to_have_text([str(n) for _, n in tier.slices])

    # Plotly binds each slice to its point, whose `i` is the index of its label.
    slices = section.locator(".js-plotly-plot .slice")
    mine = [n for n in range(slices.count()) if slices.nth(n).evaluate("g => g.__data__.i") == tier.index]
    assert len(mine) == 1, "the tier should have one slice in the pie"
    path = slices.nth(mine[0]).locator("path.surface")
    path.scroll_into_view_if_needed()
    point = path.evaluate(POINT_ON)
    assert point is not None, "no point of the slice takes the pointer"
    path.hover(position=point)
    expect(section.locator(".hoverlayer .hovertext")).to_have_count(1)  # Plotly took the pointer for the slice
    path.click(position=point)

    expect(page).to_have_url(re.compile(rf"/w/flowers/members/\?segment={tier.field}(:|%3A){tier.value}$"))
    expect(page.locator("select[name=segment] option:checked")).to_have_text(tier.option)
    rows = page.locator("#member-rows > tr:not(.more)")
    expect(rows).to_have_count(len(tier.numbers))
    assert [int(t.lstrip("#")) for t in cell_texts(rows, 2)] == tier.numbers  # column 1: the bulk checkboxes
    expect(page.locator("#member-rows > tr.more")).to_have_count(1 if tier.count > PAGE else 0)
    screenshot(page, "d4-tier-members")
