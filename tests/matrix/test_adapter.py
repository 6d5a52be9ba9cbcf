"""The Matrix adapter's sends against a real Synapse, each checked by reading the room as its users see it."""
import pytest

from siyu.channels.base import AdapterError
from siyu.channels.matrix.models import MatrixDirectRoom
from siyu.channels.registry import adapter_get
from siyu.channels.services import outbox_drain
from siyu.core.ingest import events_ingest
from siyu.core.models import OutboxMessage
from siyu.core.outbox import outbox_enqueue
from siyu.groups.models import Group
from siyu.links.services import channel_code_create, code_target_add
from tests.links.conftest import open_visit

pytestmark = pytest.mark.django_db

KEYS = iter(range(1, 10_000))


def send(workspace, kind, target, payload, key=None):
    message = outbox_enqueue(
        workspace=workspace, channel="matrix", kind=kind, target=target, payload=payload,
        idempotency_key=key or f"test-{kind}-{next(KEYS)}",
    )
    return adapter_get("matrix").send(message=message), message


@pytest.fixture
def room(synapse, bot, matrix_account):
    """A room owned by alice, with the bot at power level 100 and bob as a member."""
    alice, alice_token = synapse.register(displayname="Alice")
    bob, bob_token = synapse.register(displayname="Bob")
    room_id = synapse.create_room(alice_token, "Test group", invite=[bot[0], bob], bot=bot[0])
    synapse.join(bot[1], room_id)
    synapse.join(bob_token, room_id)
    return {"id": room_id, "alice": (alice, alice_token), "bob": (bob, bob_token)}


def test_send_text_renders_mentions_as_pills_and_lists_them(synapse, workspace, room):
    bob, bob_token = room["bob"]
    text = "欢迎 @Bob <新朋友> and @Alice!"
    mentions = [{"id": bob, "name": "Bob"}, {"id": room["alice"][0], "name": "Alice"}]
    send(workspace, "send_text", room["id"], {"text": text, "mentions": mentions})

    [seen] = [e for e in synapse.room_messages(bob_token, room["id"]) if e["content"]["body"] == text]
    content = seen["content"]
    assert content["m.mentions"] == {"user_ids": [bob, room["alice"][0]]}
    assert content["format"] == "org.matrix.custom.html"
    assert f'<a href="https://matrix.to/#/{bob}">Bob</a>' in content["formatted_body"]
    assert "&lt;新朋友&gt;" in content["formatted_body"]  # the text itself is escaped, not taken as HTML


def test_a_resend_with_the_same_idempotency_key_is_one_message(synapse, workspace, room):
    first, message = send(workspace, "send_text", room["id"], {"text": "只发一次", "mentions": []}, key="once-1")
    again = adapter_get("matrix").send(message=message)

    assert again["event_id"] == first["event_id"]
    bodies = [e["content"]["body"] for e in synapse.room_messages(room["bob"][1], room["id"])]
    assert bodies.count("只发一次") == 1


def test_send_private_opens_a_direct_room_once_and_reuses_it(synapse, workspace, room, matrix_account, bot):
    bob, bob_token = room["bob"]
    send(workspace, "send_private", bob, {"text": "你好,这是私信"})
    direct = MatrixDirectRoom.objects.get(account=matrix_account, user_id=bob)
    assert synapse.membership(bot[1], direct.room_id, bob) == "invite"

    synapse.join(bob_token, direct.room_id)
    send(workspace, "send_private", bob, {"text": "第二条"})

    assert MatrixDirectRoom.objects.filter(account=matrix_account).count() == 1
    bodies = [e["content"]["body"] for e in synapse.room_messages(bob_token, direct.room_id)]
    assert bodies == ["你好,这是私信", "第二条"]


def test_remove_member_kicks_and_a_repeat_counts_as_done(synapse, workspace, room):
    bob, bob_token = room["bob"]
    send(workspace, "remove_member", room["id"], {"user": bob, "reason": "广告"})
    assert synapse.membership(room["alice"][1], room["id"], bob) == "leave"
    kick = synapse.state(room["alice"][1], room["id"], "m.room.member", bob)
    assert kick["reason"] == "广告"

    send(workspace, "remove_member", room["id"], {"user": bob, "reason": "广告"})  # already out: no error


def test_remove_member_without_power_says_what_to_fix(synapse, workspace, matrix_account, bot):
    alice, alice_token = synapse.register()
    bob, bob_token = synapse.register()
    room_id = synapse.create_room(alice_token, "Low power", invite=[bot[0], bob], bot=bot[0], bot_level=0)
    synapse.join(bot[1], room_id)
    synapse.join(bob_token, room_id)

    with pytest.raises(AdapterError) as refused:
        send(workspace, "remove_member", room_id, {"user": bob, "reason": "广告"})
    assert refused.value.permanent
    assert "power level 50" in str(refused.value)
    assert synapse.membership(alice_token, room_id, bob) == "join"


def test_set_announcement_posts_a_notice_and_pins_it_in_place_of_the_last(synapse, workspace, room):
    alice_token = room["alice"][1]
    first, _ = send(workspace, "set_announcement", room["id"], {"text": "本周直播:周三 20:00"})
    second, message = send(workspace, "set_announcement", room["id"], {"text": "本周直播改到周四 20:00"})
    adapter_get("matrix").send(message=message)  # a resend pins nothing twice

    pins = synapse.state(alice_token, room["id"], "m.room.pinned_events")
    assert pins["pinned"] == [second["event_id"]]
    notice = synapse.event(alice_token, room["id"], second["event_id"])
    assert notice["content"] == {"msgtype": "m.notice", "body": "本周直播改到周四 20:00"}
    assert first["event_id"] != second["event_id"]


def test_delete_message_redacts_it(synapse, workspace, room):
    bob, bob_token = room["bob"]
    event_id = synapse.send_text(bob_token, room["id"], "加我微信 xxx 领资料")
    send(workspace, "delete_message", room["id"], {"message_id": event_id, "reason": "广告"})

    redacted = synapse.event(bob_token, room["id"], event_id)
    assert redacted["content"] == {}
    assert redacted["unsigned"]["redacted_because"]["content"]["reason"] == "广告"


def test_rate_limited_by_synapse_is_a_temporary_error_with_the_wait(synapse, workspace, room, bot):
    synapse.set_ratelimit(bot[0], messages_per_second=1, burst_count=1)
    try:
        with pytest.raises(AdapterError) as slowed:
            for n in range(5):
                send(workspace, "send_text", room["id"], {"text": f"burst {n}", "mentions": []})
    finally:
        synapse.set_ratelimit(bot[0], 0, 0)
    assert not slowed.value.permanent
    assert slowed.value.retry_after is not None and 0 < slowed.value.retry_after <= 30


def test_rate_limits_come_from_the_account(workspace, matrix_account):
    from siyu.core.models import OutboxMessage

    message = OutboxMessage(workspace=workspace, channel="matrix", kind="send_text", target="!room:localhost")
    bot_limit, room_limit = adapter_get("matrix").rate_limits(message=message)
    assert bot_limit.key == f"matrix:{matrix_account.pk}"
    assert room_limit.key == f"matrix:{matrix_account.pk}:!room:localhost"
    assert (room_limit.per_second, room_limit.burst) == (matrix_account.room_per_second, matrix_account.room_burst)


def test_create_group_makes_a_public_room_once_and_a_full_code_gets_it_as_its_next_target(synapse, workspace, room):
    first = Group.objects.create(workspace=workspace, channel="matrix", external_id=room["id"], name="Test group", capacity=1)
    code = channel_code_create(workspace=workspace, name="数学营", backup_url="https://example.com/full", auto_create_group=True)
    code_target_add(code=code, group=first, url=f"https://matrix.to/#/{room['id']}", capacity=1)
    events_ingest(workspace=workspace, source="matrix", events=[{
        "type": "group.joined", "source_id": "$join-bob", "occurred_at": "2026-01-01T00:00:00Z",
        "actor": {"id": room["bob"][0]}, "group": {"id": room["id"]},
    }])
    assert open_visit(code.link).location == "https://example.com/full"  # full: a new group is asked for
    assert outbox_drain()["sent"] == 1

    target = code.targets.select_related("group").get(position=1)
    room_id = target.group.external_id
    assert (target.group.channel, target.group.name, target.capacity) == ("matrix", "数学营 2", 1)
    assert target.url.startswith(f"https://matrix.to/#/{room_id}?via=")
    assert open_visit(code.link).location == target.url
    carol, carol_token = synapse.register(displayname="Carol")
    synapse.join(carol_token, room_id)  # public: the link is enough
    assert synapse.membership(carol_token, room_id, carol) == "join"

    # A second attempt of the same message (the worker died before recording) finds the room it made.
    message = OutboxMessage.objects.get(kind="create_group")
    message.attempts = 2
    assert adapter_get("matrix").send(message=message)["group"]["id"] == room_id
