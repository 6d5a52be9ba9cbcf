"""Who is in charge of a group: one write path, group.staff_changed events and their projection."""
import pytest
from django.core.exceptions import ValidationError

from siyu.core.events import EventType
from siyu.core.models import AuditEntry, Event, Role
from siyu.core.rebuild import projections_rebuild
from siyu.groups.handover import handover_run
from siyu.groups.models import Group
from siyu.groups.services import group_staff_set
from tests.conftest import ev


@pytest.fixture
def groups(workspace, ingest):
    ingest([ev("group.joined", n, actor=f"p{n}", group=f"g{n}") for n in range(3)])
    return list(Group.objects.filter(workspace=workspace).order_by("pk"))


def test_staff_changes_are_events_projected_onto_the_group(workspace, groups, make_staff):
    operator, sales = make_staff(workspace, Role.OPERATOR), make_staff(workspace, Role.SALES)
    assert group_staff_set(groups=groups[:2], staff=sales, by=operator) == 2
    assert group_staff_set(groups=[Group.objects.get(pk=groups[0].pk)], staff=sales, by=operator) == 0  # no change
    events = Event.objects.filter(type=EventType.GROUP_STAFF_CHANGED).order_by("pk")
    assert [(e.group_id, e.source, e.data["staff"], e.data["previous"], e.data["by"]) for e in events] == [
        (groups[0].pk, "siyu", sales.pk, None, operator.pk), (groups[1].pk, "siyu", sales.pk, None, operator.pk)]
    assert set(Group.objects.filter(staff=sales).values_list("pk", flat=True)) == {groups[0].pk, groups[1].pk}
    assert AuditEntry.objects.filter(action="group_staff").count() == 2

    Group.objects.update(staff=None)
    projections_rebuild(workspace=workspace)  # the ledger is the truth
    assert Group.objects.filter(staff=sales).count() == 2


def test_staff_must_have_a_role_in_the_workspace(workspace, groups, make_staff, make_workspace):
    with pytest.raises(ValidationError):
        group_staff_set(groups=groups, staff=make_staff(make_workspace()))
    assert not Event.objects.filter(type=EventType.GROUP_STAFF_CHANGED).exists()


def test_a_handover_moves_groups_through_the_one_service(workspace, groups, make_staff):
    leaving, taking, admin = make_staff(workspace), make_staff(workspace, Role.SALES), make_staff(workspace, Role.ADMIN)
    group_staff_set(groups=groups, staff=leaving, by=admin)
    handover = handover_run(workspace=workspace, from_user=leaving, to_user=taking, by=admin)
    assert handover.groups == 3 and Group.objects.filter(staff=taking).count() == 3
    moved = Event.objects.filter(type=EventType.GROUP_STAFF_CHANGED, data__handover=handover.pk)
    assert sorted(moved.values_list("group_id", flat=True)) == [g.pk for g in groups]
    assert AuditEntry.objects.filter(action="group_staff", data__handover=handover.pk).count() == 3
