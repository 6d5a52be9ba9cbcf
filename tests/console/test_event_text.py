"""Every event by name (issue 15.9, 15.10): the events page, a member's timeline and a group's recent events
show references (owners, segments, tags, groups, members, codes, handovers, imports) by name with their
actor, and values (profile fields, sources, products, product kinds) by label, in zh-hans and en; the
outbox's targets by name. Names are read in one query per kind, however long the page."""
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from siyu.core.events import OWN_SOURCE, EventType, own_member_event
from siyu.core.ingest import events_ingest
from siyu.core.models import Role
from siyu.core.outbox import outbox_enqueue
from siyu.groups.handover import handover_run
from siyu.groups.models import Group
from siyu.members.models import Member, Segment, TagVia
from siyu.members.owners import member_owner_set
from siyu.members.tags import tag_create, tags_apply
from tests.conftest import T0, ev

LANGUAGES = ["zh-hans", "en"]
WORDS = {  # what the pages say, per language
    "zh-hans": {"city": "城市 北京", "gender": "性别 女", "source": "抖音直播", "product": "体验课", "kind": "引流品",
                "handover": "交接", "rule": "标签规则", "bot": "机器人"},
    "en": {"city": "city 北京", "gender": "gender Female", "source": "Douyin live stream", "product": "Trial course",
           "kind": "Entry product", "handover": "handover", "rule": "tag rule", "bot": "Bot"},
}


@pytest.fixture
def story(workspace, ingest, make_staff):
    """Ann joins from a Douyin live stream, invited by Bob, fills in her profile and buys the trial; a
    handover moves her and the group from leaving to taking; she enters a segment and gets a tag."""
    ingest([
        ev("group.joined", 1, actor="bob", group="g1"),
        ev("group.joined", 2, actor="ann", group="g1", minutes=1, code="douyin-live", inviter="@bob:example.org"),
        ev("member.profile_updated", 3, actor="ann", minutes=2, city="北京", gender="f"),
        ev("order.paid", 4, actor="ann", minutes=3, order_id="o1", amount_cents=990, product="trial", product_kind="entry"),
    ])
    leaving = make_staff(workspace, username="leaving")
    taking = make_staff(workspace, Role.SALES, username="taking")
    admin = make_staff(workspace, Role.ADMIN, username="boss")
    ann = Member.objects.get(workspace=workspace, display_name="Ann")
    member_owner_set(members=[ann], owner=leaving, by=admin)
    Group.objects.filter(workspace=workspace).update(staff=leaving)
    handover = handover_run(workspace=workspace, from_user=leaving, to_user=taking, by=admin)
    segment = Segment.objects.create(workspace=workspace, name="北京女学员", filter={})
    tag = tag_create(workspace=workspace, name="高意向")
    tags_apply(workspace=workspace, pairs=[(ann.pk, tag.pk)], via=TagVia.MANUAL, by=admin)
    events_ingest(workspace=workspace, source=OWN_SOURCE, events=[own_member_event(
        EventType.MEMBER_SEGMENT_ENTERED, member_id=ann.pk, source_id="seg-1", occurred_at=T0 + timedelta(minutes=5),
        data={"segment": segment.pk})])
    return {"ann": ann, "handover": handover, "segment": segment, "tag": tag, "admin": admin}


def page(client, workspace, name, *args, language):
    return client.get(reverse(f"console:{name}", args=[workspace.slug, *args]), HTTP_ACCEPT_LANGUAGE=language).content.decode()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_events_page_names_every_reference_and_who_made_it(client, workspace, story, make_staff, language):
    client.force_login(make_staff(workspace, Role.VIEWER))
    html = page(client, workspace, "events", language=language)
    words = WORDS[language]
    segment, tag = story["segment"], story["tag"]
    # the handover's owner change names the new owner (not 无人 / nobody) and the handover, made by boss
    assert "leaving → taking" in html
    assert f'{words["handover"]} leaving → taking' in html and "boss" in html
    assert f'<a href="/w/{workspace.slug}/segments/{segment.pk}/">北京女学员</a>' in html
    assert f'<a href="/w/{workspace.slug}/members/?tag={tag.pk}">高意向</a>' in html
    ann, bob = story["ann"], Member.objects.get(workspace=workspace, display_name="Bob")
    assert f'<a href="/w/{workspace.slug}/members/{bob.number}/">#{bob.number} Bob</a>' in html  # the inviter
    for word in ("city", "gender", "source", "product", "kind"):
        assert words[word] in html
    for raw in ("city=", "gender=f", "douyin-live", "· trial", f"#{segment.pk}<", ">无人<", ">nobody<"):
        assert raw not in html
    assert ann.display_name in html


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_timeline_and_the_group_page_say_it_in_the_same_words(client, workspace, story, make_staff, language):
    client.force_login(make_staff(workspace, Role.VIEWER))
    words = WORDS[language]
    timeline = page(client, workspace, "member", story["ann"].number, language=language)
    for text in ("leaving → taking", "北京女学员", "高意向", words["city"], words["source"], words["product"], words["kind"],
                 words["handover"]):
        assert text in timeline
    assert "city=" not in timeline and "douyin-live" not in timeline
    group = Group.objects.get(workspace=workspace)
    recent = page(client, workspace, "group", group.pk, language=language)
    assert words["source"] in recent and "leaving → taking" in recent  # the group's staff change by the handover


def test_a_tag_rule_an_import_and_the_bot_are_named_as_who_made_it(client, workspace, story, make_staff):
    from siyu.members.models import MemberImport, TagRule

    ann, tag, admin = story["ann"], story["tag"], story["admin"]
    rule = TagRule.objects.create(workspace=workspace, tag=tag, name="近7天发言", filter={})
    imp = MemberImport.objects.create(workspace=workspace, by=admin, filename="学员名单.xlsx", path="x")
    events_ingest(workspace=workspace, source=OWN_SOURCE, events=[
        own_member_event(EventType.MEMBER_UNTAGGED, member_id=ann.pk, source_id="r1", occurred_at=T0,
                         data={"tag": tag.pk, "via": TagVia.RULE, "rule": rule.pk, "by": None}),
        own_member_event(EventType.MEMBER_OWNER_CHANGED, member_id=ann.pk, source_id="i1", occurred_at=T0,
                         data={"owner": admin.pk, "previous": None, "handover": None, "import": imp.pk}),
    ])
    client.force_login(make_staff(workspace, Role.VIEWER))
    html = page(client, workspace, "events", language="zh-hans")
    assert f'标签规则 <a href="/w/{workspace.slug}/tags/">近7天发言</a>' in html
    assert f'导入 <a href="/w/{workspace.slug}/members/import/{imp.pk}/">学员名单.xlsx</a>' in html
    assert "无人 → boss" in html  # the import gave her an owner she did not have


def test_names_are_read_in_one_query_per_kind_however_long_the_page(client, workspace, story, make_staff, ingest):
    client.force_login(make_staff(workspace, Role.VIEWER))
    url = reverse("console:events", args=[workspace.slug])

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    before = queries()
    more = [ev("group.joined", 100 + n, actor=f"p{n}", group=f"g{n}", code="xiaohongshu", inviter="@bob:example.org")
            for n in range(12)]
    ingest(more)
    segment = story["segment"]
    events_ingest(workspace=workspace, source=OWN_SOURCE, events=[
        own_member_event(EventType.MEMBER_SEGMENT_LEFT, member_id=m.pk, source_id=f"left-{m.pk}", occurred_at=T0,
                         data={"segment": segment.pk}) for m in Member.objects.filter(workspace=workspace)])
    assert queries() == before


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_outbox_names_the_member_or_group_a_message_goes_to(client, workspace, story, make_staff, language):
    ann = story["ann"]
    group = Group.objects.get(workspace=workspace)
    for key, kind, target, payload in (
        ("dm", "send_private", "@ann:example.org", {"text": "你好"}),
        ("room", "send_text", group.external_id, {"text": "大家好", "mentions": []}),
        ("kick", "remove_member", group.external_id, {"user": "@ann:example.org", "reason": "广告"}),
        ("lost", "send_private", "ux-u1", {"text": "无人认领"}),
    ):
        outbox_enqueue(workspace=workspace, channel="simulator", kind=kind, target=target, payload=payload, idempotency_key=key)
    client.force_login(make_staff(workspace, Role.VIEWER))
    html = page(client, workspace, "outbox", language=language)
    member_link = f'<a href="/w/{workspace.slug}/members/{ann.number}/">#{ann.number} Ann</a>'
    assert html.count(member_link) == 2  # the private message's target and the removed member
    assert f'<a href="/w/{workspace.slug}/groups/{group.pk}/">Group g1</a>' in html
    assert ">@ann:example.org<" not in html
    assert "ux-u1" in html  # a target Siyu does not know stays as it is
