"""The inbound side against a real Synapse: invites, groups, joins and messages reach the ledger once each,
in-process and through a real `siyu channel matrix` process that is killed and restarted."""
import signal
import subprocess
import threading
from datetime import timedelta

import pytest

from siyu.analytics import metrics, selectors
from siyu.analytics.rollups import rollups_refresh
from siyu.channels.matrix import sync as matrix_sync
from siyu.channels.matrix.models import MatrixAccount
from siyu.channels.matrix.sync import matrix_sync_once
from siyu.core.events import EventType
from siyu.core.models import Event
from siyu.groups.models import Group, GroupDailyStats, Membership
from siyu.members.models import MemberDailyActivity, MemberDay, MemberStats
from tests.conftest import child_env, siyu_process, wait_for


def texts(workspace):
    return list(
        Event.objects.filter(workspace=workspace, source="matrix", type=EventType.GROUP_MESSAGE)
        .order_by("occurred_at", "id").values_list("data__text", flat=True)
    )


def sync_once(account):
    account.refresh_from_db()
    return matrix_sync_once(account=account)


@pytest.mark.django_db
def test_the_bot_accepts_an_invite_and_the_room_becomes_a_group_with_its_members(synapse, bot, matrix_account, workspace):
    alice, alice_token = synapse.register(displayname="Alice")
    room_id = synapse.create_room(alice_token, "读书会", invite=[bot[0]], bot=bot[0], bot_level=50)
    sync_once(matrix_account)  # sees the invite and joins
    assert room_id in synapse.joined_rooms(bot[1])

    bob, bob_token = synapse.register(displayname="Bob")
    synapse.invite(alice_token, room_id, bob)
    synapse.join(bob_token, room_id)
    synapse.send_text(bob_token, room_id, "大家好")
    synapse.send_text(bot[1], room_id, "the bot's own words are not events")
    sync_once(matrix_account)

    group = Group.objects.get(workspace=workspace, channel="matrix", external_id=room_id)
    assert group.name == "读书会"
    roles = dict(Membership.objects.filter(group=group, left_at__isnull=True).values_list("member__display_name", "role"))
    assert roles == {"Alice": "owner", "Bob": "member"}
    assert texts(workspace) == ["大家好"]

    matrix_account.refresh_from_db()
    assert matrix_account.since and matrix_account.last_sync_at and not matrix_account.last_error
    matrix_account.since = ""  # the whole history again: the ledger stores nothing twice
    assert matrix_sync_once(account=matrix_account).stored == 0


@pytest.mark.django_db
def test_a_limited_timeline_is_backfilled_so_no_message_is_missed(synapse, bot, matrix_account, workspace, monkeypatch):
    alice, alice_token = synapse.register(displayname="Alice")
    room_id = synapse.create_room(alice_token, "Busy", invite=[bot[0]], bot=bot[0])
    sync_once(matrix_account)
    sync_once(matrix_account)
    monkeypatch.setitem(matrix_sync.SYNC_FILTER["room"], "timeline", {"limit": 3, "types": matrix_sync.PARSED_TYPES})
    monkeypatch.setattr(matrix_sync, "BACKFILL_PAGE", 4)
    for n in range(12):
        synapse.send_text(alice_token, room_id, f"消息 {n}")
    sync_once(matrix_account)

    assert texts(workspace) == [f"消息 {n}" for n in range(12)]


@pytest.mark.django_db
def test_a_sync_failure_is_recorded_on_the_account(synapse, matrix_account, bot):
    synapse.call("POST", "/_matrix/client/v3/logout", bot[1], json={})
    assert matrix_sync.channel_run(once=True) == 1
    matrix_account.refresh_from_db()
    assert "access token" in matrix_account.last_error and matrix_account.last_error_at


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_the_sync_process_killed_mid_stream_and_restarted_stores_every_message_exactly_once(synapse, bot, matrix_account, workspace):
    alice, alice_token = synapse.register(displayname="Alice")
    room_id = synapse.create_room(alice_token, "Stream", invite=[bot[0]], bot=bot[0])
    env = child_env()
    command = ("channel", "matrix", "--workspace", workspace.slug, "--reload-seconds", "0.5")
    process = siyu_process(*command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: Group.objects.filter(workspace=workspace, external_id=room_id).exists(), what="the group")
        wanted = [f"第 {n} 条" for n in range(40)]
        sender = threading.Thread(target=lambda: [synapse.send_text(alice_token, room_id, text) for text in wanted])
        sender.start()
        wait_for(lambda: len(texts(workspace)) >= 8, what="the first messages")
        process.kill()
        process.wait(timeout=10)
        assert len(texts(workspace)) < len(wanted), "the process was not killed mid-stream"

        process = siyu_process(*command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        sender.join(timeout=60)
        wait_for(lambda: len(texts(workspace)) >= len(wanted), what="every message")
        assert sorted(texts(workspace)) == sorted(wanted)  # none lost, none twice

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        stderr = process.stderr.read()
        assert "Traceback" not in stderr, stderr
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert MatrixAccount.objects.get(pk=matrix_account.pk).since


@pytest.mark.django_db
def test_edits_are_stored_but_are_no_new_messages_in_any_count(synapse, bot, matrix_account, workspace):
    """Issue 15.5: a room of 10 messages and 2 edits showed 12 messages. The room is its teacher's: a
    room's creator is its owner, staff (15.11), whose messages are no member's."""
    alice, alice_token = synapse.register(displayname="Alice")
    _teacher, teacher_token = synapse.register(displayname="Teacher")
    room_id = synapse.create_room(teacher_token, "Edits", invite=[bot[0], alice], bot=bot[0])
    synapse.join(alice_token, room_id)
    sync_once(matrix_account)
    sent = [synapse.send_text(alice_token, room_id, f"message {n}") for n in range(10)]
    for n, original in enumerate(sent[:2]):
        synapse.send_text(alice_token, room_id, f"* message {n}, fixed", **{
            "m.new_content": {"msgtype": "m.text", "body": f"message {n}, fixed"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": original},
        })
    sync_once(matrix_account)

    stored = Event.objects.filter(workspace=workspace, type=EventType.GROUP_MESSAGE)
    assert stored.count() == 12  # stored as before: moderation reads what a message says now
    assert sorted(stored.filter(data__has_key="replaces").values_list("data__replaces", flat=True)) == sorted(sent[:2])
    group = Group.objects.get(workspace=workspace, external_id=room_id)
    member = Membership.objects.get(group=group, member__display_name="Alice").member
    assert MemberStats.objects.get(member=member).messages == 10
    assert sum(MemberDay.objects.filter(member=member).values_list("messages", flat=True)) == 10
    assert sum(MemberDailyActivity.objects.filter(member=member).values_list("messages", flat=True)) == 10
    assert sum(GroupDailyStats.objects.filter(group=group).values_list("messages", flat=True)) == 10
    rollups_refresh(workspace=workspace)
    today = stored.latest("occurred_at").occurred_at.astimezone(workspace.tz).date()
    first = today - timedelta(days=1)
    assert metrics.period_totals(workspace=workspace, first=first, last=today, group=group.pk).messages == 10
    assert metrics.period_totals(workspace=workspace, first=first, last=today).messages == 10
    assert sum(map(sum, selectors.message_heatmap(group=group, first=first, last=today))) == 10
