"""The dashboard, a group's figures, the events page and the downloads, through Django's test client."""
import csv
import io
import json
import re
from datetime import date

import pytest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape
from openpyxl import load_workbook

from siyu.analytics.models import MemberModel, Watermark
from siyu.analytics.rollups import rollups_refresh
from siyu.channels.simulator.services import simulation_plan, simulation_run
from siyu.core.models import Role
from siyu.console.chart_bundles import BUNDLES, CHART_TRACES, LOCALES
from siyu.console.templatetags.console import figure_tooltip
from siyu.groups.models import Group


@pytest.fixture
def community(workspace):
    simulation_run(workspace=workspace, plan=simulation_plan(workspace=workspace, groups=6, members=200, days=21, seed=5))
    rollups_refresh(workspace=workspace)
    return workspace


@pytest.fixture
def client_in(client, community, make_staff):
    client.force_login(make_staff(community, role=Role.VIEWER))
    return client


def url(workspace, name="dashboard", *args):
    return reverse(f"console:{name}", args=[workspace.slug, *args])


def test_dashboard_is_the_landing_page_and_explains_every_figure(client_in, community):
    assert client_in.get("/").url == url(community)
    response = client_in.get(url(community), HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.status_code == 200
    for card in response.context["cards"]:
        assert escape(str(card["metric"].formula)) in html  # the formula is on the card…
        assert card["events_url"].startswith(url(community, "events"))  # …and the events behind it
    assert "Join rate" in html and 'data-chart="pie"' in html and "/static/plotly/plotly-finance.min.js" in html
    assert client_in.get(url(community), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode().count("进群率") >= 2


def test_period_choice_and_comparison(client_in, community):
    response = client_in.get(url(community) + "?period=7")
    card = response.context["cards"][0]
    assert (card["figure"].last - card["figure"].first).days == 6
    assert card["previous"].last == date.fromordinal(card["figure"].first.toordinal() - 1)
    custom = client_in.get(url(community) + "?period=custom&start=2026-01-01&end=2026-01-10")
    assert custom.context["cards"][0]["figure"].first == date(2026, 1, 1)


def test_bad_custom_period_says_why_and_falls_back(client_in, community):
    response = client_in.get(url(community) + "?period=custom&start=2026-02-10&end=2026-02-01", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert "The start day must not be after the end day." in response.content.decode()
    assert (response.context["last"] - response.context["first"]).days == 29


def test_groups_table_sorts_by_any_metric_with_no_data_last(client_in, community):
    for key in ("leave_rate", "join_rate", "retention", "aov", "name", "members_end"):
        for direction in ("asc", "desc"):
            rows = client_in.get(url(community) + f"?sort={key}&dir={direction}").context["rows"]
            if key in ("name", "members_end"):
                values = [r["group"].name if key == "name" else r["totals"].members_end for r in rows]
                assert values == sorted(values, reverse=direction == "desc")
                continue
            values = [r["figures"][key].value for r in rows]
            present = [v for v in values if v is not None]
            assert values[: len(present)] == sorted(present, reverse=direction == "desc")
            assert all(v is None for v in values[len(present):])


def test_groups_without_data_come_last_and_small_groups_can_be_hidden(client_in, community, ingest):
    # A group whose only event is a message from someone the memberships do not know: a row of "no data".
    ingest([{"type": "group.message", "source_id": "quiet-1", "occurred_at": timezone.now().isoformat(),
             "actor": {"id": "stranger", "name": "Stranger"}, "group": {"id": "quiet", "name": "0 empty group"},
             "data": {"text": "hello?"}}])
    rollups_refresh(workspace=community)
    for query in ("sort=name&dir=asc", "sort=name&dir=desc", "sort=members_end&dir=desc", "sort=members_end&dir=asc", ""):
        rows = client_in.get(url(community) + f"?min_members=0&{query}").context["rows"]
        assert rows[-1]["group"].name == "0 empty group", query
        assert [r["group"].name for r in rows].count("0 empty group") == 1
    everyone = client_in.get(url(community) + "?min_members=0").context["rows"]
    big = client_in.get(url(community) + "?min_members=30&sort=name", HTTP_ACCEPT_LANGUAGE="en")
    assert big.context["min_members"] == 30
    assert {r["group"].pk for r in big.context["rows"]} == {r["group"].pk for r in everyone if r["totals"].members_end >= 30}
    assert len(big.context["rows"]) < len(everyone)
    html = big.content.decode()
    assert 'name="min_members"' in html and 'value="30"' in html and "Groups with at least" in html
    assert 'name="sort" value="name"' in html  # the filter keeps the sort and the period
    refused = client_in.get(url(community) + "?min_members=abc", HTTP_ACCEPT_LANGUAGE="en")
    assert refused.context["min_members"] == 10
    assert "The minimum size must be a whole number from 0 to 1,000,000" in refused.content.decode()


def test_small_groups_are_hidden_by_default_and_sort_after_the_others(client_in, community, ingest):
    # Three people who never speak: 0 % interaction, which sorted such a group first (issue 15.3).
    now = timezone.now().isoformat()
    ingest([{"type": "group.joined", "source_id": f"tiny-{n}", "occurred_at": now, "actor": {"id": f"tiny-u{n}", "name": f"T{n}"},
             "group": {"id": "tiny", "name": "0 tiny group"}, "data": {}} for n in range(3)])
    rollups_refresh(workspace=community)
    response = client_in.get(url(community), HTTP_ACCEPT_LANGUAGE="en")
    html = response.content.decode()
    assert response.context["min_members"] == 10 and 'name="min_members"' in html and 'value="10"' in html
    assert "0 shows every group" in html
    assert "0 tiny group" not in [r["group"].name for r in response.context["rows"]]
    assert all(r["totals"].members_end >= 10 for r in response.context["rows"])
    rows = client_in.get(url(community) + "?min_members=0").context["rows"]  # the default sort: interaction ascending
    tiny = next(r for r in rows if r["group"].name == "0 tiny group")
    assert tiny["figures"]["interaction_rate"].value == 0
    with_data = [r for r in rows if r["figures"]["interaction_rate"].value is not None]
    big = [r for r in with_data if r["totals"].members_end >= 10]
    assert big and with_data[: len(big)] == big and tiny in with_data[len(big):]
    assert min(r["figures"]["interaction_rate"].value for r in big) > 0  # the tiny group would have come first
    sizes = [r["totals"].members_end for r in client_in.get(url(community) + "?min_members=0&sort=members_end").context["rows"]]
    assert sizes[0] == 3  # sorting by size still puts it where its size says


def test_tooltips_show_yuan_and_name_the_article(client_in, community):
    cards = {c["key"]: c for c in client_in.get(url(community), HTTP_ACCEPT_LANGUAGE="en").context["cards"]}
    aov, roi = cards["aov"]["figure"], cards["roi"]["figure"]
    assert aov.value and roi.value
    with translation.override("en"):
        aov_tip, roi_tip = figure_tooltip(aov), figure_tooltip(roi)
        join_tip = figure_tooltip(cards["join_rate"]["figure"])
    assert f"¥{aov.numerator / 100:,.2f} ÷ {int(aov.denominator):,}" in aov_tip
    assert f"¥{roi.numerator / 100:,.2f} ÷ ¥{roi.denominator / 100:,.2f}" in roi_tip
    assert f"{int(aov.numerator):,}" not in aov_tip  # no cents
    assert "从0到1搭建私域社群SOP" in join_tip and "Seed" not in join_tip
    with translation.override("zh-hans"):
        tip = figure_tooltip(cards["join_rate"]["figure"])
        repurchase = figure_tooltip(cards["repurchase"]["figure"])
    assert "《从0到1搭建私域社群SOP》" in tip and "用例" not in tip
    assert "《社群运营策略全流程及变现模式》" in repurchase
    html = client_in.get(url(community), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "用例" not in html and "出自" in html


def test_the_last_day_of_a_period_ending_today_is_marked_partial(client_in, community):
    cards = client_in.get(url(community)).context["cards"]
    assert all(json.loads(c["trend"])["partial"] for c in cards)
    ended = client_in.get(url(community) + "?period=custom&start=2026-01-01&end=2026-01-10").context["cards"]
    assert not any(json.loads(c["trend"])["partial"] for c in ended)
    group = Group.objects.filter(workspace=community).first()
    charts = json.loads(client_in.get(url(community, "group_analytics", group.pk)).context["charts"])
    assert charts["members"]["partial"] and charts["messages"]["partial"]


def test_every_table_downloads_as_csv_and_xlsx(client_in, community):
    groups_with_rows = len(client_in.get(url(community) + "?min_members=0").context["rows"])  # every group, small ones too
    for table in ("groups", "metrics", "tiers", "cohorts", "funnel"):
        response = client_in.get(url(community) + f"?table={table}&format=csv", HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
        text = response.content.decode("utf-8")
        assert text.startswith("\ufeff")
        rows = list(csv.reader(io.StringIO(text[1:])))
        assert len(rows) > 1, table
        if table == "groups":
            assert rows[0][0] == "Group" and len(rows) - 1 == groups_with_rows
        xlsx = client_in.get(url(community) + f"?table={table}&format=xlsx")
        sheet = load_workbook(io.BytesIO(xlsx.content)).active
        assert [c.value for c in sheet[1]][0] and sheet.max_row == len(rows), table
    assert client_in.get(url(community) + "?table=nope&format=csv").status_code == 404


def test_tier_slice_links_to_the_filtered_member_list(client_in, community):
    response = client_in.get(url(community))
    activity = next(t for t in response.context["tiers"] if t["field"] == "activity_tier")
    label, count, link = next(s for s in activity["slices"] if s[1])
    members = client_in.get(link).context["members"]
    tier = link.rsplit(":", 1)[1]
    expected = set(MemberModel.objects.filter(workspace=community, activity_tier=tier).values_list("member__number", flat=True))
    assert {m.number for m in members} <= expected and len(members) == min(50, count)
    assert client_in.get(url(community, "members") + "?segment=activity_tier:nonsense").status_code == 200


def test_group_figures_page_and_member_reasons(client_in, community):
    group = Group.objects.filter(workspace=community, kind="lead").first()
    response = client_in.get(url(community, "group_analytics", group.pk), HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200 and "Messages by weekday and hour" in response.content.decode()
    csv_rows = client_in.get(url(community, "group_analytics", group.pk) + "?format=csv").content.decode()
    assert csv_rows.count("\n") == len(response.context["series"]) + 1
    model = MemberModel.objects.filter(workspace=community).select_related("member").first()
    page = client_in.get(url(community, "member", model.member.number), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"{model.messages_window} messages in the last 7 days" in page


def test_chart_pages_load_a_plotly_that_draws_their_charts_and_its_locale_in_chinese(client_in, community):
    """Each page with charts loads one vendored bundle, the smallest with every trace its charts draw (never the
    4.8 MB full plotly.min.js), then the zh-CN locale on zh-hans pages only, then charts.js."""
    group = Group.objects.filter(workspace=community, kind="lead").first()
    pages = {url(community): "plotly-finance.min.js", url(community, "group_analytics", group.pk): "plotly-cartesian.min.js"}
    for page, expected in pages.items():
        for language in ("zh-hans", "en"):
            html = client_in.get(page, HTTP_ACCEPT_LANGUAGE=language).content.decode()
            scripts = re.findall(r'<script src="/static/([^"]+)" defer>', html)
            bundles = [b for b in BUNDLES if b.path in scripts]
            assert [b.path for b in bundles] == [f"plotly/{expected}"], (page, scripts)
            drawn = {CHART_TRACES[kind] for kind in re.findall(r'data-chart="([a-z]+)"', html)}
            assert drawn and drawn <= bundles[0].traces
            locale = LOCALES["zh-hans"]
            after = scripts[scripts.index(bundles[0].path) + 1:]
            assert after == ([locale] if language == "zh-hans" else []) + ["console/charts.js"], (page, language, scripts)
    assert client_in.get(url(community, "members")).content.decode().count("plotly") == 0  # no charts, no Plotly


def test_events_page_filters_by_type_group_and_day(client_in, community):
    group = Group.objects.filter(workspace=community, kind="lead").first()
    response = client_in.get(url(community, "events") + f"?type=group.joined&group={group.pk}")
    events = response.context["events"]
    assert events and all(e.type == 302 and e.group_id == group.pk for e in events)
    assert client_in.get(url(community, "events") + "?type=bogus&start=not-a-day").status_code == 200


def test_refresh_on_demand_reads_new_events(client, community, ingest, make_staff):
    from tests.conftest import ev

    client.force_login(make_staff(community, role=Role.OPERATOR))
    ingest([ev("group.joined", "late1", actor="newcomer", group="g-new")], ws=community)
    assert "Update now" in client.get(url(community), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    response = client.post(url(community, "analytics_refresh"), {"next": "https://evil.example/"})
    assert response.status_code == 302 and response.url == url(community)


@pytest.mark.parametrize("language, says", [("en", "Roles that may:"), ("zh-hans", "可以这样做的角色：")])
def test_a_viewer_cannot_refresh_and_is_told_which_role_can(client_in, community, language, says):
    assert "Update now" not in client_in.get(url(community), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    before = Watermark.objects.get(workspace=community).refreshed_at
    response = client_in.post(url(community, "analytics_refresh"), HTTP_ACCEPT_LANGUAGE=language)
    html = response.content.decode()
    assert response.status_code == 403 and says in html and "Forbidden" not in html
    assert ("Operator" if language == "en" else "运营") in html
    assert Watermark.objects.get(workspace=community).refreshed_at == before
