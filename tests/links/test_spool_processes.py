"""Real processes: a worker killed between its redirects and the flush loses no click, and none is stored twice."""
import signal
import subprocess
import sys

import orjson
import pytest
from django.conf import settings

from siyu.core.events import EventType
from siyu.core.models import Event
from siyu.links.models import LinkDay, SpoolOffset
from tests.conftest import ROOT, child_env, wait_for

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]

# Serves visits as fast as it can and reports each answered one on stdout, until it is killed.
VISITOR = """
import sys, django
django.setup()
from siyu.links.redirect import visit
n = 0
while True:
    result = visit(host="testserver", slug=sys.argv[1], query={"qr": str(n % 2)}, user_agent="Mozilla/5.0 (iPhone) MicroMessenger/8.0",
                   referer="", remote_addr="203.0.113.5")
    assert result.status == 302, result
    n += 1
    print(n, flush=True)
"""


def flush_in_new_process(env):
    done = subprocess.run(
        [sys.executable, "-m", "siyu.cli", "links", "flush"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_worker_killed_after_its_redirects_loses_no_click(make_link):
    link = make_link()
    env = child_env()
    answered = []
    worker = subprocess.Popen([sys.executable, "-c", VISITOR, link.slug], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        def enough():
            answered.append(int(worker.stdout.readline()))
            return answered[-1] >= 200

        wait_for(enough, timeout=60, interval=0, what="200 answered visits")
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    answered.extend(int(line) for line in worker.stdout.read().split())
    (path,) = (settings.VAR_DIR / "spool" / "clicks").glob("*.jsonl")
    spooled = [orjson.loads(line)["id"] for line in path.read_bytes().splitlines() if line.endswith(b"}")]
    # Every answered visit was spooled first; at most one more was spooled as the kill came.
    assert answered[-1] <= len(spooled) <= answered[-1] + 1

    assert f"stored {len(spooled)} new events" in flush_in_new_process(env)
    assert "stored 0 new events" in flush_in_new_process(env)
    stored = list(Event.objects.filter(type=EventType.LINK_CLICKED, source="links").values_list("source_id", flat=True))
    assert sorted(stored) == sorted(spooled)
    day = LinkDay.objects.get(link=link)
    assert (day.clicks + day.scans, day.wechat) == (len(spooled), len(spooled))
    assert not path.exists() and not SpoolOffset.objects.exists()  # its writer is dead: the file is done
