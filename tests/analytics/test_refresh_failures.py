"""One workspace's bad data stops only its own figures (issue 14.3): recorded on its dashboard, the others carry on."""
from datetime import date, datetime
from datetime import timezone as dt_timezone

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from siyu.analytics.models import Watermark
from siyu.analytics.rollups import rollups_refresh_recorded
from siyu.analytics.tasks import refresh_all_periodically
from siyu.core.events import EventType
from siyu.core.models import Event, Role
from siyu.groups.models import GroupDailyStats
from tests.conftest import ev


@pytest.fixture
def broken(ingest, make_workspace):
    """A workspace holding an event from year 1, stored before ingest bounded timestamps."""
    workspace = make_workspace()
    ingest([ev("group.joined", 1, actor="ann", group="g1")], ws=workspace)
    Event.objects.create(workspace=workspace, type=EventType.GROUP_MESSAGE, source="simulator", source_id="old",
                         occurred_at=datetime(1, 1, 1, tzinfo=dt_timezone.utc), recorded_at=timezone.now(),
                         group=workspace.groups.get(), member=workspace.members.get(), data={"text": "hi"})
    # and its daily counter, as ingest's projection wrote it then
    GroupDailyStats.objects.create(workspace=workspace, group=workspace.groups.get(), day=date(1, 1, 1), messages=1)
    return workspace


def test_the_periodic_refresh_records_a_failure_and_carries_on(broken, ingest, make_workspace):
    healthy = make_workspace()
    ingest([ev("group.joined", 1, actor="bob", group="g1")], ws=healthy)
    refresh_all_periodically.call_local()
    assert Watermark.objects.get(workspace=healthy).refreshed_at is not None
    failed = Watermark.objects.get(workspace=broken)
    assert failed.failed_at is not None and "OverflowError" in failed.failure
    assert rollups_refresh_recorded(workspace=healthy) is not None
    assert Watermark.objects.get(workspace=healthy).failed_at is None


def test_the_dashboard_shows_the_failure_and_update_now_never_500s(client, broken, make_staff):
    client.force_login(make_staff(broken, role=Role.OPERATOR))
    dashboard = reverse("console:dashboard", args=[broken.slug])
    response = client.post(reverse("console:analytics_refresh", args=[broken.slug]), HTTP_ACCEPT_LANGUAGE="en", follow=True)
    assert response.status_code == 200 and response.redirect_chain[0][0] == dashboard
    html = response.content.decode()
    assert "The figures could not be updated" in html
    with translation.override("zh-hans"):
        html = client.get(dashboard, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "数据未能更新" in html
