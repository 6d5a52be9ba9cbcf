"""The group bot end to end on a real Synapse, with the production processes: `siyu channel matrix`
(sync → ingest → the bot's reactions → outbox) and a Huey consumer (outbox → Synapse).

What a person in the room sees is read back from Synapse with that person's own token.
"""
import subprocess
import time
import uuid

import pytest

from siyu.core.models import OutboxMessage, OutboxStatus
from siyu.groups.models import BotSettings, Group, KeywordReply, MatchKind, ModerationKind, ModerationRule, Strike
from siyu.members.models import Member
from tests.conftest import child_env, siyu_process, wait_for

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def live_bot(workspace, matrix_account):
    """The sync process and a Huey consumer for the test workspace, stopped at the end."""
    env = child_env(SIYU_HUEY_NAME=f"test-{uuid.uuid4().hex[:8]}")
    processes = [
        siyu_process("channel", "matrix", "--workspace", workspace.slug, "--reload-seconds", "0.5", "--poll-seconds", "5",
                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True),
        siyu_process("run_huey", "--quiet", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True),
    ]
    yield processes
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        stderr = process.stderr.read()
        assert "Traceback" not in stderr, stderr


def room_with_bot(synapse, bot, workspace, name="新人群"):
    owner, owner_token = synapse.register(displayname="群主")
    room_id = synapse.create_room(owner_token, name, invite=[bot[0]], bot=bot[0])
    group = wait_for(lambda: Group.objects.filter(workspace=workspace, external_id=room_id).first(), what="the group")
    wait_for(lambda: room_id in synapse.joined_rooms(bot[1]), what="the bot in the room")
    return room_id, owner_token, group


def people_join(synapse, owner_token, room_id, names):
    people = []
    for name in names:
        user_id, token = synapse.register(displayname=name)
        synapse.invite(owner_token, room_id, user_id)
        people.append((user_id, token))
    for _user_id, token in people:
        synapse.join(token, room_id)
    return people


def bot_says(synapse, token, room_id, bot_id):
    return [e for e in synapse.room_messages(token, room_id) if e["sender"] == bot_id and e["content"].get("body")]


def test_three_newcomers_within_two_seconds_get_one_welcome_naming_all_three(synapse, bot, workspace, live_bot):
    BotSettings.objects.create(workspace=workspace, welcome_window_seconds=3, welcome_text="{name} 鼓掌欢迎!来自「{group}」")
    room_id, owner_token, _group = room_with_bot(synapse, bot, workspace)
    started = time.monotonic()
    people = people_join(synapse, owner_token, room_id, ["小红", "小明", "小刚"])
    assert time.monotonic() - started < 2

    welcome = wait_for(lambda: bot_says(synapse, owner_token, room_id, bot[0]), timeout=30, what="the welcome")
    time.sleep(4)  # longer than the window: a second welcome would have arrived by now
    said = bot_says(synapse, owner_token, room_id, bot[0])
    assert len(said) == 1, [e["content"]["body"] for e in said]
    content = welcome[0]["content"]
    assert all(f"@{name}" in content["body"] for name in ("小红", "小明", "小刚")) and "鼓掌欢迎" in content["body"]
    assert sorted(content["m.mentions"]["user_ids"]) == sorted(user_id for user_id, _ in people)


def test_a_link_posted_twice_gets_one_warning_then_removal_and_a_workspace_bar(synapse, bot, workspace, live_bot):
    ModerationRule.objects.create(workspace=workspace, name="禁止广告链接", kind=ModerationKind.LINKS)
    BotSettings.objects.create(workspace=workspace, welcome_enabled=False)
    room_id, owner_token, group = room_with_bot(synapse, bot, workspace)
    [(spammer, spammer_token)] = people_join(synapse, owner_token, room_id, ["广告哥"])
    wait_for(lambda: Member.objects.filter(workspace=workspace, display_name="广告哥").exists(), what="the member")

    synapse.send_text(spammer_token, room_id, "低价好货 https://spam.example.com/buy")
    warning = wait_for(lambda: bot_says(synapse, owner_token, room_id, bot[0]), what="the warning")
    assert "1/2" in warning[0]["content"]["body"] and spammer in warning[0]["content"]["m.mentions"]["user_ids"]

    synapse.send_text(spammer_token, room_id, "再发一次 https://spam.example.com/buy")
    wait_for(lambda: synapse.membership(owner_token, room_id, spammer) == "leave", what="the removal")
    member = Member.objects.get(workspace=workspace, display_name="广告哥")
    wait_for(lambda: Member.objects.get(pk=member.pk).barred_at is not None, what="the bar")
    time.sleep(1)
    assert len(bot_says(synapse, owner_token, room_id, bot[0])) == 1  # one warning, no second one at removal
    strikes = list(Strike.objects.filter(group=group, member=member).order_by("number").values_list("number", "actions"))
    assert [n for n, _ in strikes] == [1, 2]
    assert "remove" in strikes[1][1]
    # both messages are gone from the room (redacted)
    remaining = [e for e in synapse.room_messages(owner_token, room_id) if e["sender"] == spammer and e["content"].get("body")]
    assert remaining == []


def test_the_rules_keyword_sent_five_times_in_ten_seconds_is_answered_once(synapse, bot, workspace, live_bot):
    BotSettings.objects.create(workspace=workspace, welcome_enabled=False, rules_text="群规:不发广告,友善交流。")
    KeywordReply.objects.create(workspace=workspace, match=MatchKind.EXACT, pattern="群规", reply="{rules}")
    room_id, owner_token, _group = room_with_bot(synapse, bot, workspace)
    [(_asker, asker_token)] = people_join(synapse, owner_token, room_id, ["提问者"])
    wait_for(lambda: Member.objects.filter(workspace=workspace, display_name="提问者").exists(), what="the member")
    for _ in range(5):
        synapse.send_text(asker_token, room_id, "群规")
        time.sleep(1.5)
    time.sleep(2)
    said = bot_says(synapse, owner_token, room_id, bot[0])
    assert [e["content"]["body"] for e in said] == ["群规:不发广告,友善交流。"]


def test_a_sender_whose_name_came_in_an_earlier_sync_is_mentioned_by_name_with_one_at(synapse, bot, workspace, live_bot):
    """Her member event is in an earlier /sync than her messages: the cache of the room's member state names
    her; without a cached name (a cache started after she joined) /joined_members does."""
    from siyu.channels.matrix.models import MatrixMemberName

    BotSettings.objects.create(workspace=workspace, welcome_enabled=False, rules_text="群规:友善交流。")
    KeywordReply.objects.create(workspace=workspace, match=MatchKind.EXACT, pattern="群规", reply="{name} {rules}")
    ModerationRule.objects.create(workspace=workspace, name="禁止广告链接", kind=ModerationKind.LINKS)
    room_id, owner_token, _group = room_with_bot(synapse, bot, workspace)
    [(carol, carol_token)] = people_join(synapse, owner_token, room_id, ["Carol"])
    wait_for(lambda: Member.objects.filter(workspace=workspace, display_name="Carol").exists(), what="the member")

    synapse.send_text(carol_token, room_id, "群规")
    [reply] = wait_for(lambda: bot_says(synapse, carol_token, room_id, bot[0]), what="the reply")
    assert reply["content"]["body"] == "@Carol 群规:友善交流。"
    assert reply["content"]["formatted_body"].startswith(f'<a href="https://matrix.to/#/{carol}">Carol</a> ')
    assert reply["content"]["m.mentions"]["user_ids"] == [carol]

    MatrixMemberName.objects.filter(user_id=carol).delete()
    synapse.send_text(carol_token, room_id, "低价好货 https://spam.example.com/buy")
    warning = wait_for(lambda: bot_says(synapse, carol_token, room_id, bot[0])[1:], what="the warning")[0]["content"]
    assert warning["body"].startswith("@Carol 请注意") and "@@" not in warning["body"], warning["body"]
    assert f'<a href="https://matrix.to/#/{carol}">Carol</a>' in warning["formatted_body"]
    assert MatrixMemberName.objects.get(user_id=carol, room_id=room_id).display_name == "Carol"


def test_a_rejoin_within_the_window_gets_no_second_welcome_and_one_after_it_does(synapse, bot, workspace, live_bot):
    from siyu.groups.models import Membership

    window = 8
    BotSettings.objects.create(
        workspace=workspace, welcome_window_seconds=1, welcome_rejoin_seconds=window, welcome_text="{name} 欢迎!",
    )
    room_id, owner_token, group = room_with_bot(synapse, bot, workspace)
    [(carol, carol_token)] = people_join(synapse, owner_token, room_id, ["Carol"])
    wait_for(lambda: bot_says(synapse, owner_token, room_id, bot[0]), what="the first welcome")

    def stays(closed):
        return Membership.objects.filter(group=group, member__display_name="Carol", left_at__isnull=not closed).count()

    def leave_and_rejoin(wait):
        synapse.leave(carol_token, room_id)
        left = stays(closed=True) + 1
        wait_for(lambda: stays(closed=True) == left, what="the leave")
        time.sleep(wait)
        synapse.invite(owner_token, room_id, carol)
        synapse.join(carol_token, room_id)
        wait_for(lambda: stays(closed=False) == 1, what="the rejoin")

    leave_and_rejoin(0)
    time.sleep(4)  # longer than the welcome window and a worker's round
    assert [e["content"]["body"] for e in bot_says(synapse, owner_token, room_id, bot[0])] == ["@Carol 欢迎!"]

    leave_and_rejoin(window + 1)
    said = wait_for(lambda: bot_says(synapse, owner_token, room_id, bot[0])[1:], what="the welcome after the window")
    assert [e["content"]["body"] for e in said] == ["@Carol 欢迎!"]
    assert said[0]["content"]["m.mentions"]["user_ids"] == [carol]


def test_a_burst_of_fifty_against_a_strict_server_all_arrive_in_order_once(synapse, bot, workspace, matrix_account):
    from siyu.channels.services import outbox_drain
    from siyu.core.outbox import outbox_enqueue

    owner, owner_token = synapse.register(displayname="群主")
    room_id = synapse.create_room(owner_token, "限流群", invite=[bot[0]], bot=bot[0])
    synapse.join(bot[1], room_id)
    synapse.set_ratelimit(bot[0], 5, 5)  # Synapse refuses the bot beyond 5 a second, bursts of 5
    for n in range(50):
        outbox_enqueue(
            workspace=workspace, channel="matrix", kind="send_text", target=room_id,
            payload={"text": f"第 {n} 条", "mentions": []}, idempotency_key=f"burst-{n}",
        )
    deadline = time.monotonic() + 90
    while OutboxMessage.objects.exclude(status=OutboxStatus.SENT).exists() and time.monotonic() < deadline:
        outbox_drain()
        time.sleep(0.2)
    assert not OutboxMessage.objects.exclude(status=OutboxStatus.SENT).exists()
    bodies = [e["content"]["body"] for e in bot_says(synapse, owner_token, room_id, bot[0])]
    assert bodies == [f"第 {n} 条" for n in range(50)]  # all, in order, none twice
    assert OutboxMessage.objects.filter(attempts=0).count() == 0
    from siyu.core.events import EventType
    from siyu.core.models import Event

    assert Event.objects.filter(workspace=workspace, type=EventType.OUTBOX_RETRY).exists()  # Synapse did say 429


@pytest.mark.parametrize("stall", ["hold", "mute"])
def test_a_scheduled_announcement_is_delivered_once_though_the_worker_dies_after_claiming_it(
    synapse, bot, workspace, matrix_account, stall
):
    """hold: the worker dies before Synapse saw the send; mute: after Synapse acted, before the answer."""
    from datetime import timedelta

    from django.utils import timezone

    from siyu.groups.services import announcement_create, announcements_post_due
    from tests.matrix.proxy import Relay

    owner, owner_token = synapse.register(displayname="群主")
    room_id = synapse.create_room(owner_token, "公告群", invite=[bot[0]], bot=bot[0])
    synapse.join(bot[1], room_id)
    group = Group.objects.create(workspace=workspace, channel="matrix", external_id=room_id, name="公告群")
    relay = Relay(int(synapse.url.rsplit(":", 1)[1])).start()
    matrix_account.homeserver = f"http://127.0.0.1:{relay.port}"
    matrix_account.save()

    announcement_create(workspace=workspace, group=group, text="今晚 20:00 直播,不见不散", at=timezone.now() + timedelta(seconds=1))
    time.sleep(1.2)
    assert announcements_post_due() == 1
    message = OutboxMessage.objects.get(kind="set_announcement")

    lease = 4
    env = child_env(SIYU_OUTBOX_LEASE_SECONDS=lease)
    relay.mode = stall
    forwarded = relay.forwarded
    worker = siyu_process("outbox", "drain", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: OutboxMessage.objects.filter(pk=message.pk, status=OutboxStatus.CLAIMED).exists(), what="the claim")
        if stall == "mute":
            wait_for(lambda: relay.forwarded > forwarded, what="the send reaching Synapse")
            wait_for(lambda: bot_says(synapse, owner_token, room_id, bot[0]), what="Synapse acting")
        else:
            time.sleep(0.5)
    finally:
        worker.kill()
        worker.wait(timeout=10)
    relay.mode = "pass"
    time.sleep(lease + 0.5)
    restarted = siyu_process("outbox", "drain", env=env, stdout=subprocess.PIPE, text=True)
    out, _ = restarted.communicate(timeout=60)
    assert "sent 1" in out, out
    said = bot_says(synapse, owner_token, room_id, bot[0])
    assert [e["content"]["body"] for e in said] == ["今晚 20:00 直播,不见不散"]
    pinned = synapse.state(owner_token, room_id, "m.room.pinned_events")
    assert pinned and pinned["pinned"] == [said[0]["event_id"]]
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.SENT, 2)
    relay.close()
