from datetime import timedelta

import pytest
from django.utils import timezone, translation

from siyu.channels.services import outbox_drain
from siyu.channels.simulator.models import SimulatedDelivery
from siyu.core.events import EventType
from siyu.core.models import Event, OutboxMessage, OutboxStatus
from siyu.core.outbox import outbox_claim, outbox_enqueue, outbox_record_result


def enqueue(workspace, key="k1", **payload):
    return outbox_enqueue(
        workspace=workspace, channel="simulator", kind="send_text", target="!g1", payload={"text": "hello", **payload},
        idempotency_key=key,
    )


def outcomes():
    return list(Event.objects.filter(source="siyu").order_by("id").values_list("type", flat=True))


def test_enqueue_is_idempotent_per_workspace(workspace, make_workspace):
    first = enqueue(workspace)
    assert enqueue(workspace).pk == first.pk
    assert enqueue(make_workspace()).pk != first.pk
    assert OutboxMessage.objects.count() == 2


def test_a_due_message_is_sent_once_and_the_outcome_recorded(workspace):
    message = enqueue(workspace)
    assert outbox_drain() == {"sent": 1, "retry": 0, "failed": 0, "lost": 0, "deferred": 0}
    assert outbox_drain()["sent"] == 0
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.SENT, 1)
    delivery = SimulatedDelivery.objects.get()
    assert (delivery.idempotency_key, delivery.target, delivery.payload["text"]) == ("k1", "!g1", "hello")
    assert outcomes() == [EventType.OUTBOX_SENT]


def test_messages_due_later_wait(workspace):
    outbox_enqueue(
        workspace=workspace, channel="simulator", kind="send_text", target="!g1", payload={}, idempotency_key="later",
        due_at=timezone.now() + timedelta(hours=1),
    )
    assert outbox_claim() == []


def test_a_claimed_message_is_not_claimed_twice_until_its_lease_ends(workspace, settings):
    enqueue(workspace)
    assert len(outbox_claim(worker="a")) == 1
    assert outbox_claim(worker="b") == []
    later = timezone.now() + timedelta(seconds=settings.SIYU_OUTBOX_LEASE_SECONDS + 1)
    taken = outbox_claim(worker="b", now=later)
    assert [m.claimed_by for m in taken] == ["b"] and taken[0].attempts == 2


def test_a_worker_that_lost_its_claim_cannot_record(workspace, settings):
    enqueue(workspace)
    [mine] = outbox_claim(worker="a")
    later = timezone.now() + timedelta(seconds=settings.SIYU_OUTBOX_LEASE_SECONDS + 1)
    outbox_claim(worker="b", now=later)
    assert outbox_record_result(message=mine) is None
    assert OutboxMessage.objects.get().status == OutboxStatus.CLAIMED


def test_temporary_errors_back_off_then_succeed(workspace, settings):
    message = enqueue(workspace, simulate={"fail": "temporary", "attempts": [1, 2]})
    with translation.override("en"):
        assert outbox_drain()["retry"] == 1
    message.refresh_from_db()
    assert message.status == OutboxStatus.PENDING and "rate limit" in message.last_error
    assert message.due_at > timezone.now()
    assert outbox_drain()["sent"] == 0  # not due yet
    OutboxMessage.objects.update(due_at=timezone.now())
    assert outbox_drain()["retry"] == 1
    OutboxMessage.objects.update(due_at=timezone.now())
    assert outbox_drain()["sent"] == 1
    assert outcomes() == [EventType.OUTBOX_RETRY, EventType.OUTBOX_RETRY, EventType.OUTBOX_SENT]
    assert SimulatedDelivery.objects.count() == 1


def test_the_platforms_retry_after_is_honoured(workspace):
    message = enqueue(workspace, simulate={"fail": "temporary", "retry_after": 120})
    before = timezone.now()
    outbox_drain()
    message.refresh_from_db()
    assert timedelta(seconds=119) <= message.due_at - before <= timedelta(seconds=125)


def test_permanent_errors_give_up_at_once(workspace):
    message = enqueue(workspace, simulate={"fail": "permanent"})
    assert outbox_drain()["failed"] == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.FAILED, 1)
    assert outcomes() == [EventType.OUTBOX_FAILED]
    assert not SimulatedDelivery.objects.exists()


def test_temporary_errors_give_up_after_the_last_attempt(workspace, settings):
    settings.SIYU_OUTBOX_MAX_ATTEMPTS = 3
    message = enqueue(workspace, simulate={"fail": "temporary"})
    for _ in range(3):
        OutboxMessage.objects.update(due_at=timezone.now())
        outbox_drain()
    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.FAILED, 3)
    assert outcomes() == [EventType.OUTBOX_RETRY, EventType.OUTBOX_RETRY, EventType.OUTBOX_FAILED]


@pytest.mark.parametrize("channel, kind", [("nowhere", "send_text"), ("simulator", "launch_rocket")])
def test_unknown_channels_and_kinds_fail_permanently(workspace, channel, kind):
    outbox_enqueue(workspace=workspace, channel=channel, kind=kind, target="x", payload={}, idempotency_key="k")
    assert outbox_drain()["failed"] == 1
    assert OutboxMessage.objects.get().status == OutboxStatus.FAILED


class Exploding(Exception):
    pass


def test_an_unexpected_adapter_crash_is_a_temporary_error_not_a_stuck_claim(workspace, monkeypatch):
    from siyu.channels.simulator.adapter import SimulatorAdapter

    def crash(self, *, message):
        raise Exploding("connection reset by peer")

    monkeypatch.setattr(SimulatorAdapter, "send", crash)  # the platform's edge, not our code
    first, second = enqueue(workspace, key="a"), enqueue(workspace, key="b")
    counts = outbox_drain()
    assert (counts["retry"], counts["deferred"]) == (1, 1)  # the second waits behind the first, in order
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == OutboxStatus.PENDING and "connection reset" in first.last_error and first.held
    assert (second.status, second.attempts, second.held) == (OutboxStatus.PENDING, 0, False)
    assert second.due_at == first.due_at
    assert outcomes() == [EventType.OUTBOX_RETRY]


def test_each_drain_claims_under_its_own_name():
    # Two threads of one consumer process must not be able to record each other's claims.
    from siyu.channels.services import drainer_name

    assert drainer_name() != drainer_name()


def test_a_claim_is_renewed_before_each_send_and_a_lost_one_is_skipped(workspace, settings):
    from siyu.core.outbox import outbox_claim_renew

    enqueue(workspace)
    [mine] = outbox_claim(worker="a")
    assert outbox_claim_renew(message=mine) is True
    later = timezone.now() + timedelta(seconds=settings.SIYU_OUTBOX_LEASE_SECONDS + 1)
    outbox_claim(worker="b", now=later)
    assert outbox_claim_renew(message=mine) is False


def test_a_retry_schedules_a_drain_at_its_due_time(workspace):
    from siyu.channels.tasks import HUEY, drain_outbox_task

    enqueue(workspace, simulate={"fail": "temporary", "retry_after": 5})
    drain_outbox_task.call_local()
    due_at = OutboxMessage.objects.get().due_at.replace(tzinfo=None)  # Huey keeps etas as naive UTC
    # Queued with an eta; the consumer holds it in its schedule until then.
    etas = [t.eta for t in HUEY.pending() if t.name.endswith("drain_outbox_task") and t.eta]
    assert any(abs((eta - due_at).total_seconds()) < 1 for eta in etas), etas


def deliveries():
    return list(SimulatedDelivery.objects.order_by("id").values_list("idempotency_key", flat=True))


def test_a_held_message_keeps_the_rooms_later_messages_back_but_not_other_rooms(workspace):
    first = enqueue(workspace, key="a", simulate={"fail": "temporary", "retry_after": 30})
    enqueue(workspace, key="b")
    outbox_enqueue(workspace=workspace, channel="simulator", kind="send_text", target="!other", payload={"text": "x"}, idempotency_key="c")
    counts = outbox_drain()
    assert (counts["sent"], counts["retry"], counts["deferred"]) == (1, 1, 1)
    assert deliveries() == ["c"]
    enqueue(workspace, key="d")  # queued while "a" is held: it waits too
    assert outbox_drain()["sent"] == 0
    first.refresh_from_db()
    assert first.attempts == 0  # "slow down" is not a failed attempt
    OutboxMessage.objects.filter(pk=first.pk).update(due_at=timezone.now(), payload={"text": "hello"})  # the platform recovered
    OutboxMessage.objects.exclude(pk=first.pk).filter(status=OutboxStatus.PENDING).update(due_at=timezone.now())
    outbox_drain()
    assert deliveries() == ["c", "a", "b", "d"]


def test_a_message_scheduled_for_later_does_not_hold_the_room(workspace):
    outbox_enqueue(
        workspace=workspace, channel="simulator", kind="set_announcement", target="!g1", payload={"text": "8pm"},
        idempotency_key="later", due_at=timezone.now() + timedelta(hours=1),
    )
    enqueue(workspace, key="now")
    assert outbox_drain()["sent"] == 1
    assert deliveries() == ["now"]


def test_a_rooms_rate_limit_spaces_the_sends_and_keeps_their_order(workspace):
    for n in range(5):
        enqueue(workspace, key=f"m{n}", simulate={"rate_limit": {"per_second": 2, "burst": 2}})
    counts = outbox_drain()
    assert (counts["sent"], counts["deferred"]) == (2, 3)
    held = OutboxMessage.objects.filter(status=OutboxStatus.PENDING).order_by("id")
    assert [m.held for m in held] == [True, False, False]
    assert all(m.attempts == 0 for m in held)
    deadline = timezone.now() + timedelta(seconds=10)
    while OutboxMessage.objects.filter(status=OutboxStatus.PENDING).exists() and timezone.now() < deadline:
        outbox_drain()
    assert deliveries() == [f"m{n}" for n in range(5)]
    sent = list(OutboxMessage.objects.order_by("id").values_list("sent_at", flat=True))
    assert (sent[4] - sent[0]).total_seconds() >= 1.4  # 2 at once, then one every 0.5 s


def test_rate_slots_follow_the_generic_cell_rate_algorithm(db):
    from datetime import datetime
    from datetime import timezone as tz

    from siyu.channels.base import RateLimit
    from siyu.core.outbox import rate_slots_take

    t0 = datetime(2026, 1, 1, tzinfo=tz.utc)
    room, bot = RateLimit("room", per_second=1, burst=3), RateLimit("bot", per_second=10, burst=1)
    assert [rate_slots_take([room], now=t0) for _ in range(3)] == [0, 0, 0]
    assert rate_slots_take([room], now=t0) == pytest.approx(1.0)
    assert rate_slots_take([room], now=t0 + timedelta(seconds=1)) == 0
    assert rate_slots_take([room, bot], now=t0 + timedelta(seconds=1)) == pytest.approx(1.0)
    # a refused send takes no slot from either limit
    assert rate_slots_take([bot], now=t0 + timedelta(seconds=1)) == 0


def test_a_failed_message_can_be_retried_from_the_console(workspace):
    from siyu.core.outbox import outbox_retry

    message = enqueue(workspace, simulate={"fail": "permanent"})
    outbox_drain()
    message.refresh_from_db()
    assert message.status == OutboxStatus.FAILED
    OutboxMessage.objects.filter(pk=message.pk).update(payload={"text": "hello"})  # the cause was fixed
    assert outbox_retry(message=message) is True
    assert outbox_drain()["sent"] == 1
    assert outbox_retry(message=message) is False  # only failed messages go back
