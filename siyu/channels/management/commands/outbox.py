from django.core.management.base import BaseCommand, CommandError

from siyu.channels.registry import adapter_get, adapter_names
from siyu.channels.services import outbox_drain
from siyu.core.models import Workspace
from siyu.core.outbox import outbox_enqueue


class Command(BaseCommand):
    help = "Work the outbox by hand: `drain` sends what is due now; `enqueue` queues one text message."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        drain = sub.add_parser("drain", help="claim and send due messages until none is due")
        drain.add_argument("--limit", type=int, default=100, help="messages per claim")
        enqueue = sub.add_parser("enqueue", help="queue a text message to a group or member")
        enqueue.add_argument("--workspace", required=True)
        enqueue.add_argument("--channel", required=True, choices=adapter_names())
        enqueue.add_argument("--target", required=True, help="group or member id on the channel")
        enqueue.add_argument("--text", required=True)
        enqueue.add_argument("--key", required=True, help="idempotency key: the same key is queued once")

    def handle(self, *args, action, **o):
        if action == "drain":
            counts = outbox_drain(limit=o["limit"])
            self.stdout.write(", ".join(f"{k} {v}" for k, v in counts.items()))
            return
        workspace = Workspace.objects.filter(slug=o["workspace"]).first()
        if workspace is None:
            raise CommandError(f"Unknown workspace {o['workspace']!r}.")
        adapter_get(o["channel"])
        message = outbox_enqueue(
            workspace=workspace, channel=o["channel"], kind="send_text", target=o["target"],
            payload={"text": o["text"]}, idempotency_key=o["key"],
        )
        self.stdout.write(f"outbox message {message.pk}: {message.status}")
