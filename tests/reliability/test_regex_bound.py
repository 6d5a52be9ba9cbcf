"""Operators' regular expressions run in linear time: a catastrophic pattern cannot hold ingest's write lock."""
import time

from django.utils import translation

from siyu.core.events import EventType
from siyu.core.models import Event
from siyu.groups.models import KeywordReply, MatchKind, ModerationKind, ModerationRule
from siyu.groups.rules import moderation_matches, reply_matches
from tests.groups.helpers import join, outbox, say

CATASTROPHIC = "(a+)+$"  # exponential on a backtracking engine: 40 "a" and a "!" took Python's re past 90 s


def test_a_catastrophic_pattern_and_a_10000_character_message_return_within_100_ms():
    text = "a" * 9_999 + "!"
    started = time.perf_counter()
    assert moderation_matches(kind="regex", words=CATASTROPHIC, text=text, allowed_domains=[]) is None
    assert not reply_matches(match="regex", pattern=CATASTROPHIC, text=text)
    assert time.perf_counter() - started < 0.1
    assert moderation_matches(kind="regex", words=CATASTROPHIC, text="a" * 10_000, allowed_domains=[]) == "a" * 10_000


def test_ingest_with_that_rule_holds_the_write_lock_only_briefly(ingest, workspace):
    ModerationRule.objects.create(workspace=workspace, name="aaa", kind=ModerationKind.REGEX, words=CATASTROPHIC)
    KeywordReply.objects.create(workspace=workspace, match=MatchKind.REGEX, pattern=CATASTROPHIC, reply="x")
    ingest([join("ann")])
    started = time.perf_counter()
    ingest([say("ann", "a" * 3_999 + "!")])  # the longest text ingest takes
    assert time.perf_counter() - started < 1.0  # the whole batch, on a shared machine; the match itself is microseconds
    assert Event.objects.filter(type=EventType.GROUP_MESSAGE).count() == 1


def test_a_stored_pattern_re2_cannot_run_is_no_match_and_flagged(ingest, workspace):
    # Saved before RE2 checked patterns: a look-ahead. Ingest carries on; the rule page says why it never fires.
    rule = ModerationRule.objects.create(workspace=workspace, name="old", kind=ModerationKind.REGEX, words=r"(?=a)a")
    reply = KeywordReply.objects.create(workspace=workspace, match=MatchKind.REGEX, pattern=r"(\w)\1", reply="x")
    ingest([join("ann")])
    before = len(outbox())
    ingest([say("ann", "aa")])
    assert len(outbox()) == before
    with translation.override("en"):
        assert "linear time (RE2)" in rule.pattern_problem and "(?=" in rule.pattern_problem
        assert "linear time (RE2)" in reply.pattern_problem
