"""Parsing /sync responses into raw ingest events: what each Matrix event becomes, and what is skipped."""
import logging

import pytest

from siyu.channels.matrix.models import MatrixAccount
from siyu.channels.registry import adapter_get
from siyu.core.events import EventType
from siyu.core.ingest import events_ingest
from siyu.core.models import Event
from siyu.groups.models import Group, Membership
from siyu.members.models import MemberStats

pytestmark = pytest.mark.django_db
BOT = "@bot:localhost"
ROOM = "!room:localhost"
TS = 1_767_000_000_000


def member(n, user, membership, name=None, prev=None, sender=None, **content):
    event = {
        "type": "m.room.member", "event_id": f"$m{n}", "state_key": user, "sender": sender or user,
        "origin_server_ts": TS + n, "content": {"membership": membership, **({"displayname": name} if name else {}), **content},
    }
    if prev:
        event["unsigned"] = {"prev_content": {"membership": prev}}
    return event


def message(n, user, body):
    return {"type": "m.room.message", "event_id": f"$t{n}", "sender": user, "origin_server_ts": TS + n,
            "content": {"msgtype": "m.text", "body": body}}


def sync(state=(), timeline=(), section="join"):
    return {"next_batch": "s2", "rooms": {section: {ROOM: {"state": {"events": list(state)}, "timeline": {"events": list(timeline)}}}}}


@pytest.fixture
def parse(workspace):
    MatrixAccount.objects.create(workspace=workspace, homeserver="http://127.0.0.1:1", user_id=BOT, access_token_encrypted="x")
    return lambda payload: adapter_get("matrix").parse(workspace=workspace, payload=payload)


def test_each_kind_of_event_becomes_the_right_raw_event(parse):
    power = {"type": "m.room.power_levels", "event_id": "$p1", "state_key": "", "sender": "@alice:localhost",
             "origin_server_ts": TS, "content": {"users": {"@alice:localhost": 100, BOT: 100}}}
    name = {"type": "m.room.name", "event_id": "$n1", "state_key": "", "sender": "@alice:localhost",
            "origin_server_ts": TS, "content": {"name": "读书会 1群"}}
    promoted = {**power, "event_id": "$p2", "origin_server_ts": TS + 9,
                "content": {"users": {"@alice:localhost": 100, "@bob:localhost": 50}},
                "unsigned": {"prev_content": power["content"]}}
    events = parse(sync(
        state=[power, name, member(1, "@alice:localhost", "join", "Alice"), member(2, BOT, "join", "Bot")],
        timeline=[
            member(3, "@bob:localhost", "join", "Bob", prev="invite"),
            member(4, "@bob:localhost", "join", "Bobby", prev="join"),  # a rename, not a join
            message(5, "@bob:localhost", "大家好"),
            message(6, BOT, "欢迎"),  # the bot's own message
            member(7, "@carol:localhost", "join", "Carol"),
            member(8, "@carol:localhost", "leave", prev="join", sender="@alice:localhost", reason="广告"),
            promoted,
        ],
    ))
    summary = [(e["type"], e["source_id"], e.get("actor", {}).get("id"), e["data"]) for e in events]
    assert summary == [
        ("group.role_changed", "$p1|@alice:localhost", "@alice:localhost", {"role": "owner"}),
        ("group.updated", "$n1", None, {"name": "读书会 1群"}),
        ("group.joined", "$m1", "@alice:localhost", {"role": "owner"}),
        ("group.joined", "$m3", "@bob:localhost", {"role": "member"}),
        ("group.message", "$t5", "@bob:localhost", {"text": "大家好", "message_id": "$t5", "msgtype": "m.text"}),
        ("group.joined", "$m7", "@carol:localhost", {"role": "member"}),
        ("group.left", "$m8", "@carol:localhost", {"membership": "leave", "by": "@alice:localhost", "reason": "广告"}),
        ("group.role_changed", "$p2|@bob:localhost", "@bob:localhost", {"role": "admin"}),
    ]
    assert {e["group"]["name"] for e in events} == {"读书会 1群"}
    assert events[3]["actor"]["name"] == "Bob"
    assert events[0]["occurred_at"].startswith("2025-12-29T")


def test_a_malformed_event_is_logged_and_skipped_and_the_rest_is_ingested(parse, workspace, caplog):
    broken = [
        "not an event",
        {"type": "m.room.message", "sender": "@x:localhost", "origin_server_ts": TS, "content": {"body": "no id"}},
        {"type": "m.room.message", "event_id": "$bad-ts", "sender": "@x:localhost", "origin_server_ts": "yesterday",
         "content": {"body": "hi"}},
        {"type": "m.room.member", "event_id": "$bad-member", "state_key": 42, "origin_server_ts": TS, "content": None},
        {"type": "m.room.power_levels", "event_id": "$bad-power", "state_key": "", "origin_server_ts": TS,
         "content": {"users": ["not", "a", "map"]}},
    ]
    with caplog.at_level(logging.WARNING, logger="siyu.channels.matrix"):
        events = parse(sync(timeline=[*broken, message(1, "@ann:localhost", "还在")]))
    assert [e["source_id"] for e in events] == ["$t1"]
    assert sum("skipped a malformed" in r.getMessage() for r in caplog.records) == 5

    result = events_ingest(workspace=workspace, source="matrix", events=events)
    assert result.stored == 1


def test_unexpected_payloads_give_no_events(parse):
    assert parse({}) == []
    assert parse({"rooms": []}) == []
    assert parse({"rooms": {"join": {ROOM: "nonsense"}}}) == []
    assert parse(sync(timeline=[{"type": "m.room.encrypted", "event_id": "$e", "sender": "@x:localhost",
                                 "origin_server_ts": TS, "content": {"ciphertext": "…"}}])) == []


def test_ingesting_the_same_response_twice_stores_once_and_projects_the_group(parse, workspace):
    payload = sync(
        state=[member(1, "@alice:localhost", "join", "Alice")],
        timeline=[message(2, "@alice:localhost", "一"), member(3, "@bob:localhost", "join", "Bob")],
    )
    first = events_ingest(workspace=workspace, source="matrix", events=parse(payload))
    again = events_ingest(workspace=workspace, source="matrix", events=parse(payload))

    assert (first.stored, again.stored) == (3, 0)
    group = Group.objects.get(workspace=workspace, channel="matrix", external_id=ROOM)
    assert Membership.objects.filter(group=group, left_at__isnull=True).count() == 2
    assert Event.objects.filter(workspace=workspace, type=EventType.GROUP_MESSAGE).count() == 1


def test_room_creators_are_owners_even_outside_the_power_levels(parse):
    create = {"type": "m.room.create", "event_id": "$c", "state_key": "", "sender": "@alice:localhost",
              "origin_server_ts": TS, "content": {"room_version": "12", "additional_creators": ["@ann:localhost"]}}
    power = {"type": "m.room.power_levels", "event_id": "$p", "state_key": "", "sender": "@alice:localhost",
             "origin_server_ts": TS, "content": {"users": {"@bob:localhost": 50}}}
    events = parse(sync(state=[create, power, member(1, "@alice:localhost", "join"), member(2, "@ann:localhost", "join"),
                               member(3, "@bob:localhost", "join")]))
    roles = {e["actor"]["id"]: e["data"]["role"] for e in events if e["type"] == "group.joined"}
    assert roles == {"@alice:localhost": "owner", "@ann:localhost": "owner", "@bob:localhost": "admin"}


def test_a_clock_ahead_on_the_server_does_not_make_events_future(parse, workspace):
    events = parse(sync(timeline=[{**message(1, "@a:localhost", "hi"), "origin_server_ts": 4_102_444_800_000}]))
    assert events_ingest(workspace=workspace, source="matrix", events=events).stored == 1


def test_text_longer_than_the_ledger_allows_is_cut(parse):
    [event] = parse(sync(timeline=[message(1, "@a:localhost", "长" * 5000)]))
    assert len(event["data"]["text"]) == 4000


def test_what_happened_before_the_bot_joined_is_marked_history(parse):
    events = parse(sync(
        state=[member(1, "@alice:localhost", "join", "Alice")],
        timeline=[
            member(2, "@bob:localhost", "join", "Bob", prev="invite"),
            message(3, "@bob:localhost", "机器人还没来"),
            member(4, BOT, "join", "Bot", prev="invite"),
            member(5, "@carol:localhost", "join", "Carol", prev="invite"),
            message(6, "@carol:localhost", "群规"),
        ],
    ))
    assert [(e["source_id"], e["data"].get("history", False)) for e in events] == [
        ("$m1", True), ("$m2", True), ("$t3", True), ("$m5", False), ("$t6", False),
    ]
    # an ordinary later sync (the bot was already there) marks nothing
    later = parse(sync(timeline=[member(7, "@dave:localhost", "join", "Dave", prev="invite")]))
    assert "history" not in later[0]["data"]


def test_a_sender_without_a_member_event_here_is_named_by_the_known_member_state(workspace):
    from siyu.channels.matrix.names import member_names_record, member_names_resolve

    account = MatrixAccount.objects.create(workspace=workspace, homeserver="http://127.0.0.1:1", user_id=BOT, access_token_encrypted="x")
    first = sync(state=[member(1, "@carol:localhost", "join", "Carol"), member(2, "@dan:localhost", "join", "Dan")])
    member_names_record(account=account, changes=member_names_resolve(account=account, client=None, response=first)[1])
    later = sync(timeline=[
        member(3, "@dan:localhost", "join", "Dan Lee", prev="join"), message(4, "@carol:localhost", "hi"),
        message(5, "@dan:localhost", "hey"), member(6, "@carol:localhost", "leave", prev="join"),
    ])
    names, changes = member_names_resolve(account=account, client=None, response=later)  # everyone known: no fetch
    events = adapter_get("matrix").parse(workspace=workspace, payload=later, names=names)
    assert [(e["type"], e["actor"]["name"]) for e in events] == [
        ("group.message", "Carol"), ("group.message", "Dan Lee"), ("group.left", "Carol"),
    ]
    member_names_record(account=account, changes=changes)
    from siyu.channels.matrix.models import MatrixMemberName

    assert dict(MatrixMemberName.objects.values_list("user_id", "display_name")) == {"@dan:localhost": "Dan Lee"}


def test_an_edit_is_a_message_that_names_the_one_it_replaces(parse, workspace):
    edit = message(2, "@bob:localhost", "* 大家好!")
    edit["content"]["m.new_content"] = {"msgtype": "m.text", "body": "大家好!"}
    edit["content"]["m.relates_to"] = {"rel_type": "m.replace", "event_id": "$t1"}
    events = parse(sync(timeline=[member(0, "@bob:localhost", "join", "Bob"), message(1, "@bob:localhost", "大家好"), edit]))
    messages = [e for e in events if e["type"] == "group.message"]
    assert [(e["data"]["text"], e["data"].get("replaces")) for e in messages] == [("大家好", None), ("大家好!", "$t1")]
    events_ingest(workspace=workspace, source="matrix", events=events)
    assert Event.objects.filter(workspace=workspace, type=EventType.GROUP_MESSAGE).count() == 2
    assert MemberStats.objects.get(member__display_name="Bob").messages == 1
