"""The console's side of staff (issue 15.11): the 员工 badge, "Show staff" on the members list, and marking a
member as staff or not on the member page (operators and up, one event per change)."""
import pytest
from django.urls import reverse
from django.utils import translation

from siyu.core.events import EventType
from siyu.core.models import Event, Role
from siyu.members.models import Member, StaffVia
from tests.conftest import ev

pytestmark = pytest.mark.django_db


@pytest.fixture
def community(ingest, workspace):
    ingest([
        ev("group.joined", "j1", actor="teacher", group="g1", role="owner"),
        ev("group.joined", "j2", actor="ann", group="g1", minutes=1),
    ])
    return workspace


def by_name(workspace, name):
    return Member.objects.get(workspace=workspace, display_name=name)


def test_members_list_hides_staff_until_asked_and_badges_them(client, community, make_staff):
    client.force_login(make_staff(community, role=Role.VIEWER))
    url = reverse("console:members", args=[community.slug])
    with translation.override("zh-hans"):
        page = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        assert "Ann" in page and "Teacher" not in page and "显示员工" in page
        page = client.get(url + "?staff=on", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "Teacher" in page and 'class="badge-staff"' in page and ">员工<" in page


def test_an_operator_marks_a_member_as_staff_and_back(client, community, make_staff):
    ann = by_name(community, "Ann")
    client.force_login(make_staff(community, role=Role.OPERATOR))
    mark = reverse("console:member_staff", args=[community.slug, ann.number])
    for _ in range(2):  # a double submit: one event
        assert client.post(mark, {"staff": "1"}).status_code == 302
    ann.refresh_from_db()
    assert (ann.is_staff, ann.staff_via) == (True, StaffVia.OPERATOR)
    assert Event.objects.filter(type=EventType.MEMBER_STAFF_CHANGED, member=ann).count() == 1
    page = client.get(reverse("console:member", args=[community.slug, ann.number]), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'class="badge-staff"' in page and "Mark as not staff" in page and "Marked by an operator" in page
    client.post(mark, {"staff": "0"})
    ann.refresh_from_db()
    assert (ann.is_staff, ann.staff_via) == (False, StaffVia.OPERATOR)


def test_viewers_cannot_mark_staff_nor_see_the_button(client, community, make_staff):
    ann = by_name(community, "Ann")
    client.force_login(make_staff(community, role=Role.VIEWER))
    page = client.get(reverse("console:member", args=[community.slug, ann.number])).content.decode()
    assert "Mark as staff" not in page and "标记为员工" not in page
    assert client.post(reverse("console:member_staff", args=[community.slug, ann.number]), {"staff": "1"}).status_code == 403
    ann.refresh_from_db()
    assert not ann.is_staff
