import signal
import threading
from importlib import import_module

from django.core.management.base import BaseCommand, CommandError

from siyu.channels.base import UnknownChannel
from siyu.channels.registry import adapter_get
from siyu.core.models import Workspace


class Command(BaseCommand):
    help = (
        "Run a channel's inbound process, e.g. `siyu channel matrix`: it follows the platform (Matrix: "
        "long-polls /sync for every enabled bot account) and feeds what arrives to ingest until stopped "
        "with SIGTERM or Ctrl-C. --once does one pass and exits."
    )

    def add_arguments(self, parser):
        parser.add_argument("channel", help="channel name, e.g. matrix")
        parser.add_argument("--workspace", help="only this workspace's account (slug)")
        parser.add_argument("--once", action="store_true", help="one pass without waiting, then exit")
        parser.add_argument("--poll-seconds", type=float, default=30.0, help="long-poll time of one request")
        parser.add_argument("--reload-seconds", type=float, default=5.0, help="how often to look for new accounts")

    def handle(self, *args, channel, workspace, once, poll_seconds, reload_seconds, **options):
        try:
            adapter_get(channel)
        except UnknownChannel as exc:
            raise CommandError(str(exc)) from None
        # A channel with an inbound process offers `channel_run` in its package's sync module.
        try:
            runner = import_module(f"siyu.channels.{channel}.sync").channel_run
        except (ImportError, AttributeError):
            raise CommandError(f"The {channel} channel has no inbound process to run.") from None
        if workspace and not Workspace.objects.filter(slug=workspace).exists():
            raise CommandError(f"Unknown workspace {workspace!r}.")
        stop = threading.Event()
        if not once:
            for signal_number in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signal_number, lambda *_: stop.set())
            self.stdout.write(f"{channel}: following the channel until stopped (SIGTERM or Ctrl-C)")
        failed = runner(
            workspace=workspace, once=once, stop=stop, poll_seconds=poll_seconds, reload_seconds=reload_seconds,
            stdout=self.stdout,
        )
        if failed:
            raise CommandError(f"{failed} account(s) failed; see the errors above.")
