"""Bulk actions on the members list (members.bulk): tags and their undo, owners, lead lists, exports."""
import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from siyu.core.events import EventType
from siyu.core.models import AuditEntry, Event, Role
from siyu.core.roles import RoleRequired
from siyu.members import bulk
from siyu.members.bulk import Selection, bulk_export, bulk_lead_add, bulk_owner_set, bulk_tag, bulk_undo, bulk_untag
from siyu.members.leads import leadlist_build, leadlist_create
from siyu.members.models import BulkAction, Lead, Member, MemberTag, Segment, TagChoice, TagVia
from siyu.members.selectors import member_list_matching
from siyu.members.tags import tag_create, tag_group_create, tags_apply
from tests.conftest import ev


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):  # the messages are matched in English
        yield


@pytest.fixture
def crowd(workspace, ingest, make_staff):
    ingest([ev("group.joined", n, actor=f"p{n}", group="g1", minutes=n) for n in range(6)])
    members = list(Member.objects.filter(workspace=workspace).order_by("number"))
    return make_staff(workspace), members


def _tags(member):
    return set(MemberTag.objects.filter(member=member).values_list("tag__name", flat=True))


def test_tag_gives_the_tag_once_audited_and_undo_restores_exactly(workspace, crowd):
    operator, members = crowd
    vip = tag_create(workspace=workspace, name="VIP")
    tags_apply(workspace=workspace, pairs=[(members[0].pk, vip.pk)], via=TagVia.MANUAL)  # had it already
    picked = Selection(numbers=tuple(m.number for m in members[:3]))

    action = bulk_tag(workspace=workspace, selection=picked, tag_ids=[vip.pk], by=operator, key="k1")
    again = bulk_tag(workspace=workspace, selection=picked, tag_ids=[vip.pk], by=operator, key="k1")  # a double submit

    assert again.pk == action.pk and BulkAction.objects.count() == 1
    assert (action.selected, action.changed) == (3, 2)
    assert sorted(m for m, _t in action.changes["given"]) == [members[1].pk, members[2].pk]
    events = Event.objects.filter(type=EventType.MEMBER_TAGGED, data__tag=vip.pk)
    assert events.count() == 3 and events.filter(data__by=operator.pk).count() == 2
    audit = AuditEntry.objects.get(action="bulk_tag")
    assert audit.user == operator and audit.subject == f"bulk:{action.pk}"
    assert audit.data["selected"] == 3 and audit.data["changed"] == 2 and audit.data["tags"] == [vip.pk]
    assert audit.data["selection"] == {"numbers": [m.number for m in members[:3]]}

    assert bulk_undo(action=action, by=operator) == 2
    assert [("VIP" in _tags(m)) for m in members[:3]] == [True, False, False]  # the one who had it keeps it
    assert AuditEntry.objects.get(action="bulk_undo").data["restored"] == 2
    with pytest.raises(ValidationError, match="already undone"):
        bulk_undo(action=BulkAction.objects.get(pk=action.pk), by=operator)
    assert Event.objects.filter(type=EventType.MEMBER_UNTAGGED).count() == 2


def test_undo_gives_back_what_a_single_choice_group_took(workspace, crowd):
    operator, members = crowd
    level = tag_group_create(workspace=workspace, name="消费能力", choice=TagChoice.SINGLE)
    high, low = tag_create(workspace=workspace, name="高", group=level), tag_create(workspace=workspace, name="低", group=level)
    tags_apply(workspace=workspace, pairs=[(members[0].pk, low.pk)], via=TagVia.MANUAL)
    action = bulk_tag(workspace=workspace, selection=Selection(numbers=(members[0].number, members[1].number)),
                      tag_ids=[high.pk], by=operator)
    assert _tags(members[0]) == {"高"} and action.changes["taken"] == [[members[0].pk, low.pk]]
    bulk_undo(action=action, by=operator)
    assert _tags(members[0]) == {"低"} and _tags(members[1]) == set()


def test_untag_and_its_undo(workspace, crowd):
    operator, members = crowd
    old = tag_create(workspace=workspace, name="旧活动")
    tags_apply(workspace=workspace, pairs=[(m.pk, old.pk) for m in members[:2]], via=TagVia.MANUAL)
    everyone = Selection(members=member_list_matching(workspace=workspace), filter="", expected=len(members))
    action = bulk_untag(workspace=workspace, selection=everyone, tag_ids=[old.pk], by=operator, key="u")
    assert (action.selected, action.changed) == (6, 2) and not MemberTag.objects.exists()
    assert AuditEntry.objects.get(action="bulk_untag").data["selection"] == {"all": True, "filter": ""}
    assert bulk_undo(action=action, by=operator) == 2
    assert set(MemberTag.objects.values_list("member_id", flat=True)) == {members[0].pk, members[1].pk}


def test_only_the_latest_bulk_tag_change_can_be_undone(workspace, crowd):
    operator, members = crowd
    vip = tag_create(workspace=workspace, name="VIP")
    first = bulk_tag(workspace=workspace, selection=Selection(numbers=(members[0].number,)), tag_ids=[vip.pk], by=operator)
    bulk_untag(workspace=workspace, selection=Selection(numbers=(members[1].number,)), tag_ids=[vip.pk], by=operator)
    assert bulk.bulk_undoable(workspace=workspace) is not None
    with pytest.raises(ValidationError, match="latest"):
        bulk_undo(action=first, by=operator)
    assert _tags(members[0]) == {"VIP"}


def test_the_filter_is_evaluated_again_and_must_match_the_count_confirmed(workspace, crowd, ingest):
    operator, members = crowd
    vip = tag_create(workspace=workspace, name="VIP")
    shown = Selection(members=member_list_matching(workspace=workspace), filter="", expected=len(members))
    ingest([ev("group.joined", 9, actor="late", group="g1", minutes=30)])  # one more since the list was shown
    with pytest.raises(ValidationError, match="now matches 7 members, not the 6"):
        bulk_tag(workspace=workspace, selection=shown, tag_ids=[vip.pk], by=operator)
    assert not MemberTag.objects.exists() and not BulkAction.objects.exists() and not AuditEntry.objects.exists()


@pytest.mark.parametrize("selection, tag, message", [
    (Selection(), "ok", "Select at least one member"),
    (Selection(numbers=(1, 424242)), "ok", "No member #424242 in this workspace"),
    (Selection(numbers=(1,)), "gone", "no such tag"),
    (Selection(numbers=(1,)), "none", "at least one tag"),
])
def test_bad_input_is_refused_and_nothing_is_written(workspace, crowd, selection, tag, message):
    operator, _members = crowd
    vip = tag_create(workspace=workspace, name="VIP")
    tag_ids = {"ok": [vip.pk], "gone": [vip.pk + 1000], "none": []}[tag]
    with pytest.raises(ValidationError, match=message):
        bulk_tag(workspace=workspace, selection=selection, tag_ids=tag_ids, by=operator)
    assert not MemberTag.objects.exists() and not BulkAction.objects.exists() and not AuditEntry.objects.exists()


def test_a_member_of_another_workspace_cannot_be_selected(workspace, crowd, make_workspace, ingest):
    operator, members = crowd
    other = make_workspace()
    ingest([ev("group.joined", 1, actor="stranger", group="g9")], ws=other)
    stranger = Member.objects.get(workspace=other)
    vip = tag_create(workspace=workspace, name="VIP")
    # Their queryset is narrowed to this workspace too.
    theirs = Selection(members=Member.objects.filter(pk=stranger.pk))
    with pytest.raises(ValidationError, match="No member matches"):
        bulk_tag(workspace=workspace, selection=theirs, tag_ids=[vip.pk], by=operator)
    stranger.number = 9999
    Member.objects.filter(pk=stranger.pk).update(number=9999)
    with pytest.raises(ValidationError, match="No member #9999"):
        bulk_tag(workspace=workspace, selection=Selection(numbers=(9999,)), tag_ids=[vip.pk], by=operator)
    assert not MemberTag.objects.exists()


def test_a_selection_over_the_limit_is_refused(workspace, crowd, monkeypatch):
    operator, members = crowd
    monkeypatch.setattr(bulk, "BULK_LIMIT", 5)
    vip = tag_create(workspace=workspace, name="VIP")
    with pytest.raises(ValidationError, match="At most 5 members at once; 6 are selected"):
        bulk_tag(workspace=workspace, selection=Selection(members=member_list_matching(workspace=workspace)),
                 tag_ids=[vip.pk], by=operator)
    assert not MemberTag.objects.exists()


@pytest.mark.parametrize("role", [Role.SALES, Role.VIEWER])
def test_sales_and_viewers_are_refused_by_the_service(workspace, crowd, make_staff, role):
    _operator, members = crowd
    user = make_staff(workspace, role)
    vip = tag_create(workspace=workspace, name="VIP")
    picked = Selection(numbers=(members[0].number,))
    with pytest.raises(RoleRequired):
        bulk_tag(workspace=workspace, selection=picked, tag_ids=[vip.pk], by=user)
    with pytest.raises(RoleRequired):
        bulk_owner_set(workspace=workspace, selection=picked, owner=user, by=user)
    with pytest.raises(RoleRequired):
        bulk_export(workspace=workspace, selection=picked, fmt="csv", by=user)
    assert not MemberTag.objects.exists() and not BulkAction.objects.exists()


def test_contacts_unmasked_need_an_owner_or_admin(workspace, crowd, make_staff):
    operator, members = crowd
    picked = Selection(numbers=(members[0].number,))
    with pytest.raises(RoleRequired):
        bulk_export(workspace=workspace, selection=picked, fmt="csv", by=operator, with_contacts=True)
    action = bulk_export(workspace=workspace, selection=picked, fmt="xlsx", by=make_staff(workspace, Role.ADMIN),
                         with_contacts=True)
    assert action.changes == {"members": [members[0].pk]} and action.detail == {"format": "xlsx", "with_contacts": True}


def test_owner_set_writes_the_single_change_events(workspace, crowd, make_staff, make_workspace):
    operator, members = crowd
    sales = make_staff(workspace, Role.SALES)
    picked = Selection(numbers=tuple(m.number for m in members[:4]))
    action = bulk_owner_set(workspace=workspace, selection=picked, owner=sales, by=operator, key="o")
    bulk_owner_set(workspace=workspace, selection=picked, owner=sales, by=operator, key="o")
    assert action.changed == 4 and Member.objects.filter(owner=sales).count() == 4
    events = Event.objects.filter(type=EventType.MEMBER_OWNER_CHANGED)
    assert events.count() == 4 and all(e.data["by"] == operator.pk and e.data["via"] == "manual" for e in events)
    assert AuditEntry.objects.get(action="bulk_owner").data["owner"] == sales.pk
    stranger = make_staff(make_workspace())
    with pytest.raises(ValidationError) as refused:
        bulk_owner_set(workspace=workspace, selection=picked, owner=stranger, by=operator)
    assert list(refused.value.message_dict) == ["owner"]
    assert Member.objects.filter(owner=sales).count() == 4


def test_lead_list_add_keeps_the_members_at_rebuild(workspace, crowd, make_staff):
    operator, members = crowd
    sales = make_staff(workspace, Role.SALES)
    segment = Segment.objects.create(workspace=workspace, name="nobody", filter={"messages": {"op": ">=", "value": 99, "days": 7}})
    lead_list = leadlist_create(workspace=workspace, name="手动", segment=segment, weights={"messages_30d": 1},
                                staff=[sales], by=operator)
    picked = Selection(numbers=tuple(m.number for m in members[:3]))
    action = bulk_lead_add(workspace=workspace, selection=picked, lead_list=lead_list, by=operator, key="l")
    assert action.changed == 3 and Lead.objects.filter(lead_list=lead_list, assigned_to=sales, manual=True).count() == 3
    again = bulk_lead_add(workspace=workspace, selection=Selection(numbers=(members[0].number, members[3].number)),
                          lead_list=lead_list, by=operator)
    assert again.changed == 1  # the one already in it is skipped
    leadlist_build(lead_list=lead_list)  # the segment holds nobody: hand-added leads stay
    assert Lead.objects.filter(lead_list=lead_list).count() == 4
    assert AuditEntry.objects.filter(action="bulk_lead_list").count() == 2
