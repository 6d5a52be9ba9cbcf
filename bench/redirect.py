#!/usr/bin/env python
"""The redirect path's speed: Siyu's short link against a bare ASGI app answering a fixed 302.

    .venv/bin/python bench/redirect.py                 # 20 s per side, 64 connections
    .venv/bin/python bench/redirect.py --seconds 5     # a quick check

1. Setup (not timed): a fresh SQLite database under var/bench/redirect/, migrated, a workspace and one
   short link (with UTM parameters) created through `links.services.link_create`.
2. Siyu: `uvicorn siyu.asgi:application` with one worker process (uvloop, httptools, no access log),
   loaded with `wrk -t2 -c64 -d<seconds>s --latency` on http://127.0.0.1:<port>/s/<slug>?qr=1 after a
   2 s warm-up. Every request is a real visit: the cached lookup, the click appended to the spool.
3. Bare: `bench/bare_asgi.py` (a fixed 302, nothing else) under the same uvicorn settings, same wrk.
4. Check (not timed): the spool is flushed into the ledger (`links_spool_flush`), and the number of
   link.clicked events must be every request wrk and the warm-up counted, plus at most one per connection
   (requests still in flight when wrk stopped are served and spooled but not counted by wrk).

wrk (Debian package `wrk`) counts status >= 400 and socket errors as errors; a 302 is a success.
Human-readable progress goes to stderr; the last line on stdout is one JSON object:
    {"name": "redirect", "siyu_rps": …, "bare_rps": …, "ratio": …, "siyu_p99_ms": …, …}
Targets (issue 6): ratio >= 0.3, p99 <= 20 ms, zero errors.
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

from common import ROOT, code_version, django_start, say

BENCH_DIR = ROOT / "var" / "bench" / "redirect"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app, env, cwd):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"],
        env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, port
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{app} did not start: {process.stderr.read() if process.poll() is not None else ''}")


def warm_up(url, seconds):
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    deadline, n = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        try:
            opener.open(url, timeout=5)
        except urllib.error.HTTPError as exc:
            assert exc.code == 302, exc.code
        n += 1
    return n


def wrk(url, seconds, connections):
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url], capture_output=True, text=True, check=True
    ).stdout
    say(out)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors += int(bad.group(1)) if bad else 0
    return {"rps": rps, "total": total, "p99_ms": round(p99_ms, 2), "errors": errors}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")
    shutil.rmtree(BENCH_DIR, ignore_errors=True)
    BENCH_DIR.mkdir(parents=True)
    database_url = f"sqlite:///{BENCH_DIR / 'redirect.sqlite3'}"
    django_start(BENCH_DIR, database_url)
    from django.core.management import call_command

    from siyu.core.models import Event
    from siyu.core.services import workspace_create
    from siyu.links.services import link_create
    from siyu.links.spool import links_spool_flush

    call_command("migrate", verbosity=0)
    workspace = workspace_create(slug="bench", name="Bench", time_zone="Asia/Shanghai")
    link = link_create(workspace=workspace, target_url="https://example.com/course", utm={"utm_source": "poster", "utm_medium": "qr"})
    env = {**os.environ}
    results = {}
    for side, app, cwd, path in (
        ("siyu", "siyu.asgi:application", ROOT, f"/s/{link.slug}?qr=1"),
        ("bare", "bare_asgi:application", ROOT / "bench", "/s/anything?qr=1"),
    ):
        process, port = serve(app, env, cwd)
        url = f"http://127.0.0.1:{port}{path}"
        try:
            warmed = warm_up(url, 2)
            say(f"{side}: warmed up with {warmed} requests; wrk {args.seconds} s, {args.connections} connections…")
            results[side] = {**wrk(url, args.seconds, args.connections), "warm_up": warmed}
        finally:
            process.terminate()
            process.wait(timeout=30)
    say("flushing the spool…")
    links_spool_flush()
    stored = Event.objects.filter(workspace=workspace, source="links").count()
    expected = results["siyu"]["total"] + results["siyu"]["warm_up"]
    siyu, bare = results["siyu"], results["bare"]
    print(json.dumps({
        "name": "redirect", "siyu_rps": siyu["rps"], "bare_rps": bare["rps"], "ratio": round(siyu["rps"] / bare["rps"], 3),
        "siyu_p99_ms": siyu["p99_ms"], "bare_p99_ms": bare["p99_ms"], "siyu_errors": siyu["errors"], "bare_errors": bare["errors"],
        # wrk counts the requests answered before it stopped; up to one per connection was still in flight
        # and was served (and spooled) after that.
        "clicks_expected": expected, "clicks_stored": stored,
        "verified": expected <= stored <= expected + args.connections,
        "seconds": args.seconds, "connections": args.connections, "server": "uvicorn 1 worker (uvloop, httptools)",
        "db": "sqlite", "code": code_version(),
    }))


if __name__ == "__main__":
    sys.exit(main())
