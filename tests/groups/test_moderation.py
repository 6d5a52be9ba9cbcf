from datetime import timedelta

import pytest
from django.utils import timezone

from siyu.core.events import EventType
from siyu.core.ingest import IngestRejected, events_ingest
from siyu.core.models import Event
from siyu.core.rebuild import projections_rebuild
from siyu.groups.models import Group, ModerationKind, ModerationRule, Strike
from siyu.groups.services import bot_settings_save, strike_undo
from siyu.members.models import Identity, Member
from tests.groups.helpers import join, outbox, say


@pytest.fixture
def links_rule(workspace):
    return ModerationRule.objects.create(workspace=workspace, name="广告链接", kind=ModerationKind.LINKS)


def test_a_url_twice_warns_with_strike_one_then_removes_and_bars(ingest, workspace, links_rule):
    ingest([join("spam")])
    welcome = {m.pk for m in outbox()}
    ingest([say("spam", "便宜好课 https://ads.example.com/x", source_id="$m1")])
    messages = [m for m in outbox() if m.pk not in welcome]
    assert [m.kind for m in messages] == ["delete_message", "send_text"]
    assert messages[0].payload == {"message_id": "$m1", "reason": "广告链接"}
    warning = messages[1].payload
    assert warning["text"].startswith("@Spam ") and "广告链接" in warning["text"] and "1/2" in warning["text"]
    assert warning["mentions"] == [{"id": "@spam:example.org", "name": "Spam"}]
    assert messages[1].due_at <= timezone.now()

    ingest([say("spam", "www.ads.example.com 再来", source_id="$m2")])
    later = [m for m in outbox() if m.pk not in welcome][2:]
    assert [m.kind for m in later] == ["delete_message", "remove_member"]  # no second warning
    assert later[1].payload == {"user": "@spam:example.org", "reason": "广告链接 (2/2)"}

    strikes = list(Strike.objects.order_by("number"))
    assert [(s.number, s.limit, s.actions) for s in strikes] == [
        (1, 2, ["delete", "strike", "warn"]), (2, 2, ["delete", "strike", "remove", "bar"]),
    ]
    assert strikes[0].excerpt == "便宜好课 https://ads.example.com/x" and strikes[0].message_id == "$m1"
    member = Member.objects.get()
    assert member.barred_at is not None and "广告链接" in member.barred_reason
    # Reactions are events of Siyu about the platform's member and group: no new member, no new group.
    assert Member.objects.count() == 1 and Group.objects.count() == 1 and Identity.objects.count() == 1
    assert list(Event.objects.filter(source="siyu").order_by("id").values_list("type", flat=True)) == [
        EventType.GROUP_STRIKE_ADDED, EventType.GROUP_STRIKE_ADDED, EventType.MEMBER_BARRED,
    ]


def test_allowed_domains_and_mxids_are_not_links(ingest, workspace, links_rule):
    bot_settings_save(workspace=workspace, values={"allowed_domains": "example.edu\n"})
    ingest([say("ann", "课件在 https://docs.example.edu/a 和 example.edu,问 @bob:example.org 或 a@b.com")])
    assert outbox() == [] and Strike.objects.count() == 0


def test_owners_admins_and_kocs_are_exempt_unless_the_rule_says_otherwise(ingest, workspace, links_rule):
    ingest([join("boss", role="admin"), join("star", role="koc")])
    ingest([say("boss", "https://x.example.com"), say("star", "https://y.example.com")])
    assert Strike.objects.count() == 0
    links_rule.applies_to_staff = True
    links_rule.save()
    ingest([say("boss", "https://z.example.com")])
    assert Strike.objects.get().member.display_name == "Boss"


def test_strikes_older_than_d_days_and_undone_strikes_do_not_count(ingest, workspace, links_rule):
    ingest([say("ann", "hello")])
    group, member = Group.objects.get(), Member.objects.get()
    old = timezone.now() - timedelta(days=31)
    events_ingest(workspace=workspace, source="siyu", events=[{
        "type": "group.strike_added", "source_id": "old-strike", "occurred_at": old.isoformat(),
        "actor": {"id": "@ann:example.org", "channel": "simulator"},
        "group": {"id": group.external_id, "channel": "simulator"},
        "data": {"rule": "广告链接", "strike": 1, "limit": 2, "actions": ["strike", "warn"]},
    }])
    ingest([say("ann", "https://a.example.com")])
    assert Strike.objects.get(counts=True, occurred_at__gt=old).number == 1  # the 31-day-old one expired
    recent = Strike.objects.exclude(source_id="old-strike").get()
    assert strike_undo(strike=recent, by_user=None) is True
    assert strike_undo(strike=Strike.objects.get(pk=recent.pk), by_user=None) is False
    ingest([say("ann", "https://b.example.com")])
    newest = Strike.objects.order_by("-occurred_at", "-id").first()
    assert newest.number == 1 and "warn" in newest.actions  # the undone strike no longer counts
    assert member.pk == newest.member_id


def test_the_strike_policy_is_per_group_settings(ingest, workspace, links_rule):
    ingest([say("ann", "hi")])
    bot_settings_save(workspace=workspace, group=Group.objects.get(), values={"strike_limit": 1, "bar_on_removal": False})
    ingest([say("ann", "https://a.example.com")])
    assert [m.kind for m in outbox()] == ["delete_message", "remove_member"]
    assert Member.objects.get().barred_at is None


def test_undoing_the_removal_strike_lifts_the_bar(ingest, workspace, make_staff, links_rule):
    ingest([say("spam", "https://a.example.com"), say("spam", "https://b.example.com")])
    member = Member.objects.get()
    assert member.barred_at is not None
    admin = make_staff(workspace)
    strike_undo(strike=Strike.objects.get(number=2), by_user=admin)
    member.refresh_from_db()
    assert member.barred_at is None and member.barred_reason == ""
    assert Strike.objects.get(number=2).undone_by == admin.get_username()
    # The log and the bar are projections: a rebuild gives the same state.
    before = list(Strike.objects.order_by("id").values_list("source_id", "number", "undone_at", "undone_by"))
    projections_rebuild(workspace=workspace)
    assert list(Strike.objects.order_by("id").values_list("source_id", "number", "undone_at", "undone_by")) == before
    assert Member.objects.get().barred_at is None


def test_a_rebuild_keeps_a_bar(ingest, workspace, links_rule):
    ingest([say("spam", "https://a.example.com"), say("spam", "https://b.example.com")])
    barred_at = Member.objects.get().barred_at
    projections_rebuild(workspace=workspace)
    assert Member.objects.get().barred_at == barred_at and Strike.objects.count() == 2


@pytest.mark.parametrize("kind, words, text", [
    (ModerationKind.WORDS, "代购\n刷单", "专业刷单 日结"),
    (ModerationKind.REGEX, r"\d{11}", "电话 13800138000"),
    (ModerationKind.INVITES, "", "快来 #deals:evil.example 有福利"),
    (ModerationKind.INVITES, "", "https://matrix.to/#/#deals:evil.example"),
    (ModerationKind.INVITES, "", "扫码进群领资料"),
    (ModerationKind.INVITES, "", "https://weixin.qq.com/g/AbCdEf"),
])
def test_each_kind_of_rule(ingest, workspace, kind, words, text):
    ModerationRule.objects.create(workspace=workspace, name="r", kind=kind, words=words, warn=False, count_strike=False)
    ingest([say("ann", text), say("bob", "大家好,今天的课听完了")])
    strike = Strike.objects.get()
    assert strike.member.display_name == "Ann" and strike.actions == ["delete"] and strike.counts is False
    assert [m.kind for m in outbox()] == ["delete_message"]


def test_invites_to_an_allowed_server_pass(ingest, workspace):
    ModerationRule.objects.create(workspace=workspace, name="r", kind=ModerationKind.INVITES)
    bot_settings_save(workspace=workspace, values={"allowed_domains": "example.org"})
    ingest([say("ann", "our other room: #course:example.org")])
    assert Strike.objects.count() == 0


def test_group_rules_apply_only_in_their_group(ingest, workspace):
    ingest([say("ann", "hi", group="g1"), say("ann", "hi", group="g2")])
    g2 = Group.objects.get(external_id="!g2:example.org")
    ModerationRule.objects.create(workspace=workspace, group=g2, name="no-ads", kind=ModerationKind.WORDS, words="广告")
    ingest([say("ann", "广告", group="g1"), say("ann", "广告", group="g2")])
    assert [s.group_id for s in Strike.objects.all()] == [g2.pk]


def test_history_is_not_moderated(ingest, workspace, links_rule):
    ingest([say("ann", "https://a.example.com", seconds_ago=3600)])
    assert Strike.objects.count() == 0 and outbox() == []


def test_replaying_a_message_strikes_once(ingest, workspace, links_rule):
    message = say("ann", "https://a.example.com", source_id="$same")
    ingest([message])
    ingest([message])
    assert Strike.objects.count() == 1 and len(outbox()) == 2


def test_strike_events_with_bad_data_are_rejected(workspace):
    ingest_event = {
        "type": "group.strike_added", "source_id": "s1", "occurred_at": timezone.now().isoformat(),
        "actor": {"id": "@a:x"}, "group": {"id": "!g:x"}, "data": {"rule": "", "strike": -1, "actions": ["explode"]},
    }
    with pytest.raises(IngestRejected) as caught:
        events_ingest(workspace=workspace, source="siyu", events=[ingest_event])
    fields = {error.field for error in caught.value.errors}
    assert {"data.rule", "data.strike", "data.limit", "data.actions"} <= fields
    undo = {**ingest_event, "type": "group.strike_undone", "data": {}}
    with pytest.raises(IngestRejected):
        events_ingest(workspace=workspace, source="siyu", events=[undo])


def test_the_timeline_says_what_each_moderation_event_was(ingest, workspace, links_rule, make_staff):
    from django.utils import translation

    from html import unescape

    from django.utils.html import strip_tags

    from siyu.console.event_text import events_describe

    ingest([join("spam"), say("spam", "https://ads.example.com/x"), say("spam", "https://ads.example.com/y")])
    strike = Strike.objects.order_by("number").first()
    strike_undo(strike=strike, by_user=make_staff(workspace, username="boss"))
    events = list(Event.objects.filter(source="siyu").order_by("id"))
    with translation.override("en"):
        events_describe(events, workspace=workspace)
    details = [unescape(strip_tags(e.detail)) for e in events]
    made_by = [unescape(strip_tags(e.made_by)) for e in events]
    assert details[0] == "广告链接 · strike 1/2 · Message deleted, Strike counted, Warned · “https://ads.example.com/x”"
    assert details[1].startswith("广告链接 · strike 2/2 · Message deleted, Strike counted, Removed, Barred")
    assert "广告链接" in details[2]  # barred: the reason
    assert made_by[:3] == ["Bot", "Bot", "Bot"]  # the bot struck, struck and barred
    assert made_by[3] == "boss"  # and boss undid the first strike


def test_a_strike_of_an_erased_member_can_be_undone(ingest, workspace, links_rule):
    # Erasure deletes the member's identities; the undo then names the member directly (found by mypy:
    # the identity lookup could be None).
    from siyu.members.privacy import member_erase

    ingest([say("spam", "https://a.example.com"), say("spam", "https://b.example.com")])
    member = Member.objects.get()
    member_erase(member=member)
    assert not Identity.objects.filter(member=member).exists()
    assert strike_undo(strike=Strike.objects.get(number=2), by_user=None) is True
    assert Strike.objects.get(number=2).undone_at is not None
    member.refresh_from_db()
    assert member.barred_at is None
