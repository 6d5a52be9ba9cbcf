"""Out-of-range numbers in forms are refused with a reason, never a 500 (issue 14.7)."""
import json

import pytest
from django.test import Client

from siyu.core.models import Role
from siyu.groups.models import Group
from siyu.links.models import Link
from siyu.links.services import channel_code_create
from siyu.members.segments import segment_create
from tests.groups.helpers import join

HUGE = [9223372036854775808, 10**30, 99999999999999999999]


@pytest.fixture
def owner(workspace, make_staff, ingest):
    ingest([join("ann")])
    client = Client(HTTP_ACCEPT_LANGUAGE="en", raise_request_exception=False)
    client.force_login(make_staff(workspace, Role.OWNER))
    return client


def refused(response, *words):
    assert response.status_code < 500, response.status_code
    html = response.content.decode()
    assert any(word in html for word in words), html[:3000]


@pytest.mark.parametrize("condition", [{"group": HUGE[0]}, {"owner": HUGE[1]}, {"tag": HUGE[2]},
                                       {"count": "messages", "days": 7, "op": "gte", "value": 1e308}])
def test_segment_preview_and_new_refuse_a_huge_id(owner, workspace, condition):
    body = {"mode": "json", "json": json.dumps(condition), "name": "big"}
    refused(owner.post(f"/w/{workspace.slug}/segments/preview/", body), "range", "No such", "not", "Unknown")
    refused(owner.post(f"/w/{workspace.slug}/segments/new/", body), "range", "No such", "not", "Unknown")


@pytest.mark.parametrize("value", ["99999999999999999999", "1e308", "[1]", "-5", "abc"])
def test_group_staff_refuses_an_odd_staff_id(owner, workspace, value):
    group = Group.objects.get(workspace=workspace)
    response = owner.post(f"/w/{workspace.slug}/groups/{group.pk}/staff/", {"staff": value}, follow=True)
    refused(response, "Choose a staff member of this workspace.")


def test_lead_weights_refuse_a_huge_tag_id(owner, workspace):
    segment = segment_create(workspace=workspace, name="all", filter={"all": []})
    body = {"name": "x", "segment": segment.pk, "weights": json.dumps({f"tag:{HUGE[1]}": 5}), "assignment": "round_robin"}
    refused(owner.post(f"/w/{workspace.slug}/leads/", body), "tag")


@pytest.mark.parametrize("value", [str(HUGE[0]), str(HUGE[1])])
def test_a_link_refuses_a_huge_max_visits(owner, workspace, value):
    body = {"target_url": "https://example.com/", "max_visits": value}
    refused(owner.post(f"/w/{workspace.slug}/links/new/", body), "less than or equal")
    assert not Link.objects.filter(workspace=workspace).exists()


@pytest.mark.parametrize("field", ["capacity", "weight", "daily_cap"])
def test_a_code_target_refuses_huge_numbers(owner, workspace, field):
    code = channel_code_create(workspace=workspace, name="c")
    body = {"url": "https://example.com/join", "capacity": "", "weight": "1", "daily_cap": "", field: str(HUGE[0])}
    refused(owner.post(f"/w/{workspace.slug}/codes/{code.pk}/targets/new/", body, follow=True), "less than or equal")
