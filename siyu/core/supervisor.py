"""Child processes that live and die with `siyu serve`: restarted when they die, never left behind.

Each child runs in its own process group (so a Ctrl-C in the terminal reaches serve alone, which then stops
the children in order) and, on Linux, with PR_SET_PDEATHSIG: the kernel sends it SIGTERM when serve dies,
even by SIGKILL, so no child outlives it. A child that exits is started again after a back-off that doubles
with each recent death (0.5 s, 1 s, 2 s … at most 30 s); more than `max_restarts` deaths of one child within
`window` seconds is a crash loop, and the supervisor gives up: it stops every child and says so.
"""
import ctypes
import ctypes.util
import logging
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

log = logging.getLogger("siyu.serve")

PR_SET_PDEATHSIG = 1
FIRST_DELAY = 0.5
MAX_DELAY = 30.0
POLL_SECONDS = 0.2


def _parent_death_signal(parent: int) -> Callable[[], None] | None:
    """A preexec_fn that makes the kernel SIGTERM the child when `parent` dies; None off Linux."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != parent:  # the parent died between fork and prctl: nobody would signal us
            os._exit(1)

    return arm


@dataclass
class Child:
    name: str
    argv: Sequence[str]
    process: subprocess.Popen[bytes] | None = None
    deaths: deque[float] = field(default_factory=deque)
    restart_at: float = 0.0


class Supervisor:
    """Starts `children` (name → argv), restarts each when it dies, and stops them all on `stop()`.

    `on_give_up` is called (from the supervising thread) when a child is in a crash loop, after every
    child has been stopped; serve uses it to exit non-zero.
    """

    def __init__(self, children: dict[str, Sequence[str]], *, max_restarts: int = 5, window: float = 60.0,
                 on_give_up: Callable[[str], None] | None = None) -> None:
        self.children = [Child(name, argv) for name, argv in children.items()]
        self.max_restarts = max_restarts
        self.window = window
        self.on_give_up = on_give_up
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, name="siyu-supervisor", daemon=True)

    def start(self) -> None:
        # Children are started from the supervising thread only: PR_SET_PDEATHSIG fires when the thread that
        # forked a child ends, and this thread lives until the children are stopped.
        self.thread.start()

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(
            child.argv, start_new_session=True, preexec_fn=_parent_death_signal(os.getpid())
        )
        log.info("%s started (pid %s)", child.name, child.process.pid)

    def _run(self) -> None:
        with self.lock:
            for child in self.children:
                if not self.stopping.is_set():
                    self._spawn(child)
        while not self.stopping.wait(POLL_SECONDS):
            with self.lock:
                if self.stopping.is_set():
                    return
                for child in self.children:
                    if self._watch(child):
                        return

    def _watch(self, child: Child) -> bool:
        """Restart `child` when it is due; True when it is in a crash loop and everything was stopped."""
        now = time.monotonic()
        if child.process is not None:
            code = child.process.poll()
            if code is None:
                return False
            child.process = None
            child.deaths.append(now)
            while child.deaths and child.deaths[0] < now - self.window:
                child.deaths.popleft()
            if len(child.deaths) > self.max_restarts:
                log.error("%s exited with code %s, %d times in %.0f s: a crash loop, giving up; stopping everything",
                          child.name, code, len(child.deaths), self.window)
                self.stopping.set()
                self._terminate()
                if self.on_give_up:
                    self.on_give_up(child.name)
                return True
            delay = min(MAX_DELAY, FIRST_DELAY * 2 ** (len(child.deaths) - 1))
            child.restart_at = now + delay
            log.warning("%s exited with code %s; restarting in %.1f s", child.name, code, delay)
            return False
        if now >= child.restart_at:
            self._spawn(child)
        return False

    def stop(self, timeout: float = 5.0) -> None:
        """Stop every child: SIGTERM to its process group, SIGKILL to what is left after `timeout` seconds."""
        self.stopping.set()
        with self.lock:
            self._terminate(timeout)

    def _terminate(self, timeout: float = 5.0) -> None:
        running = [c.process for c in self.children if c.process is not None and c.process.poll() is None]
        for process in running:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in running:
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait()


def _signal_group(process: subprocess.Popen[bytes], signal_number: int) -> None:
    try:
        os.killpg(process.pid, signal_number)
    except ProcessLookupError:
        pass
