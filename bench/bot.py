#!/usr/bin/env python
"""The group bot's speed: reply latency on a real Synapse, and outbox dispatch rate.

    .venv/bin/python bench/bot.py                       # both parts (Synapse from the test extras)
    .venv/bin/python bench/bot.py --skip-reply          # dispatch only
    .venv/bin/python bench/bot.py --messages 20000      # a quicker dispatch run

1. Dispatch: --messages outbox messages (send_text, spread over --rooms rooms) are queued in a fresh
   SQLite database (not timed); then `outbox_drain` sends them all through a no-op adapter (timed):
   claims, lease renewals, per-room order, rate-limit lookups and the recorded outcome events, with
   nothing on the far side. dispatch_per_s = messages / seconds.
2. Reply: a Synapse homeserver from the installed `matrix-synapse` package on loopback, the bot
   connected, `siyu channel matrix` and a Huey consumer running as in production; a user sends a
   keyword --replies times; each latency is from the user's send to the bot's reply arriving in the
   user's own /sync.

Human-readable progress goes to stderr; the last line on stdout is one JSON object:
    {"name": "bot", "reply_ms_p50": ..., "reply_ms_p95": ..., "dispatch_per_s": ..., ...}
Targets (issue 5): reply p95 <= 500 ms on loopback, dispatch >= 2,000/s on SQLite.
"""
import argparse
import json
import os
import shutil
import sys
import time

from common import ROOT, code_version, django_start, say

BENCH_DIR = ROOT / "var" / "bench" / "bot"


def dispatch(messages, rooms, limit):
    from django.utils import timezone

    from siyu.channels.base import ChannelAdapter
    from siyu.channels.registry import register
    from siyu.channels.services import outbox_drain
    from siyu.core.db import insert_many
    from siyu.core.models import OutboxMessage, OutboxStatus
    from siyu.core.services import workspace_create

    class NoopAdapter(ChannelAdapter):
        name = "noop"
        label = "no-op"

        def send(self, *, message):
            return None

    register(NoopAdapter())
    workspace = workspace_create(slug="bench", name="Bench", time_zone="Asia/Shanghai")
    now = timezone.now()
    say(f"queueing {messages:,} messages over {rooms} rooms…")
    rows = [
        {
            "workspace_id": workspace.pk, "channel": "noop", "kind": "send_text", "target": f"!room{n % rooms}:bench",
            "payload": {"text": f"第{n}条消息", "mentions": []}, "idempotency_key": f"bench-{n}", "due_at": now,
            "status": OutboxStatus.PENDING, "attempts": 0, "held": False, "last_error": "", "claimed_by": "",
            "created_at": now,
        }
        for n in range(messages)
    ]
    insert_many(OutboxMessage, rows)
    say("draining…")
    started = time.perf_counter()
    sent = 0
    while True:
        counts = outbox_drain(limit=limit, rounds=1_000_000)
        sent += counts["sent"]
        if not any(counts.values()):
            break
    seconds = time.perf_counter() - started
    left = OutboxMessage.objects.exclude(status=OutboxStatus.SENT).count()
    say(f"sent {sent:,} in {seconds:.2f} s ({left} not sent)")
    return {"dispatch_per_s": round(sent / seconds, 1), "dispatch_s": round(seconds, 3), "dispatch_sent": sent,
            "dispatch_unsent": left, "dispatch_limit": limit}


def reply(replies):
    """Start Synapse, connect a bot, run the sync process and a Huey consumer, and time keyword replies."""
    import statistics
    import subprocess
    import uuid
    from urllib.parse import quote

    import httpx

    sys.path.insert(0, str(ROOT))
    from tests.matrix.conftest import Synapse, _configure, free_port

    from siyu.channels.matrix.services import matrix_connect
    from siyu.core.services import workspace_create
    from siyu.groups.models import BotSettings, Group, KeywordReply, MatchKind

    directory = BENCH_DIR / "synapse"
    directory.mkdir()
    port, secret = free_port(), uuid.uuid4().hex
    subprocess.run(
        [sys.executable, "-m", "synapse.app.homeserver", "--server-name", "localhost", "--config-path",
         str(directory / "homeserver.yaml"), "--generate-config", "--report-stats=no"],
        cwd=directory, check=True, capture_output=True,
    )
    config = _configure(directory, port, secret)
    processes = [subprocess.Popen([sys.executable, "-m", "synapse.app.homeserver", "--config-path", str(config)],
                                  cwd=directory, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/_matrix/client/versions", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        synapse = Synapse(url, secret, directory)
        bot_id, bot_token = synapse.register("siyubot", displayname="Siyu Bot")
        user_id, user_token = synapse.register("asker", displayname="提问者")
        workspace = workspace_create(slug="bench-reply", name="Bench reply", time_zone="Asia/Shanghai")
        account = matrix_connect(workspace=workspace, homeserver=url, access_token=bot_token)
        account.bot_per_second = account.room_per_second = 1000
        account.bot_burst = account.room_burst = 1000
        account.save()
        BotSettings.objects.create(workspace=workspace, welcome_enabled=False, reply_cooldown_seconds=0)
        KeywordReply.objects.create(workspace=workspace, match=MatchKind.CONTAINS, pattern="价格", reply="课程价格请看群公告。")
        env = {**os.environ, "SIYU_HUEY_NAME": f"bench-{uuid.uuid4().hex[:6]}"}
        for command in (["channel", "matrix", "--reload-seconds", "0.5"], ["run_huey", "--quiet"]):
            processes.append(subprocess.Popen([sys.executable, "-m", "siyu.cli", *command], env=env, cwd=ROOT,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        room_id = synapse.create_room(user_token, "价格咨询群", invite=[bot_id], bot=bot_id)
        for _ in range(600):
            if Group.objects.filter(workspace=workspace, external_id=room_id).exists() and room_id in synapse.joined_rooms(bot_token):
                break
            time.sleep(0.1)
        http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {user_token}"}, timeout=60)
        room_filter = json.dumps({"room": {"rooms": [room_id], "timeline": {"limit": 50}}, "presence": {"types": []}})
        since = http.get("/_matrix/client/v3/sync", params={"filter": room_filter}).json()["next_batch"]
        say(f"timing {replies} replies…")
        latencies = []
        for n in range(replies):
            started = time.perf_counter()
            http.put(f"/_matrix/client/v3/rooms/{quote(room_id)}/send/m.room.message/q{n}",
                     json={"msgtype": "m.text", "body": f"请问价格多少?#{n}"}).raise_for_status()
            answered = False
            while not answered:
                body = http.get("/_matrix/client/v3/sync", params={"filter": room_filter, "since": since, "timeout": 10000}).json()
                since = body["next_batch"]
                timeline = body.get("rooms", {}).get("join", {}).get(room_id, {}).get("timeline", {}).get("events", [])
                answered = any(e.get("sender") == bot_id and e.get("type") == "m.room.message" for e in timeline)
                if time.perf_counter() - started > 30:
                    raise SystemExit(f"no reply to message {n} within 30 s")
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.05)
        latencies.sort()
        p95 = latencies[min(len(latencies) - 1, int(round(0.95 * len(latencies))) - 1)]
        say(f"reply p50 {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms")
        return {"reply_ms_p50": round(statistics.median(latencies), 1), "reply_ms_p95": round(p95, 1),
                "reply_ms_max": round(latencies[-1], 1), "replies": replies}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--limit", type=int, default=500, help="messages per claim")
    parser.add_argument("--replies", type=int, default=100)
    parser.add_argument("--skip-reply", action="store_true")
    args = parser.parse_args()
    shutil.rmtree(BENCH_DIR, ignore_errors=True)
    BENCH_DIR.mkdir(parents=True)
    django_start(BENCH_DIR, f"sqlite:///{BENCH_DIR / 'bot.sqlite3'}")
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    result = {"name": "bot", "reply_ms_p50": None, "reply_ms_p95": None, "dispatch_per_s": None}
    if not args.skip_reply:
        result.update(reply(args.replies))
    result.update(dispatch(args.messages, args.rooms, args.limit))
    result["reply_target_ms_p95"] = 500
    if result["reply_ms_p95"] is not None:
        result["reply_p95_ratio_to_target"] = round(result["reply_ms_p95"] / 500, 3)  # below 1 meets it
    result["dispatch_target_per_s"] = 2000
    result["dispatch_ratio_to_target"] = round(result["dispatch_per_s"] / 2000, 3)
    result.update({"messages": args.messages, "rooms": args.rooms, "db": "sqlite", "code": code_version()})
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    sys.exit(main())
