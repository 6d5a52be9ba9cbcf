import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from siyu.core.ingest import events_ingest
from siyu.groups.bot import cooldown_claim
from siyu.groups.models import Group, KeywordReply, MatchKind, ModerationKind, ModerationRule
from siyu.groups.services import bot_settings_save
from tests.groups.helpers import outbox, say


@pytest.fixture
def rules_reply(workspace):
    return KeywordReply.objects.create(workspace=workspace, match=MatchKind.EXACT, pattern="群规", reply="{name} {rules}")


def test_a_keyword_sent_five_times_in_ten_seconds_is_answered_once(ingest, workspace, rules_reply):
    ingest([say("ann", "群规")])
    for name in ("bob", "cat", "dan"):
        ingest([say(name, " 群规 ")])
    ingest([say("eve", "群规"), say("fay", "群规")])
    replies = outbox("send_text")
    assert len(replies) == 1
    assert replies[0].payload["text"].startswith("@Ann 群规:禁止广告刷屏")
    assert replies[0].payload["mentions"] == [{"id": "@ann:example.org", "name": "Ann"}]


def test_the_cooldown_is_per_group_and_ends(ingest, workspace, rules_reply):
    ingest([say("ann", "群规", group="g1"), say("bob", "群规", group="g2")])
    assert len(outbox("send_text")) == 2
    bot_settings_save(workspace=workspace, values={"reply_cooldown_seconds": 0})
    ingest([say("ann", "群规", group="g1")])
    assert len(outbox("send_text")) == 3


def test_match_kinds_and_group_rules_first(ingest, workspace):
    ingest([say("ann", "hi")])
    group = Group.objects.get()
    KeywordReply.objects.create(workspace=workspace, match=MatchKind.CONTAINS, pattern="直播", reply="workspace", priority=1)
    KeywordReply.objects.create(workspace=workspace, group=group, match=MatchKind.CONTAINS, pattern="直播", reply="group", priority=50)
    KeywordReply.objects.create(workspace=workspace, match=MatchKind.REGEX, pattern=r"^(课程|作业)链接", reply="link")
    KeywordReply.objects.create(workspace=workspace, match=MatchKind.EXACT, pattern="打卡", reply="exact", enabled=False)
    ingest([say("ann", "晚上直播几点开始?"), say("bob", "作业链接在哪"), say("cat", "打卡")])
    assert [m.payload for m in outbox("send_text")] == [{"text": "group", "mentions": []}, {"text": "link", "mentions": []}]


def test_a_reply_that_mentions_the_asker_starts_with_them_and_notifies_them(ingest, workspace):
    KeywordReply.objects.create(workspace=workspace, pattern="直播", reply="今晚 20:00 直播", mention_asker=True)
    KeywordReply.objects.create(workspace=workspace, pattern="作业", reply="{name} 作业在群公告里", mention_asker=True)
    KeywordReply.objects.create(workspace=workspace, pattern="打卡", reply="打卡请用小程序")
    ingest([say("ann", "直播几点?"), say("bob", "作业呢"), say("cat", "怎么打卡")])
    assert [m.payload for m in outbox("send_text")] == [
        {"text": "@Ann 今晚 20:00 直播", "mentions": [{"id": "@ann:example.org", "name": "Ann"}]},
        {"text": "@Bob 作业在群公告里", "mentions": [{"id": "@bob:example.org", "name": "Bob"}]},  # once, where {name} is
        {"text": "打卡请用小程序", "mentions": []},
    ]


def test_a_moderated_message_gets_no_reply(ingest, workspace, rules_reply):
    ModerationRule.objects.create(workspace=workspace, name="words", kind=ModerationKind.WORDS, words="群规")
    ingest([say("ann", "群规")])
    assert [m.kind for m in outbox()] == ["delete_message", "send_text"]
    assert "words" in outbox("send_text")[0].payload["text"]  # the warning, not the reply


def test_a_cooldown_is_claimed_once_at_the_same_moment(workspace, rules_reply):
    events_ingest(workspace=workspace, source="simulator", events=[say("ann", "hi")])
    group, now = Group.objects.get(), timezone.now()
    assert cooldown_claim(rule=rules_reply, group=group, seconds=60, now=now) is True
    assert cooldown_claim(rule=rules_reply, group=group, seconds=60, now=now) is False


@pytest.mark.django_db(transaction=True)
def test_concurrent_ingests_of_the_keyword_answer_once(make_workspace):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time; the race needs PostgreSQL")
    workspace = make_workspace()
    KeywordReply.objects.create(workspace=workspace, match=MatchKind.EXACT, pattern="群规", reply="{rules}")
    events_ingest(workspace=workspace, source="simulator", events=[say("zed", "hi")])
    barrier = threading.Barrier(6)

    def send(name):
        try:
            barrier.wait()
            events_ingest(workspace=workspace, source="simulator", events=[say(name, "群规")])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(f"p{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outbox("send_text")) == 1
