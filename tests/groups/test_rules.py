from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.utils import translation

from siyu.groups.models import BotSettings
from siyu.groups.rules import (
    domains_error, link_hosts, moderation_matches, pattern_error, quiet_hours_defer, render_text, reply_matches,
    variables_error,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day, hour, minute=0):
    return datetime(2026, 3, day, hour, minute, tzinfo=SHANGHAI)


@pytest.mark.parametrize("start, end, moment, expected", [
    (time(22), time(8), at(2, 23, 30), at(3, 8)),   # before midnight: until tomorrow 08:00
    (time(22), time(8), at(3, 2), at(3, 8)),        # after midnight: until this morning
    (time(22), time(8), at(3, 8), at(3, 8)),        # the end itself is not quiet
    (time(22), time(8), at(3, 12), at(3, 12)),      # daytime: unchanged
    (time(22), time(8), at(2, 22), at(3, 8)),       # the start itself is quiet
    (time(12), time(14), at(3, 13), at(3, 14)),     # a midday rest that does not wrap
    (time(12), time(14), at(3, 23), at(3, 23)),
    (None, None, at(3, 3), at(3, 3)),               # no quiet hours
])
def test_quiet_hours_move_a_send_to_their_end_across_midnight(start, end, moment, expected):
    settings = BotSettings(quiet_start=start, quiet_end=end)
    assert quiet_hours_defer(bot_settings=settings, due_at=moment.astimezone(ZoneInfo("UTC")), tz=SHANGHAI) == expected


def test_a_bad_regex_is_explained_with_its_position():
    with translation.override("en"):
        message = pattern_error("(群规|公告")
        assert "position 0" in message and "missing )" in message
        assert "position 3" in pattern_error("abc[")
    with translation.override("zh-hans"):
        assert "0" in pattern_error("(群规|公告") and "位置" in pattern_error("(群规|公告")
    assert pattern_error(r"^\d+$") is None


def test_patterns_re2_cannot_run_in_linear_time_are_refused_with_the_reason():
    with translation.override("en"):
        assert "invalid perl operator: (?=" in pattern_error("群(?=规)")
        assert "back-references" in pattern_error(r"(\w)\1")
    with translation.override("zh-hans"):
        assert "RE2" in pattern_error("(?<=a)b") and "线性" in pattern_error("(?<=a)b")
    assert pattern_error("(a+)+$") is None and pattern_error(r"\p{Han}+") is None  # RE2 runs both in linear time


def test_variables_and_domains_are_checked():
    with translation.override("en"):
        assert variables_error("{name} {group} {rule}", ("name", "group")).startswith("Unknown variable {rule}")
        assert "Line 2" in domains_error("example.com\nhttps://bad.example/x")
    assert variables_error("{name}", ("name",)) is None
    assert domains_error("example.com\n\nsub.example.cn") is None


def test_rendering_leaves_unknown_braces():
    assert render_text("{name} {x} {} {{", {"name": "@A"}) == "@A {x} {} {{"


def test_matching():
    assert reply_matches(match="exact", pattern="群规", text=" 群规 ")
    assert not reply_matches(match="exact", pattern="群规", text="群规呢")
    assert reply_matches(match="contains", pattern="Live", text="when is the live?")
    assert not reply_matches(match="regex", pattern="(", text="(")  # an invalid pattern never fires
    assert link_hosts("see https://A.example.com/x?y and foo.cn, not @u:example.org") == ["a.example.com", "foo.cn"]
    assert moderation_matches(kind="links", words="", text="https://sub.ok.com", allowed_domains=["ok.com"]) is None
    assert moderation_matches(kind="links", words="", text="https://notok.com", allowed_domains=["ok.com"]) == "notok.com"
    assert moderation_matches(kind="invites", words="私聊领", text="私聊领取", allowed_domains=[]) == "私聊领"


def test_every_mention_carries_one_at_whatever_name_the_platform_gave():
    from siyu.groups.rules import mentions_build

    text, mentions = mentions_build([
        {"id": "@carol:localhost", "name": "@carol:localhost"}, {"id": "@d:localhost", "name": ""},
        {"id": "@e:localhost", "name": " Eve "},
    ])
    assert text == "@carol:localhost @d:localhost @Eve"
    assert [m["name"] for m in mentions] == ["carol:localhost", "d:localhost", "Eve"]
