"""The outbox across real processes: a worker killed mid-send, and real Huey consumers (SQLite, Redis)."""
import subprocess
import sys
import time
import uuid

import pytest
from django.utils import timezone

from siyu.channels.simulator.models import SimulatedDelivery
from siyu.core.models import OutboxMessage, OutboxStatus
from siyu.core.outbox import outbox_enqueue
from tests.conftest import ROOT, child_env, port_open, require, siyu_process, wait_for

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]
LEASE = 4  # seconds; a fresh worker process must start well within it, even on a loaded machine


def enqueue(workspace, simulate):
    return outbox_enqueue(
        workspace=workspace, channel="simulator", kind="send_text", target="!room", idempotency_key="welcome-1",
        payload={"text": "欢迎", "simulate": simulate},
    )


def drain_in_new_process(env):
    done = subprocess.run(
        [sys.executable, "-m", "siyu.cli", "outbox", "drain"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def kill_when(process, predicate, what):
    try:
        wait_for(predicate, timeout=30, what=what)
    finally:
        process.kill()
        process.wait(timeout=10)


def test_a_worker_killed_after_claiming_is_taken_over_and_the_message_sent_once(workspace):
    message = enqueue(workspace, {"delay": 60, "attempts": [1]})
    env = child_env(SIYU_OUTBOX_LEASE_SECONDS=LEASE)
    first = siyu_process("outbox", "drain", env=env)
    kill_when(first, lambda: OutboxMessage.objects.filter(pk=message.pk, status=OutboxStatus.CLAIMED).exists(), "first claim")
    assert not SimulatedDelivery.objects.exists()

    lease_ends = OutboxMessage.objects.get(pk=message.pk).claimed_until
    out = drain_in_new_process(env)
    if timezone.now() < lease_ends:  # (on a loaded machine the new process may start after the lease ended)
        assert "sent 0" in out  # the dead worker's lease still holds
    time.sleep(max(0.0, (lease_ends - timezone.now()).total_seconds()) + 0.5)
    out += drain_in_new_process(env)
    assert "sent 1" in out

    message.refresh_from_db()
    assert (message.status, message.attempts) == (OutboxStatus.SENT, 2)
    delivery = SimulatedDelivery.objects.get()
    assert delivery.deliveries_requested == 1


def test_a_worker_killed_after_delivering_does_not_make_the_platform_act_twice(workspace):
    message = enqueue(workspace, {"delay_after": 60, "attempts": [1]})
    env = child_env(SIYU_OUTBOX_LEASE_SECONDS=LEASE)
    first = siyu_process("outbox", "drain", env=env)
    kill_when(first, lambda: SimulatedDelivery.objects.exists(), "first delivery")
    message.refresh_from_db()
    assert message.status == OutboxStatus.CLAIMED  # it died before recording the outcome

    time.sleep(LEASE + 0.5)
    drain_in_new_process(env)

    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT
    delivery = SimulatedDelivery.objects.get()  # one delivery: the resend carried the same idempotency key
    assert delivery.deliveries_requested == 2


def run_consumer_and_enqueue(workspace, **extra_env):
    env = child_env(SIYU_HUEY_NAME=f"test-{uuid.uuid4().hex[:8]}", **extra_env)
    consumer = siyu_process("run_huey", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        queued = subprocess.run(
            [sys.executable, "-m", "siyu.cli", "outbox", "enqueue", "--workspace", workspace.slug, "--channel", "simulator",
             "--target", "!room", "--text", "晚上8点直播", "--key", "live-reminder"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
        )
        assert queued.returncode == 0, queued.stderr
        delivery = wait_for(lambda: SimulatedDelivery.objects.filter(idempotency_key="live-reminder").first(),
                            timeout=30, what="the consumer to send")
    finally:
        consumer.terminate()
        _, stderr = consumer.communicate(timeout=20)
    assert delivery.payload["text"] == "晚上8点直播"
    assert OutboxMessage.objects.get(idempotency_key="live-reminder").status == OutboxStatus.SENT
    # The wake-up task was queued by the enqueueing process and ran in the consumer: the storage is shared.
    assert "Executing siyu.channels.tasks.drain_outbox_task" in stderr


def test_a_huey_consumer_on_sqlite_storage_drains_the_outbox(workspace):
    run_consumer_and_enqueue(workspace)


def test_a_huey_consumer_on_redis_drains_the_outbox(workspace):
    require(port_open("127.0.0.1", 6379), "Redis on 127.0.0.1:6379")
    run_consumer_and_enqueue(workspace, SIYU_REDIS_URL="redis://127.0.0.1:6379/15")


def test_two_live_workers_draining_together_send_every_message_once_and_in_order_per_room(workspace):
    # 40 rooms, 10 messages per claim: each worker takes whole rooms' heads, never one room's queue in two.
    for n in range(200):
        outbox_enqueue(
            workspace=workspace, channel="simulator", kind="send_text", target=f"!room{n % 40}",
            idempotency_key=f"broadcast-{n}", payload={"text": f"第{n}条", "simulate": {"delay": 0.02}},
        )
    env = child_env()
    workers = [siyu_process("outbox", "drain", "--limit", "10", env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [worker.communicate(timeout=120)[0] for worker in workers]
    assert all(worker.returncode == 0 for worker in workers)
    assert OutboxMessage.objects.filter(status=OutboxStatus.SENT).count() == 200
    assert SimulatedDelivery.objects.count() == 200
    assert not SimulatedDelivery.objects.exclude(deliveries_requested=1).exists()  # nobody sent twice
    sent = [int(out.split("sent ")[1].split(",")[0]) for out in outputs]
    assert sum(sent) == 200 and min(sent) > 0, outputs  # both worked, on disjoint claims
    for room in range(40):
        numbers = [int(p["text"][1:-1]) for p in SimulatedDelivery.objects.filter(target=f"!room{room}").order_by("id").values_list("payload", flat=True)]
        assert numbers == sorted(numbers), (room, numbers)
