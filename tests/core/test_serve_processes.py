"""`siyu serve` supervises its children (issue 13.5): a killed child is restarted, a crash loop gives up loudly,
a killed serve takes its children with it, SIGTERM stops everything within a few seconds."""
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import child_env, port_open, siyu_process, wait_for

pytestmark = [pytest.mark.processes, pytest.mark.django_db(transaction=True)]
KINDS = {"worker": "run_huey", "sync": "channel"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid):
    """A process that exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def children(pid):
    """{"worker": pid, "sync": pid} of serve's living children."""
    found = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        for child in (task / "children").read_text().split():
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            for kind, word in KINDS.items():
                if word.encode() in argv and alive(child):
                    found[kind] = int(child)
    return found


def start_serve(*extra):
    port = free_port()
    serve = siyu_process("serve", "--port", str(port), *extra, env=child_env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    wait_for(lambda: port_open("127.0.0.1", port), timeout=60, what="the console to listen")
    pids = wait_for(lambda: (lambda c: c if len(c) == 2 else None)(children(serve.pid)), timeout=60, what="both children")
    return serve, pids


def stop(serve):
    if serve.poll() is None:
        serve.kill()
    return serve.communicate(timeout=30)


def test_a_killed_child_is_restarted_and_a_killed_serve_leaves_no_child_behind():
    serve, first = start_serve()
    try:
        for kind in KINDS:
            os.kill(first[kind], signal.SIGKILL)
            restarted = wait_for(lambda k=kind, old=first[kind]: children(serve.pid).get(k) not in (None, old)
                                 and children(serve.pid), timeout=60, what=f"the {kind} to restart")
            assert not alive(first[kind])  # reaped, not left defunct
            first = restarted
        assert serve.poll() is None
        os.kill(serve.pid, signal.SIGKILL)
        wait_for(lambda: not any(alive(pid) for pid in first.values()), timeout=15, what="the children to die with serve")
    finally:
        _out, err = stop(serve)
    assert "exited with code -9; restarting in 0.5 s" in err


def test_sigterm_stops_serve_and_its_children_within_a_few_seconds():
    serve, pids = start_serve()
    try:
        began = time.monotonic()
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=10) == 0
        assert time.monotonic() - began < 6
        assert not any(alive(pid) for pid in pids.values())
    finally:
        stop(serve)


def test_a_child_in_a_crash_loop_stops_serve_with_an_error():
    serve, pids = start_serve("--max-restarts", "1")
    try:
        os.kill(pids["worker"], signal.SIGKILL)
        again = wait_for(lambda: children(serve.pid).get("worker") not in (None, pids["worker"]) and children(serve.pid),
                         timeout=60, what="the worker to restart")
        os.kill(again["worker"], signal.SIGKILL)
        assert serve.wait(timeout=20) == 1
        assert not any(alive(pid) for pid in [*pids.values(), *again.values()])
    finally:
        _out, err = stop(serve)
    assert "crash loop, giving up" in err and "kept dying" in err
