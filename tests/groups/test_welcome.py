from datetime import timedelta

from django.utils import timezone

from siyu.channels.services import outbox_drain
from siyu.channels.simulator.models import SimulatedDelivery
from siyu.core.models import OutboxMessage, OutboxStatus
from siyu.core.outbox import outbox_claim
from siyu.groups.models import Group, WelcomeBatch
from siyu.groups.services import bot_settings_save
from siyu.members.models import Member
from tests.conftest import ev
from tests.groups.helpers import join, outbox


def test_three_newcomers_within_the_window_get_one_welcome_naming_all_three(ingest, workspace):
    before = timezone.now()
    for name in ("ann", "bob", "cat"):
        ingest([join(name)])
    messages = outbox("send_text")
    assert len(messages) == 1
    payload = messages[0].payload
    assert payload["text"].startswith("@Ann @Bob @Cat 鼓掌欢迎")
    assert [m["name"] for m in payload["mentions"]] == ["Ann", "Bob", "Cat"]
    assert [m["id"] for m in payload["mentions"]] == ["@ann:example.org", "@bob:example.org", "@cat:example.org"]
    numbers = sorted(Member.objects.values_list("number", flat=True))
    assert "、".join(map(str, numbers)) in payload["text"]
    assert "Group g1" in payload["text"] and "群规" in payload["text"]
    # Debounced: due about 5 s after the latest join, not the first.
    assert before + timedelta(seconds=4) < messages[0].due_at <= timezone.now() + timedelta(seconds=5)


def test_a_flood_of_joins_is_never_one_message_per_join(ingest, workspace):
    for i in range(120):
        ingest([join(f"p{i}")])
    messages = outbox("send_text")
    assert len(messages) == 3  # at most 50 newcomers are mentioned in one welcome
    assert sum(len(m.payload["mentions"]) for m in messages) == 120


def test_the_welcome_waits_at_most_the_longest_wait_after_the_first_join(ingest, workspace):
    bot_settings_save(workspace=workspace, values={"welcome_window_seconds": 30, "welcome_max_wait_seconds": 40})
    ingest([join("ann")])
    first_join = timezone.now() - timedelta(seconds=35)
    WelcomeBatch.objects.update(started_at=first_join)  # as if Ann joined 35 s ago and people kept coming
    ingest([join("bob")])
    message = outbox("send_text")[0]
    assert message.due_at == first_join + timedelta(seconds=40)  # not 30 s after Bob
    assert [m["name"] for m in message.payload["mentions"]] == ["Ann", "Bob"]


def test_a_join_after_a_worker_claimed_the_welcome_starts_a_new_one(ingest, workspace):
    ingest([join("ann")])
    OutboxMessage.objects.update(due_at=timezone.now())
    assert len(outbox_claim(worker="w1")) == 1
    ingest([join("bob")])
    first, second = outbox("send_text")
    assert first.status == OutboxStatus.CLAIMED and [m["name"] for m in first.payload["mentions"]] == ["Ann"]
    assert second.status == OutboxStatus.PENDING and [m["name"] for m in second.payload["mentions"]] == ["Bob"]


def test_the_simulator_bot_delivers_the_merged_welcome_once(ingest, workspace):
    ingest([join("ann"), join("bob")])
    ingest([join("cat")])
    OutboxMessage.objects.update(due_at=timezone.now())
    assert outbox_drain()["sent"] == 1
    delivery = SimulatedDelivery.objects.get()
    assert delivery.kind == "send_text" and delivery.target == "!g1:example.org"
    assert delivery.payload["text"].startswith("@Ann @Bob @Cat")


def test_history_staff_and_own_events_are_not_welcomed(ingest, workspace):
    ingest([ev("group.joined", "old", actor="old", group="g1")])  # March 2026: history
    ingest([join("teacher", role="owner"), join("assistant", role="admin")])
    ingest([join("later", group="g2")], source="siyu")
    assert outbox() == []


def test_the_text_variables_and_a_text_without_name_still_mention_everyone(ingest, workspace):
    bot_settings_save(workspace=workspace, values={"welcome_text": "欢迎来到{group}!学号 {number}。{unknown}"})
    ingest([join("ann"), join("bob")])
    text = outbox("send_text")[0].payload["text"]
    numbers = "、".join(str(n) for n in Member.objects.order_by("number").values_list("number", flat=True))
    assert text == f"@Ann @Bob 欢迎来到Group g1!学号 {numbers}。{{unknown}}"


def test_welcome_off_in_one_group_only(ingest, workspace):
    ingest([join("ann", group="g1"), join("bob", group="g2")])
    OutboxMessage.objects.all().delete()
    g2 = Group.objects.get(external_id="!g2:example.org")
    bot_settings_save(workspace=workspace, group=g2, values={"welcome_enabled": False})
    ingest([join("cat", group="g1"), join("dan", group="g2")])
    assert [m.target for m in outbox("send_text")] == ["!g1:example.org"]


def test_an_archived_group_gets_no_welcome(ingest, workspace):
    ingest([join("ann")])
    OutboxMessage.objects.all().delete()
    Group.objects.update(status="archived")
    ingest([join("bob")])
    assert outbox() == []


def test_joins_from_before_the_bot_was_there_are_recorded_but_not_welcomed(ingest, workspace):
    from siyu.groups.models import Membership
    from tests.groups.helpers import join, outbox

    ingest([join("old1", history=True), join("old2", history=True)])
    assert Membership.objects.count() == 2
    assert outbox() == []


def _welcomed():
    return [[m["name"] for m in message.payload["mentions"]] for message in outbox("send_text")]


def test_a_rejoin_within_a_day_is_not_welcomed_again_and_one_after_a_day_is(ingest, workspace):
    from tests.groups.helpers import live

    ingest([join("ann", seconds_ago=300)])
    ingest([live("group.left", actor="ann", seconds_ago=200)])
    ingest([join("ann", seconds_ago=100)])
    assert _welcomed() == [["Ann"]]  # the default window is a day

    day = 86_400
    ingest([join("bob", seconds_ago=2 * day), live("group.left", actor="bob", seconds_ago=day - 60)])
    ingest([join("cat", seconds_ago=2 * day), live("group.left", actor="cat", seconds_ago=day + 60)])
    ingest([join("bob"), join("cat")])
    assert _welcomed() == [["Ann", "Cat"]]  # Bob left 23 h 59 min ago; Cat a day and a minute ago


def test_a_leave_and_rejoin_in_one_batch_and_a_window_of_zero(ingest, workspace):
    from tests.groups.helpers import live

    ingest([join("ann", seconds_ago=30)])
    OutboxMessage.objects.update(status=OutboxStatus.SENT)  # that welcome went out
    ingest([live("group.left", actor="ann", seconds_ago=20), join("ann", seconds_ago=10), join("bob", seconds_ago=10)])
    assert _welcomed() == [["Ann"], ["Bob"]]
    bot_settings_save(workspace=workspace, values={"welcome_rejoin_seconds": 0})  # welcome every join
    OutboxMessage.objects.update(status=OutboxStatus.SENT)
    ingest([live("group.left", actor="ann", seconds_ago=5), join("ann")])
    assert _welcomed() == [["Ann"], ["Bob"], ["Ann"]]
