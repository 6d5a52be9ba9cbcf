import os
import signal
import sys
from argparse import ArgumentParser
from collections.abc import Sequence
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from siyu.core.staticfiles import static_collect_if_needed
from siyu.core.supervisor import Supervisor


class Command(BaseCommand):
    help = (
        "Run the console (waitress), a background worker (Huey consumer) and the bot's inbound process "
        "(`siyu channel matrix`, idle until a bot is connected) until interrupted. A child that dies is "
        "restarted with a back-off; one that keeps dying (more than --max-restarts times in --restart-window "
        "seconds) stops serve with exit code 1. The children die with serve, even when it is killed. Static files "
        "are collected into STATIC_ROOT first when they changed since the last time."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument("--no-worker", action="store_true", help="do not start the Huey consumer")
        parser.add_argument("--no-bot", action="store_true", help="do not start `siyu channel matrix`")
        parser.add_argument("--max-restarts", type=int, default=5, metavar="N",
                            help="give up when one child dies more than N times within the window (default 5)")
        parser.add_argument("--restart-window", type=float, default=60.0, metavar="SECONDS",
                            help="the crash-loop window (default 60)")

    def handle(self, *args: Any, host: str, port: int, threads: int, no_worker: bool, no_bot: bool,
               max_restarts: int, restart_window: float, **options: Any) -> None:
        from waitress import serve

        from siyu.wsgi import application

        if static_collect_if_needed():
            self.stdout.write(f"Static files collected into {settings.STATIC_ROOT} (hashed, compressed).")
        children: dict[str, Sequence[str]] = {}
        if not no_worker:
            children["worker"] = [sys.executable, "-m", "siyu.cli", "run_huey", "--quiet"]
        if not no_bot:
            children["matrix sync"] = [sys.executable, "-m", "siyu.cli", "channel", "matrix"]
        exit_code = 0

        def give_up(name: str) -> None:
            nonlocal exit_code
            exit_code = 1
            os.kill(os.getpid(), signal.SIGTERM)  # wakes the main thread out of waitress

        supervisor = Supervisor(children, max_restarts=max_restarts, window=restart_window, on_give_up=give_up)

        def stop(signal_number: int, frame: FrameType | None) -> None:
            raise SystemExit(exit_code)  # waitress catches it and returns from serve()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        supervisor.start()
        self.stdout.write(
            f"Siyu console on http://{host}:{port}/ (worker: {'off' if no_worker else 'on'}, "
            f"Matrix bot: {'off' if no_bot else 'on'})"
        )
        try:
            serve(application, host=host, port=port, threads=threads, ident="siyu")
        finally:
            supervisor.stop()
        if exit_code:
            self.stderr.write("siyu serve: a child process kept dying; stopped everything (see the log above).")
            sys.exit(exit_code)
