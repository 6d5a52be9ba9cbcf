import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone, translation

from siyu.core.events import EventType
from siyu.core.models import AuditEntry, Event, Role
from siyu.core.rebuild import projections_rebuild
from siyu.groups.models import Group
from siyu.groups.handover import handover_preview, handover_run
from siyu.members.owners import member_owner_set
from siyu.members.models import Handover, Member, Segment, SegmentMember
from tests.conftest import ev


@pytest.fixture
def people(workspace, ingest, make_staff):
    ingest([ev("group.joined", n, actor=f"p{n}", group="g1" if n < 3 else "g2", minutes=n) for n in range(5)])
    leaving, taking, admin = make_staff(workspace), make_staff(workspace, Role.SALES), make_staff(workspace, Role.ADMIN)
    members = list(Member.objects.filter(workspace=workspace).order_by("number"))
    member_owner_set(members=members[:4], owner=leaving, by=admin)
    Group.objects.filter(workspace=workspace).update(staff=leaving)
    return leaving, taking, admin, members


def test_owner_set_records_events_and_projects(workspace, people):
    leaving, taking, admin, members = people
    assert Member.objects.filter(owner=leaving).count() == 4
    event = Event.objects.filter(type=EventType.MEMBER_OWNER_CHANGED, member=members[0]).get()
    assert event.source == "siyu"
    assert event.data["owner"] == leaving.pk and event.data["previous"] is None and event.data["handover"] is None
    assert member_owner_set(members=[Member.objects.get(pk=members[0].pk)], owner=leaving, by=admin) == 0  # no change
    member_owner_set(members=[Member.objects.get(pk=members[0].pk)], owner=None, by=admin)
    assert Member.objects.get(pk=members[0].pk).owner is None
    projections_rebuild(workspace=workspace)
    assert Member.objects.filter(owner=leaving).count() == 3


def test_owner_must_have_a_role(workspace, people, make_staff, make_workspace):
    _leaving, _taking, admin, members = people
    with pytest.raises(ValidationError):
        member_owner_set(members=members[:1], owner=make_staff(make_workspace()), by=admin)


def test_handover_moves_members_and_groups_audited(workspace, people):
    leaving, taking, admin, members = people
    assert handover_preview(workspace=workspace, from_user=leaving) == {"members": 4, "groups": 2}
    handover = handover_run(workspace=workspace, from_user=leaving, to_user=taking, by=admin)
    assert (handover.members, handover.groups) == (4, 2)
    assert Member.objects.filter(owner=taking).count() == 4 and not Member.objects.filter(owner=leaving).exists()
    assert set(Group.objects.values_list("staff", flat=True)) == {taking.pk}
    audit = AuditEntry.objects.get(action="handover")
    assert audit.user == admin and audit.data["members"] == 4 and audit.subject == f"handover:{handover.pk}"
    events = Event.objects.filter(type=EventType.MEMBER_OWNER_CHANGED, data__handover=handover.pk)
    assert events.count() == 4 and all(e.data["previous"] == leaving.pk for e in events)


def test_handover_filtered_by_segment(workspace, people):
    leaving, taking, admin, members = people
    segment = Segment.objects.create(workspace=workspace, name="s")
    SegmentMember.objects.bulk_create([SegmentMember(segment=segment, member=m, since=timezone.now()) for m in members[:2]])
    handover = handover_run(workspace=workspace, from_user=leaving, to_user=taking, by=admin,
                            filter={"segment": segment.pk}, include_groups=False)
    assert handover.members == 2 and handover.groups == 0
    assert Member.objects.filter(owner=leaving).count() == 2
    assert Group.objects.filter(staff=leaving).count() == 2


def test_handover_by_groups_moves_only_those(workspace, people):
    leaving, taking, admin, _members = people
    g1 = Group.objects.get(name="Group g1")
    handover = handover_run(workspace=workspace, from_user=leaving, to_user=taking, by=admin, filter={"groups": [g1.pk]})
    assert (handover.members, handover.groups) == (3, 1)
    assert Group.objects.get(pk=g1.pk).staff == taking


def test_handover_refusals(workspace, people, make_staff, make_workspace):
    leaving, _taking, admin, _members = people
    with translation.override("en"):
        with pytest.raises(ValidationError, match="two different"):
            handover_run(workspace=workspace, from_user=leaving, to_user=leaving, by=admin)
        with pytest.raises(ValidationError, match="no role"):
            handover_run(workspace=workspace, from_user=leaving, to_user=make_staff(make_workspace()), by=admin)
        with pytest.raises(ValidationError, match="No segment"):
            handover_run(workspace=workspace, from_user=leaving, to_user=admin, by=admin, filter={"segment": 999})
    assert not Handover.objects.exists()


def test_handover_failing_midway_changes_nothing(workspace, people, monkeypatch):
    leaving, taking, admin, _members = people
    events_before = Event.objects.count()

    def refuse(**kwargs):
        raise RuntimeError("disk full")

    # The audit row is written last: failing there must undo the events, owners, groups and Handover.
    monkeypatch.setattr(AuditEntry.objects, "create", refuse)
    with pytest.raises(RuntimeError):
        handover_run(workspace=workspace, from_user=leaving, to_user=taking, by=admin)
    assert Member.objects.filter(owner=leaving).count() == 4
    assert set(Group.objects.values_list("staff", flat=True)) == {leaving.pk}
    assert Event.objects.count() == events_before and not Handover.objects.exists()


def test_handover_command(workspace, people, capsys):
    leaving, taking, _admin, _members = people
    call_command("handover", "--workspace", workspace.slug, "--from", leaving.username, "--to", taking.username, "--dry-run")
    assert "4 members" in capsys.readouterr().out and Member.objects.filter(owner=leaving).count() == 4
    call_command("handover", "--workspace", workspace.slug, "--from", leaving.username, "--to", taking.username)
    assert Member.objects.filter(owner=taking).count() == 4 and Handover.objects.count() == 1


def test_handover_page_admin_only(client, workspace, people):
    leaving, taking, admin, _members = people
    url = reverse("console:handover", args=[workspace.slug])
    client.force_login(taking)
    assert client.get(url).status_code == 403
    client.force_login(admin)
    with translation.override("en"):
        preview = client.post(url, {"from_user": leaving.pk, "to_user": taking.pk, "preview": "1"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "4 members" in preview and not Handover.objects.exists()
        response = client.post(url, {"from_user": leaving.pk, "to_user": taking.pk, "confirm": "1"})
    assert response.status_code == 302 and Handover.objects.get().members == 4
    assert leaving.username in client.get(url).content.decode()


def test_member_page_owner_change(client, workspace, people, make_staff):
    leaving, taking, admin, members = people
    url = reverse("console:member_owner", args=[workspace.slug, members[0].number])
    client.force_login(make_staff(workspace, Role.SALES))
    assert client.post(url, {"owner": taking.pk}).status_code == 403
    client.force_login(admin)
    assert client.post(url, {"owner": taking.pk}).status_code == 302
    assert Member.objects.get(pk=members[0].pk).owner == taking
    page = client.get(reverse("console:member", args=[workspace.slug, members[0].number])).content.decode()
    assert taking.username in page
