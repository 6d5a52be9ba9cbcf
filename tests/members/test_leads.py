from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone, translation

from siyu.analytics.models import MemberModel
from siyu.core.models import Role
from siyu.members.leads import input_label, leadlist_build, leadlist_create, lead_status_set, my_leads
from siyu.members.models import Assignment, Lead, LeadStatus, Member, Note, Segment, SegmentMember, Tag
from siyu.members.leads import lead_follow_up
from tests.conftest import T0, ev

NOW = T0 + timedelta(days=1)
DAY = 24 * 60


@pytest.fixture
def data(workspace, ingest):
    """ann: 3 messages yesterday, ¥99, tagged; bob: 1 message 10 days ago; cat: 2 clicks, ¥500, value tier core."""
    ingest([
        *(ev("group.message", n, actor="ann", group="g", minutes=-n, text="hi") for n in (1, 2, 3)),
        ev("order.paid", 4, actor="ann", order_id="o1", amount_cents=9900),
        ev("group.message", 5, actor="bob", group="g", minutes=-10 * DAY, text="hi"),
        ev("order.paid", 6, actor="cat", minutes=-2 * DAY, order_id="o2", amount_cents=50000),
    ])
    members = {m.display_name.lower(): m for m in Member.objects.filter(workspace=workspace)}
    ingest([{"type": "link.clicked", "source_id": f"c{n}", "occurred_at": (T0 - timedelta(days=3)).isoformat(),
             "data": {"member": members["cat"].pk}} for n in (1, 2)])
    tag = Tag.objects.create(workspace=workspace, name="错题多")
    from siyu.members.tags import tags_apply

    tags_apply(workspace=workspace, pairs=[(members["ann"].pk, tag.pk)], via="manual")
    MemberModel.objects.create(member=members["cat"], workspace=workspace, computed_on=date(2026, 3, 2),
                               activity_tier="core", value_tier="core", loyalty="loyal", pyramid="vip")
    segment = Segment.objects.create(workspace=workspace, name="奥数群")
    SegmentMember.objects.bulk_create([SegmentMember(segment=segment, member=m, since=T0) for m in members.values()])
    return members, tag, segment


def weights(tag):
    return {"messages_7d": 2, "messages_30d": 1, "spend_yuan": 0.1, "clicks_30d": 5, f"tag:{tag.pk}": 20,
            "days_since_last_seen": -1, "value_tier:core": 7, "orders": 0}


def test_scores_exactly_as_documented(workspace, data, make_staff):
    members, tag, segment = data
    lead_list = leadlist_create(workspace=workspace, name="L", segment=segment, weights=weights(tag))
    result = leadlist_build(lead_list=lead_list, now=NOW)
    assert result == {"leads": 3, "added": 3, "removed": 0, "assigned": 0}
    scores = {lead.member.display_name: lead.score for lead in Lead.objects.select_related("member")}
    # ann: 3×2 + 3×1 + 99×0.1 + 20 − 1 day; bob: 1 − 11 days; cat: 500×0.1 + 2×5 − 3 days + 7
    assert scores == {"Ann": 37.9, "Bob": -10.0, "Cat": 64.0}
    reasons = Lead.objects.get(member=members["ann"]).reasons
    assert reasons[0] == [f"tag:{tag.pk}", 1, 20.0, 20.0]  # biggest contribution first
    assert ["messages_7d", 3, 2.0, 6.0] in reasons and ["spend_yuan", 99.0, 0.1, 9.9] in reasons
    assert ["days_since_last_seen", 1, -1.0, -1.0] in reasons
    with translation.override("en"):
        assert input_label(f"tag:{tag.pk}") == "Tag 错题多"
        assert input_label("value_tier:core") == "Value tier = Core (active, high spend)"


def test_weights_are_checked(workspace, data):
    _members, tag, segment = data
    with translation.override("en"), pytest.raises(ValidationError) as error:
        leadlist_create(workspace=workspace, name="L", segment=segment,
                        weights={"messages": 1, "tag:999": 1, "value_tier:gold": 1, "orders": "many"})
    problems = " ".join(error.value.message_dict["weights"])
    assert "messages: unknown input" in problems and "no tag 999" in problems and "gold" in problems
    assert "orders: the weight must be a number" in problems


def test_round_robin_in_score_order(workspace, data, make_staff):
    _members, tag, segment = data
    s1, s2 = make_staff(workspace, Role.SALES), make_staff(workspace, Role.SALES)
    lead_list = leadlist_create(workspace=workspace, name="L", segment=segment, weights=weights(tag), staff=[s1, s2])
    leadlist_build(lead_list=lead_list, now=NOW)
    order = list(Lead.objects.order_by("-score").values_list("member__display_name", "assigned_to"))
    assert order == [("Cat", s1.pk), ("Ann", s2.pk), ("Bob", s1.pk)]


def test_by_load_gives_to_fewest_open_leads(workspace, data, make_staff):
    members, tag, segment = data
    s1, s2 = make_staff(workspace, Role.SALES), make_staff(workspace, Role.SALES)
    busy = leadlist_create(workspace=workspace, name="busy", segment=segment, weights={"orders": 1}, staff=[s1],
                           limit=2)
    leadlist_build(lead_list=busy, now=NOW)  # s1 now has 2 open leads
    lead_list = leadlist_create(workspace=workspace, name="L", segment=segment, weights=weights(tag), staff=[s1, s2],
                                assignment=Assignment.BY_LOAD)
    leadlist_build(lead_list=lead_list, now=NOW)
    order = list(lead_list.leads.order_by("-score").values_list("member__display_name", "assigned_to"))
    assert order == [("Cat", s2.pk), ("Ann", s2.pk), ("Bob", s1.pk)]


def test_top_n(workspace, data):
    _members, tag, segment = data
    lead_list = leadlist_create(workspace=workspace, name="L", segment=segment, weights=weights(tag), limit=2)
    leadlist_build(lead_list=lead_list, now=NOW)
    assert sorted(lead_list.leads.values_list("member__display_name", flat=True)) == ["Ann", "Cat"]


def test_rebuild_keeps_assignments_and_worked_leads(workspace, data, make_staff, ingest):
    members, tag, segment = data
    s1, s2 = make_staff(workspace, Role.SALES), make_staff(workspace, Role.SALES)
    lead_list = leadlist_create(workspace=workspace, name="L", segment=segment, weights=weights(tag), staff=[s1, s2])
    leadlist_build(lead_list=lead_list, now=NOW)
    before = dict(lead_list.leads.values_list("member_id", "assigned_to"))
    ann = Lead.objects.get(member=members["ann"])
    lead_status_set(lead=ann, status=LeadStatus.CONTACTED, by=ann.assigned_to)
    ingest([ev("group.message", 9, actor="dan", group="g", minutes=-5, text="hi")])
    dan = Member.objects.get(display_name="Dan")
    SegmentMember.objects.filter(member__in=[members["ann"], members["bob"]]).delete()
    SegmentMember.objects.create(segment=segment, member=dan, since=T0)
    result = leadlist_build(lead_list=lead_list, now=NOW)
    assert result["added"] == 1 and result["removed"] == 1 and result["assigned"] == 1
    after = dict(lead_list.leads.values_list("member_id", "assigned_to"))
    assert after[members["cat"].pk] == before[members["cat"].pk]
    assert after[members["ann"].pk] == before[members["ann"].pk]  # contacted: kept though it left
    assert members["bob"].pk not in after  # new and left: removed
    # round robin continues after whoever got the latest assignment
    assert after[dan.pk] in (s1.pk, s2.pk)


def test_sales_change_only_their_own_leads_and_log_follow_ups(workspace, data, make_staff):
    _members, tag, segment = data
    s1, s2 = make_staff(workspace, Role.SALES), make_staff(workspace, Role.SALES)
    lead_list = leadlist_create(workspace=workspace, name="L", segment=segment, weights=weights(tag), staff=[s1, s2])
    leadlist_build(lead_list=lead_list, now=NOW)
    mine = my_leads(workspace=workspace, user=s1)
    assert [lead.member.display_name for lead in mine] == ["Cat", "Bob"]
    theirs = my_leads(workspace=workspace, user=s2)[0]
    with pytest.raises(PermissionDenied):
        lead_status_set(lead=theirs, status=LeadStatus.WON, by=s1)
    note = lead_follow_up(lead=mine[0], author=s1, text="打过电话, 想要试听", status=LeadStatus.CONTACTED)
    assert note.kind == "follow_up" and note.lead == mine[0]
    assert Lead.objects.get(pk=mine[0].pk).status == LeadStatus.CONTACTED


def test_my_leads_page_shows_only_own(client, workspace, data, make_staff):
    _members, tag, segment = data
    s1, s2 = make_staff(workspace, Role.SALES), make_staff(workspace, Role.SALES)
    lead_list = leadlist_create(workspace=workspace, name="L", segment=segment, weights=weights(tag), staff=[s1, s2])
    leadlist_build(lead_list=lead_list, now=NOW)
    client.force_login(s2)
    with translation.override("en"):
        page = client.get(reverse("console:leads_mine", args=[workspace.slug])).content.decode()
    assert "Ann" in page and "Cat" not in page and "Bob" not in page
    assert client.get(reverse("console:leads", args=[workspace.slug])).status_code == 403
    lead = Lead.objects.get(assigned_to=s2)
    other = Lead.objects.filter(assigned_to=s1).first()
    url = reverse("console:lead_follow_up", args=[workspace.slug, other.pk])
    assert client.post(url, {"text": "x", "status": "won"}).status_code == 404
    url = reverse("console:lead_follow_up", args=[workspace.slug, lead.pk])
    assert client.post(url, {"text": "回电了", "status": "contacted"}).status_code == 302
    assert Note.objects.get(lead=lead).text == "回电了" and Lead.objects.get(pk=lead.pk).status == "contacted"


def test_lead_list_pages(client, workspace, data, make_staff):
    _members, tag, segment = data
    operator, sales = make_staff(workspace, Role.OPERATOR), make_staff(workspace, Role.SALES)
    client.force_login(operator)
    with translation.override("en"):
        response = client.post(reverse("console:leads", args=[workspace.slug]), {
            "name": "奥数错题多", "segment": segment.pk, "weights": '{"spend_yuan": 0.1}', "staff": [sales.pk],
            "assignment": "round_robin", "limit": "",
        })
        assert response.status_code == 302, response.content.decode()[:2000]
        lead_list = segment.lead_lists.get()
        page = client.get(reverse("console:leadlist", args=[workspace.slug, lead_list.pk])).content.decode()
        assert "奥数错题多" in page
        client.post(reverse("console:leadlist_build", args=[workspace.slug, lead_list.pk]))
        page = client.get(reverse("console:leadlist", args=[workspace.slug, lead_list.pk])).content.decode()
    assert "Cat" in page and "score\">50<" in page and lead_list.leads.count() == 3
    # One lead handed to another colleague from the list's page; sales may not.
    colleague = make_staff(workspace, Role.SALES)
    lead = lead_list.leads.first()
    url = reverse("console:lead_reassign", args=[workspace.slug, lead.pk])
    assert client.post(url, {"assigned_to": colleague.pk}).status_code == 302
    assert Lead.objects.get(pk=lead.pk).assigned_to == colleague
    client.force_login(sales)
    assert client.post(url, {"assigned_to": sales.pk}).status_code == 403
    assert Lead.objects.get(pk=lead.pk).assigned_to == colleague


def test_leads_commands(workspace, data, capsys):
    _members, tag, segment = data
    lead_list = leadlist_create(workspace=workspace, name="L", segment=segment, weights={"orders": 1})
    call_command("leads", "build", str(lead_list.pk))
    assert "3 leads" in capsys.readouterr().out
    call_command("leads", "list", "--workspace", workspace.slug)
    assert "L" in capsys.readouterr().out


def test_build_reads_in_few_queries(workspace, data, django_assert_max_num_queries):
    _members, tag, segment = data
    lead_list = leadlist_create(workspace=workspace, name="L", segment=segment, weights=weights(tag))
    with django_assert_max_num_queries(25):
        leadlist_build(lead_list=lead_list, now=NOW)
    assert timezone.now()
