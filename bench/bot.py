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
import shutil
import sys
import time

from common import ROOT, code_version, django_start, say

BENCH_DIR = ROOT / "var" / "bench" / "bot"


def dispatch(messages, rooms, limit):
    from django.core.management import call_command
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
    call_command("migrate", verbosity=0)
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
    result = {"name": "bot", "reply_ms_p50": None, "reply_ms_p95": None, "dispatch_per_s": None}
    result.update(dispatch(args.messages, args.rooms, args.limit))
    result["dispatch_target_per_s"] = 2000
    result["dispatch_ratio_to_target"] = round(result["dispatch_per_s"] / 2000, 3)
    result.update({"messages": args.messages, "rooms": args.rooms, "db": "sqlite", "code": code_version()})
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    sys.exit(main())
