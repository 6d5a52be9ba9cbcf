import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone, translation

from siyu.core.events import EventType
from siyu.core.kinds import SEND_PRIVATE
from siyu.core.models import AuditEntry, Event, OutboxMessage, Role, StaffRole
from siyu.core.roles import RoleRequired
from siyu.core.rebuild import projections_rebuild
from siyu.groups.models import Group
from siyu.groups.handover import handover_preview, handover_run
from siyu.members.leads import my_leads
from siyu.members.owners import member_owner_set
from siyu.members.models import (
    Handover, HandoverKind, Identity, Lead, LeadList, LeadStatus, Member, Segment, SegmentMember,
)
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
    assert handover_preview(workspace=workspace, from_user=leaving) == {"members": 4, "groups": 2, "leads": 0}
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


# -- leads move with the members (15.8) --------------------------------------------------------------
@pytest.fixture
def leads(workspace, people):
    """Open leads of the leaving colleague on members 0-3 (one of them closed), and one on member 4 (not theirs)."""
    leaving, _taking, _admin, members = people
    segment = Segment.objects.create(workspace=workspace, name="all")
    lead_list = LeadList.objects.create(workspace=workspace, name="L", segment=segment, weights={"orders": 1})
    status = [LeadStatus.NEW, LeadStatus.CONTACTED, LeadStatus.WON, LeadStatus.NEW, LeadStatus.NEW]
    return [Lead.objects.create(lead_list=lead_list, member=m, score=1, assigned_to=leaving, status=status[n])
            for n, m in enumerate(members)]


def test_handover_moves_the_open_leads_and_says_so(workspace, people, leads):
    leaving, taking, admin, members = people
    preview = handover_preview(workspace=workspace, from_user=leaving, to_user=taking)
    assert preview == {"members": 4, "groups": 2, "leads": 4}  # every open lead of a leaving colleague's
    handover = handover_run(workspace=workspace, from_user=leaving, to_user=taking, by=admin)
    assert handover.leads == 4
    assert my_leads(workspace=workspace, user=leaving) == []
    assert {lead.pk for lead in my_leads(workspace=workspace, user=taking)} == {
        lead.pk for lead in leads if lead.status != LeadStatus.WON}
    assert Lead.objects.get(pk=leads[2].pk).assigned_to == leaving  # a closed lead stays where it is
    audit = AuditEntry.objects.get(action="handover")
    assert audit.data["leads"] == 4 and audit.data["kind"] == "leaving"
    event = Event.objects.filter(type=EventType.MEMBER_OWNER_CHANGED, data__handover=handover.pk).first()
    assert event.data["via"] == "handover" and event.data["by"] == admin.pk and event.data["handover_kind"] == "leaving"
    staff_event = Event.objects.filter(type=EventType.GROUP_STAFF_CHANGED, data__handover=handover.pk).first()
    assert staff_event.data["via"] == "handover" and staff_event.data["by"] == admin.pk


def test_filtered_handover_moves_only_the_leads_of_its_members(workspace, people, leads):
    leaving, taking, admin, members = people
    handover = handover_run(workspace=workspace, from_user=leaving, to_user=taking, by=admin,
                            filter={"members": [members[0].number, members[2].number]})
    assert (handover.members, handover.leads) == (2, 1)  # member 2's lead is closed
    assert Lead.objects.get(pk=leads[0].pk).assigned_to == taking
    assert Lead.objects.filter(assigned_to=leaving).count() == 4


def test_a_manual_owner_change_says_so(workspace, people):
    _leaving, taking, admin, members = people
    member_owner_set(members=[Member.objects.get(pk=members[4].pk)], owner=taking, by=admin)
    event = Event.objects.filter(type=EventType.MEMBER_OWNER_CHANGED, member=members[4]).get()
    assert event.data["via"] == "manual" and event.data["by"] == admin.pk and event.data["handover"] is None


# -- 在职继承: between active colleagues (15.8) -------------------------------------------------------
def test_transfer_between_active_colleagues_tells_the_members(workspace, people, leads, ingest):
    leaving, taking, admin, members = people
    taking.first_name, taking.last_name = "Bo", "Li"
    taking.save()
    Member.objects.filter(pk=members[3].pk).update(display_name="Dora")
    text = "您好 {name}，之后由 {staff} 为您服务（原 {previous}）"
    selection = {"members": [members[1].number, members[3].number]}
    preview = handover_preview(workspace=workspace, from_user=leaving, to_user=taking, filter=selection,
                               include_groups=False, kind=HandoverKind.ACTIVE, message=text)
    assert (preview["members"], preview["leads"], preview["groups"], preview["told"]) == (2, 2, 0, 2)
    assert preview["sample"] == f"您好 {members[1].display_name}，之后由 Bo Li 为您服务（原 {leaving.username}）"
    run = {"workspace": workspace, "from_user": leaving, "to_user": taking, "by": admin, "filter": selection,
           "include_groups": False, "kind": HandoverKind.ACTIVE, "message": text, "key": "form-1"}
    first = handover_run(**run)
    again = handover_run(**run)  # a double submit
    assert again.pk == first.pk and Handover.objects.count() == 1 and AuditEntry.objects.filter(action="handover").count() == 1
    assert (first.members, first.leads, first.groups, first.told) == (2, 2, 0, 2)
    sent = OutboxMessage.objects.filter(kind=SEND_PRIVATE).order_by("target")
    assert [(m.channel, m.target) for m in sent] == [("simulator", "@p1:example.org"), ("simulator", "@p3:example.org")]
    assert sent[1].payload["text"] == f"您好 Dora，之后由 Bo Li 为您服务（原 {leaving.username}）"
    assert Member.objects.filter(owner=taking).count() == 2 and Group.objects.filter(staff=leaving).count() == 2


def test_transfer_tells_only_members_a_channel_reaches(workspace, people):
    leaving, taking, admin, members = people
    Identity.objects.filter(member=members[0]).update(channel="import")
    handover = handover_run(workspace=workspace, from_user=leaving, to_user=taking, by=admin, kind=HandoverKind.ACTIVE,
                            message="hi {name}")
    assert (handover.members, handover.told) == (4, 3)
    assert OutboxMessage.objects.filter(kind=SEND_PRIVATE).count() == 3


def test_transfer_refusals(workspace, people, make_staff):
    leaving, taking, admin, members = people
    gone = make_staff(workspace)
    StaffRole.objects.filter(user=gone).delete()
    with translation.override("en"):
        with pytest.raises(ValidationError, match="active colleagues needs both"):
            handover_run(workspace=workspace, from_user=gone, to_user=taking, by=admin, kind=HandoverKind.ACTIVE)
        with pytest.raises(RoleRequired):
            handover_run(workspace=workspace, from_user=leaving, to_user=taking, by=taking, kind=HandoverKind.ACTIVE)
        with pytest.raises(ValidationError, match="No member 999"):
            handover_run(workspace=workspace, from_user=leaving, to_user=taking, by=admin, filter={"members": [999]})
        with pytest.raises(ValidationError, match="at most 1000"):
            handover_run(workspace=workspace, from_user=leaving, to_user=taking, by=admin, message="x" * 1001)
    assert not Handover.objects.exists() and Member.objects.filter(owner=leaving).count() == 4


def test_transfer_page_previews_the_message_and_moves_once(client, workspace, people, leads):
    leaving, taking, admin, members = people
    url = reverse("console:handover", args=[workspace.slug])
    client.force_login(admin)
    form = {"kind": "active", "from_user": leaving.pk, "to_user": taking.pk, "numbers": f"{members[0].number}, #{members[1].number}",
            "tell": "on", "message": "Hi {name}, {staff} now", "key": "k-1"}
    with translation.override("en"):
        page = client.post(url, {**form, "preview": "1"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "2 members, 2 open leads and 0 groups will move." in page
        assert "2 of 2 members will be told:" in page and f"Hi {members[0].display_name}, {taking.username} now" in page
        assert not Handover.objects.exists()
        for _ in range(2):
            assert client.post(url, {**form, "confirm": "1"}).status_code == 302
        bad = client.post(url, {**form, "numbers": "12, abc", "preview": "1"}, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "Not a member number: abc." in bad
    assert Handover.objects.get().members == 2 and OutboxMessage.objects.filter(kind=SEND_PRIVATE).count() == 2
    assert Lead.objects.filter(assigned_to=taking).count() == 2
