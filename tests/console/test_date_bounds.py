"""Days and moments outside 2000-01-01 … 2099-12-31 are refused with a message, never a 500 (issue 14.3)."""
import pytest
from django.urls import reverse
from django.utils import translation

from siyu.core.models import Role
from tests.conftest import ev

FAR = ["0001-01-01", "9999-12-30", "9999-12-31", "1999-12-31", "2100-01-01"]


@pytest.fixture
def operator(client, ingest, workspace, make_staff):
    ingest([ev("group.joined", 1, actor="ann", group="g1")])
    client.force_login(make_staff(workspace, role=Role.OPERATOR))
    return client


@pytest.mark.parametrize("day", FAR)
def test_the_dashboard_refuses_a_far_day(operator, workspace, day):
    dashboard = reverse("console:dashboard", args=[workspace.slug])
    for query in (f"?period=custom&start={day}&end=2026-01-10", f"?period=custom&start=2026-01-01&end={day}",
                  f"?period=custom&start={day}&end={day}", f"?period=custom&start={day}&end={day}&table=groups&format=csv"):
        response = operator.get(dashboard + query, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200, query
        if "table" not in query:
            assert "Choose a day from 2000-01-01 to 2099-12-31." in response.content.decode(), query
    group = workspace.groups.get()
    figures = reverse("console:group_analytics", args=[workspace.slug, group.pk])
    assert operator.get(figures + f"?period=custom&start={day}&end={day}").status_code == 200


@pytest.mark.parametrize("day", FAR)
def test_the_events_page_refuses_a_far_day(operator, workspace, day):
    events = reverse("console:events", args=[workspace.slug])
    for query in (f"?start={day}", f"?end={day}"):
        response = operator.get(events + query, HTTP_ACCEPT_LANGUAGE="en")
        assert response.status_code == 200 and "Choose a day from 2000-01-01 to 2099-12-31." in response.content.decode()
    with translation.override("zh-hans"):
        html = operator.get(events + f"?start={day}", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "2000-01-01" in html and "请选择" in html


@pytest.mark.parametrize("moment", ["0001-01-01T00:00", "9999-12-31T23:59"])
def test_link_and_announcement_times_are_bounded(operator, workspace, moment):
    response = operator.post(reverse("console:link_new", args=[workspace.slug]),
                             {"target": "https://example.com/", "valid_until": moment}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code in (200, 400) and "Choose a day from 2000-01-01 to 2099-12-31." in response.content.decode()
    group = workspace.groups.get()
    response = operator.post(reverse("console:group_bot", args=[workspace.slug, group.pk]) + "announcements/new/",
                             {"text": "x", "when": "at", "at": moment, "repeat": "none"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400 and "Choose a day from 2000-01-01 to 2099-12-31." in response.content.decode()
