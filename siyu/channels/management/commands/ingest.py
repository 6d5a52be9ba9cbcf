import json
import sys

from django.core.management.base import BaseCommand, CommandError

from siyu.channels.base import AdapterError, UnknownChannel
from siyu.channels.registry import adapter_get
from siyu.core.ingest import IngestRejected, events_ingest
from siyu.core.models import Workspace


class Command(BaseCommand):
    help = (
        "Feed one inbound platform payload (a JSON file, or - for standard input) through a channel's "
        "parser and the ingest service. The batch is stored whole or not at all; a repeat stores nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="workspace slug")
        parser.add_argument("--channel", required=True, help="channel name, e.g. simulator")
        parser.add_argument("file", help="path of the JSON payload, or - for standard input")

    def handle(self, *args, workspace, channel, file, **options):
        ws = Workspace.objects.filter(slug=workspace).first()
        if ws is None:
            raise CommandError(f"Unknown workspace {workspace!r}.")
        try:
            adapter = adapter_get(channel)
        except UnknownChannel as exc:
            raise CommandError(str(exc)) from None
        try:
            handle = sys.stdin if file == "-" else open(file, encoding="utf-8")
            with handle:
                payload = json.load(handle)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CommandError(f"Cannot read {file}: {exc}") from None
        try:
            result = events_ingest(workspace=ws, source=adapter.name, events=adapter.parse(workspace=ws, payload=payload))
        except (IngestRejected, AdapterError) as exc:
            for error in getattr(exc, "errors", []):
                self.stderr.write(f"  event {error.index}: {error.field} {error.reason}")
            raise CommandError(str(exc) if not getattr(exc, "errors", None) else "Batch rejected; nothing was stored.") from None
        self.stdout.write(f"received {result.received}, stored {result.stored}, duplicates {result.duplicates}")
