"""Who is in charge of a group: set on the group page, moved by a handover."""
import pytest
from django.urls import reverse
from django.utils import translation

from siyu.core.models import AuditEntry, Role
from siyu.groups.models import Group
from siyu.groups.handover import handover_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def group(workspace):
    return Group.objects.create(workspace=workspace, channel="simulator", external_id="!g:example.org", name="奥数1群")


def test_an_operator_puts_a_colleague_in_charge_and_a_handover_moves_it(client, workspace, group, make_staff):
    operator, colleague, successor = (make_staff(workspace, role) for role in (Role.OPERATOR, Role.SALES, Role.SALES))
    client.force_login(operator)
    url = reverse("console:group_staff", args=[workspace.slug, group.pk])
    assert client.post(url, {"staff": colleague.pk}).status_code == 302
    group.refresh_from_db()
    assert group.staff == colleague
    assert AuditEntry.objects.get(action="group_staff").data == {"previous": None, "staff": colleague.pk}
    page = client.get(reverse("console:group", args=[workspace.slug, group.pk])).content.decode()
    assert f'value="{colleague.pk}" selected' in page

    admin = make_staff(workspace, Role.ADMIN)  # a handover is an owner's or admin's
    handover = handover_run(workspace=workspace, from_user=colleague, to_user=successor, by=admin)
    group.refresh_from_db()
    assert (group.staff, handover.groups) == (successor, 1)


def test_only_staff_of_the_workspace_and_only_operators(client, workspace, group, make_staff, make_workspace):
    stranger = make_staff(make_workspace(), Role.OPERATOR)
    client.force_login(make_staff(workspace, Role.OPERATOR))
    url = reverse("console:group_staff", args=[workspace.slug, group.pk])
    with translation.override("en"):
        response = client.post(url, {"staff": stranger.pk}, follow=True, HTTP_ACCEPT_LANGUAGE="en")
    assert "Choose a staff member of this workspace." in response.content.decode()
    assert Group.objects.get(pk=group.pk).staff is None
    client.force_login(make_staff(workspace, Role.VIEWER))
    assert client.post(url, {"staff": ""}).status_code == 403
