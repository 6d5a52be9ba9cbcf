#!/usr/bin/env python
"""Signed WeCom callbacks under load on the production server, beside the bare ASGI 302 reference.

    .venv/bin/python bench/webhooks.py                 # 20 s per side, 64 connections
    .venv/bin/python bench/webhooks.py --seconds 5     # a quick check

1. Setup (not timed): a fresh SQLite database under var/bench/webhooks/, migrated, a workspace with a WeCom
   app connected (`wecom_connect`), and `--callbacks` distinct callbacks made as WeCom makes them: each an
   `add_member` of one new member to one of 50 customer groups, encrypted (AES-256-CBC, a random prefix)
   and signed (msg_signature over token, timestamp, nonce and the ciphertext), written one a line for wrk.
2. Siyu: `uvicorn siyu.asgi:application`, one worker (uvloop, httptools, no access log). A warm-up sends
   the first 200 callbacks twice each (a retry must be stored once), then `wrk -t2 -c64 -d<seconds>s
   --latency -s bench/webhooks.lua` posts the others, each once: every request is verified, decrypted,
   answered 200 and then ingested (`channels.webhooks`).
3. Bare: `bench/bare_asgi.py` (a fixed 302) under the same uvicorn settings and the same wrk.
4. Check (not timed): after the server stopped (it finishes the ingests it has answered), the ledger must
   hold one `group.joined` per callback answered (wrk's count plus the warm-up's, plus at most one per
   connection still in flight when wrk stopped) and no member twice ("duplicates").

Telegram is not built yet (issue 20, a later step): its fields are null. Human-readable progress goes to
stderr; the last line on stdout is one JSON object:
    {"name": "webhooks", "wecom_rps": …, "telegram_rps": null, "bare_rps": …, "wecom_ratio": …, …}
Targets (issue 20): each ratio >= 0.2, ack p99 <= 50 ms, stored = expected, 0 duplicates.
"""
import argparse
import json
import os
import shutil
import sys

import httpx
from common import ROOT, code_version, django_start, say
from redirect import serve, wrk as wrk_run

BENCH_DIR = ROOT / "var" / "bench" / "webhooks"
WARM_UP = 200
TOKEN, ENCODING_AES_KEY, CORP_ID = "QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "ww5823bf96d3bd56c7"


def callbacks(account, count):
    """(path?query, body) of `count` signed add_member callbacks, one new member each."""
    import secrets
    import time

    from siyu.channels.wecom.crypto import encrypt, signature
    from siyu.channels.wecom.services import wecom_callback_path

    keys, path, now = account.callback_keys(), wecom_callback_path(account), int(time.time())
    made = []
    for n in range(count):
        inner = (
            f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>"
            f"<CreateTime>{now - 60}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_chat]]></Event>"
            f"<ChatId><![CDATA[wrbench{n % 50:02d}]]></ChatId><ChangeType><![CDATA[update]]></ChangeType>"
            f"<UpdateDetail><![CDATA[add_member]]></UpdateDetail><JoinScene>3</JoinScene><QuitScene>0</QuitScene>"
            f"<MemChangeCnt>1</MemChangeCnt><MemChangeList><Item><![CDATA[wmbench{n:07d}]]></Item></MemChangeList></xml>"
        )
        encrypted = encrypt(key=keys.key, message=inner.encode(), receive_id=CORP_ID)
        nonce = str(secrets.randbelow(10**9))
        query = f"msg_signature={signature(TOKEN, str(now), nonce, encrypted)}&timestamp={now}&nonce={nonce}"
        body = f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt><AgentID>1000002</AgentID></xml>"
        made.append((f"{path}?{query}", body))
    return made


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--callbacks", type=int, default=60_000, help="distinct callbacks for wrk (more requests wrap around)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")
    shutil.rmtree(BENCH_DIR, ignore_errors=True)
    BENCH_DIR.mkdir(parents=True)
    django_start(BENCH_DIR, f"sqlite:///{BENCH_DIR / 'webhooks.sqlite3'}")
    from django.core.management import call_command
    from django.db.models import Count

    from siyu.channels.wecom.services import wecom_connect
    from siyu.core.models import Event
    from siyu.core.services import workspace_create

    call_command("migrate", verbosity=0)
    workspace = workspace_create(slug="bench", name="Bench", time_zone="Asia/Shanghai")
    account = wecom_connect(workspace=workspace, corp_id=CORP_ID, agent_id="1000002", secret="bench-secret",
                            token=TOKEN, encoding_aes_key=ENCODING_AES_KEY)
    say(f"making {args.callbacks + WARM_UP} signed callbacks…")
    made = callbacks(account, args.callbacks + WARM_UP)
    warm, load = made[:WARM_UP], made[WARM_UP:]
    requests_file = BENCH_DIR / "callbacks.txt"
    requests_file.write_text("".join(f"{path}\t{body}\n" for path, body in load))
    env = {**os.environ}
    results = {}
    for side, app, cwd, path in (("wecom", "siyu.asgi:application", ROOT, None), ("bare", "bare_asgi:application", ROOT / "bench", "/s/x")):
        process, port = serve(app, env, cwd)
        base = f"http://127.0.0.1:{port}"
        try:
            if side == "wecom":
                with httpx.Client(base_url=base) as client:
                    for hook, body in warm * 2:
                        response = client.post(hook, content=body, headers={"content-type": "text/xml"})
                        assert response.status_code == 200, response.status_code
                say(f"wecom: warmed up with {len(warm)} callbacks, each sent twice; wrk {args.seconds} s, {args.connections} connections…")
                results[side] = wrk_lua(base + load[0][0], requests_file, args.seconds, args.connections)
            else:
                say(f"bare: wrk {args.seconds} s, {args.connections} connections…")
                results[side] = wrk_run(base + path, args.seconds, args.connections)
        finally:
            process.terminate()
            process.wait(timeout=60)
    answered = results["wecom"]["total"]
    wrapped = answered > len(load)
    expected = WARM_UP + min(answered, len(load))
    joins = Event.objects.filter(workspace=workspace, source="wecom", type=302)
    stored = joins.count()
    duplicates = sum(row["n"] - 1 for row in joins.values("member_id").annotate(n=Count("id")).filter(n__gt=1))
    wecom, bare = results["wecom"], results["bare"]
    print(json.dumps({
        "name": "webhooks", "wecom_rps": wecom["rps"], "telegram_rps": None, "bare_rps": bare["rps"],
        "wecom_ratio": round(wecom["rps"] / bare["rps"], 3), "telegram_ratio": None,
        "ack_p99_ms": wecom["p99_ms"], "bare_p99_ms": bare["p99_ms"], "wecom_errors": wecom["errors"],
        "stored": stored, "expected": expected, "duplicates": duplicates,
        # wrk counts what was answered before it stopped; up to one request per connection was in flight and
        # was answered and ingested after that.
        "verified": expected <= stored <= expected + args.connections and duplicates == 0 and not wrapped,
        "seconds": args.seconds, "connections": args.connections, "server": "uvicorn 1 worker (uvloop, httptools)",
        "db": "sqlite", "code": code_version(),
    }))


def wrk_lua(url, requests_file, seconds, connections):
    """wrk_run with bench/webhooks.lua feeding it the callbacks (each request one callback)."""
    import re
    import subprocess

    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(ROOT / "bench" / "webhooks.lua"), url,
         "--", str(requests_file), "2"], capture_output=True, text=True, check=True,
    ).stdout
    say(out)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "total": total, "p99_ms": round(float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)], 2),
            "errors": errors + (int(bad.group(1)) if bad else 0)}


if __name__ == "__main__":
    sys.exit(main())
