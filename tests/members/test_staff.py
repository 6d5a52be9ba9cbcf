"""Staff are not members (issue 15.11): group owners and admins, the bot's account and members an operator
marks are staff, and member lists, counts, segments, tag rules, lead lists, tiers and member figures leave
them out unless asked ({"staff": true})."""
from datetime import timedelta

import pytest
from django.utils import timezone

from siyu.analytics.cohorts import lifecycle_funnel, retention_triangle
from siyu.analytics.models import GroupDay, MemberModel, WorkspaceDay
from siyu.analytics.rollups import rollups_rebuild, rollups_refresh
from siyu.core.events import EventType
from siyu.core.ingest import events_ingest
from siyu.core.models import Event, Role
from siyu.core.rebuild import projections_rebuild
from siyu.core.roles import RoleRequired
from siyu.groups.selectors import group_counts, group_list
from siyu.members.filters import filter_preview
from siyu.members.leads import leadlist_build, leadlist_create
from siyu.members.models import Identity, Lead, Member, MemberTag, SegmentMember, StaffVia
from siyu.members.segments import segment_create
from siyu.members.selectors import member_count, member_list
from siyu.members.staff import member_staff_identities_mark, member_staff_set
from siyu.members.tag_rules import tag_rule_create
from siyu.members.tags import tag_create
from tests.members.test_segments import raw

pytestmark = pytest.mark.django_db


def member(workspace, actor):
    return Member.objects.get(pk=Identity.objects.get(workspace=workspace, external_id=f"@{actor}:example.org").member_id)


@pytest.fixture
def community(workspace):
    """A group with its teacher (owner), an assistant (admin, 助教) and two members who talk."""
    events_ingest(workspace=workspace, source="simulator", events=[
        raw("group.joined", "teacher", ago=timedelta(days=2), role="owner"),
        raw("group.joined", "assistant", ago=timedelta(days=2), role="admin"),
        raw("group.joined", "ann", ago=timedelta(days=2)),
        raw("group.joined", "bob", ago=timedelta(days=2)),
        *(raw("group.message", who, ago=timedelta(days=1)) for who in ("teacher", "assistant", "assistant", "ann", "bob")),
    ])
    return workspace


def names(members):
    return {m.display_name for m in members}


def test_group_owners_and_admins_are_marked_staff_by_ingest(community):
    assert {m.display_name: (m.is_staff, m.staff_via) for m in Member.objects.filter(workspace=community)} == {
        "teacher": (True, StaffVia.GROUP_ROLE), "assistant": (True, StaffVia.GROUP_ROLE),
        "ann": (False, ""), "bob": (False, ""),
    }
    # A KOC is a member; an admin demoted to a member is no staff any more; a member made admin is.
    events_ingest(workspace=community, source="simulator", events=[
        raw("group.role_changed", "ann", role="koc"), raw("group.role_changed", "assistant", role="member"),
        raw("group.role_changed", "bob", role="admin"),
    ])
    assert {m.display_name for m in Member.objects.filter(workspace=community, is_staff=True)} == {"teacher", "bob"}


def test_an_admin_in_another_group_stays_staff_when_demoted_in_one(community):
    events_ingest(workspace=community, source="simulator", events=[raw("group.joined", "assistant", group="g2", role="admin")])
    events_ingest(workspace=community, source="simulator", events=[raw("group.role_changed", "assistant", role="member")])
    assert member(community, "assistant").is_staff


def test_members_list_and_count_leave_staff_out_unless_asked(community):
    page, _next = member_list(workspace=community)
    assert names(page) == {"ann", "bob"}
    assert member_count(workspace=community) == 2
    page, _next = member_list(workspace=community, with_staff=True)
    assert names(page) == {"teacher", "assistant", "ann", "bob"}
    assert member_count(workspace=community, with_staff=True) == 4


def test_segment_preview_count_and_live_list_leave_staff_out(community):
    talkers = {"count": "messages", "op": "gte", "value": 1}
    count, first = filter_preview(workspace=community, filter=talkers)
    assert (count, names(first)) == (2, {"ann", "bob"})
    count, first = filter_preview(workspace=community, filter={"all": [talkers, {"staff": True}]})
    assert (count, names(first)) == (2, {"teacher", "assistant"})
    count, _first = filter_preview(workspace=community, filter={"staff": False})
    assert count == 2

    segment = segment_create(workspace=community, name="talkers", filter=talkers)
    on_list = set(SegmentMember.objects.filter(segment=segment).values_list("member__display_name", flat=True))
    assert on_list == {"ann", "bob"}
    # Marked as staff later: the member leaves the live list in the same ingest transaction.
    member_staff_set(member=member(community, "bob"), staff=True, by=None)
    on_list = set(SegmentMember.objects.filter(segment=segment).values_list("member__display_name", flat=True))
    assert on_list == {"ann"}
    assert Event.objects.filter(type=EventType.MEMBER_SEGMENT_LEFT, member=member(community, "bob")).exists()


def test_tag_rules_give_no_tag_to_staff(community):
    tag = tag_create(workspace=community, name="活跃")
    tag_rule_create(workspace=community, tag=tag, name="talkers", filter={"count": "messages", "op": "gte", "value": 1})
    assert set(MemberTag.objects.filter(tag=tag).values_list("member__display_name", flat=True)) == {"ann", "bob"}


def test_lead_lists_score_no_staff(community):
    segment = segment_create(workspace=community, name="everyone", filter={})
    lead_list = leadlist_create(workspace=community, name="leads", segment=segment, weights={"messages_30d": 1})
    leadlist_build(lead_list=lead_list)
    assert set(Lead.objects.filter(lead_list=lead_list).values_list("member__display_name", flat=True)) == {"ann", "bob"}


def test_tiers_and_member_figures_leave_staff_out(community):
    rollups_refresh(workspace=community)
    assert set(MemberModel.objects.filter(workspace=community).values_list("member__display_name", flat=True)) == {"ann", "bob"}
    today = timezone.localtime(timezone.now(), community.tz).date()
    day = WorkspaceDay.objects.get(workspace=community, day=today - timedelta(days=1))
    # 2 members (not 4), 2 speakers and their 2 messages (the staff's 3 are not member activity).
    assert (day.members_end, day.speakers, day.messages) == (2, 2, 2)
    group_day = GroupDay.objects.get(workspace=community, day=today - timedelta(days=1))
    assert (group_day.members_end, group_day.speakers, group_day.messages) == (2, 2, 2)
    joined = GroupDay.objects.get(workspace=community, day=today - timedelta(days=2))
    assert joined.joins == 2
    # Cohorts and the funnel start from first joins: the 2 members, not the 4 people.
    assert sum(c.size for c in retention_triangle(workspace=community, last=today)) == 2
    funnel = {step.key: step.count for step in lifecycle_funnel(workspace=community, first=today - timedelta(days=3), last=today)}
    assert (funnel["joined"], funnel["spoke"]) == (2, 2)
    [group] = group_list(workspace=community, today=today)
    assert group.members_now == 2
    assert group_counts(group=group) == {"members_now": 2, "staff_now": 2, "stays": 4}


def test_an_operator_mark_changes_past_figures_and_is_kept_by_syncs(community, make_staff):
    rollups_refresh(workspace=community)
    operator = make_staff(community, role=Role.OPERATOR)
    ann, teacher = member(community, "ann"), member(community, "teacher")
    assert member_staff_set(member=ann, staff=True, by=operator) is True
    assert member_staff_set(member=ann, staff=True, by=operator) is False  # idempotent: no second event
    assert member_staff_set(member=teacher, staff=False, by=operator) is True
    marks = Event.objects.filter(type=EventType.MEMBER_STAFF_CHANGED).order_by("id")
    assert [(e.member_id, e.data) for e in marks] == [
        (ann.pk, {"staff": True, "via": "operator", "by": operator.pk}),
        (teacher.pk, {"staff": False, "via": "operator", "by": operator.pk}),
    ]
    rollups_refresh(workspace=community)
    today = timezone.localtime(timezone.now(), community.tz).date()
    day = WorkspaceDay.objects.get(workspace=community, day=today - timedelta(days=1))
    assert (day.members_end, day.speakers, day.messages) == (2, 2, 2)  # bob and the teacher now
    assert set(MemberModel.objects.values_list("member__display_name", flat=True)) == {"bob", "teacher"}
    # The channel says again that the teacher is a group owner: the operator's "not staff" stands.
    events_ingest(workspace=community, source="simulator", events=[raw("group.role_changed", "teacher", role="owner")])
    teacher.refresh_from_db()
    assert (teacher.is_staff, teacher.staff_via) == (False, StaffVia.OPERATOR)
    # A rebuild of the ledger gives the same marks.
    projections_rebuild(workspace=community)
    assert set(Member.objects.filter(workspace=community, is_staff=True).values_list("display_name", flat=True)) == {
        "assistant", "ann"}
    rollups_rebuild(workspace=community)
    assert WorkspaceDay.objects.get(workspace=community, day=today - timedelta(days=1)).members_end == 2


def test_viewers_and_sales_cannot_mark_staff(community, make_staff):
    for role in (Role.VIEWER, Role.SALES):
        with pytest.raises(RoleRequired):
            member_staff_set(member=member(community, "ann"), staff=True, by=make_staff(community, role=role))
    assert not Event.objects.filter(type=EventType.MEMBER_STAFF_CHANGED).exists()


def test_the_bots_own_account_is_staff(community):
    events_ingest(workspace=community, source="matrix", events=[raw("group.joined", "siyu-bot")])
    bot = Identity.objects.get(channel="matrix", external_id="@siyu-bot:example.org").member
    assert member_staff_identities_mark(workspace=community, channel="matrix", external_ids=["@siyu-bot:example.org"]) == 1
    assert member_staff_identities_mark(workspace=community, channel="matrix", external_ids=["@siyu-bot:example.org"]) == 0
    bot.refresh_from_db()
    assert (bot.is_staff, bot.staff_via) == (True, StaffVia.BOT)


def test_a_bad_staff_event_is_refused(workspace):
    from siyu.core.ingest import IngestRejected

    with pytest.raises(IngestRejected):
        events_ingest(workspace=workspace, source="simulator", events=[
            {**raw("member.staff_changed", "ann"), "data": {"staff": "yes", "via": "operator"}},
        ])


def test_the_command_line_lists_and_marks_staff(community, make_staff):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("members", "staff", "--workspace", community.slug, stdout=out)
    assert [line.split("\t")[1:] for line in out.getvalue().splitlines()] == [
        ["teacher", "group_role"], ["assistant", "group_role"]]
    ann = member(community, "ann")
    out = StringIO()
    call_command("members", "staff", str(ann.number), "--workspace", community.slug, stdout=out)
    assert "marked as staff" in out.getvalue() and member(community, "ann").staff_via == StaffVia.OPERATOR
    viewer = make_staff(community, role=Role.VIEWER)
    with pytest.raises(CommandError, match="标记员工|can mark staff"):
        call_command("members", "staff", str(ann.number), "--not", "--workspace", community.slug, "--user", viewer.username)
    assert member(community, "ann").is_staff
