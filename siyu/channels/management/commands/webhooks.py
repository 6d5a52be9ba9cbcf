from django.core.management.base import BaseCommand

from siyu.channels.models import DeadLetter
from siyu.channels.webhooks import ReplayFailed, dead_letter_replay
from siyu.core.commands import workspace_or_fail


class Command(BaseCommand):
    help = (
        "Webhook payloads that verified but did not become events (the dead letters): `list` them, `replay` some "
        "by number (or --all not yet replayed) after a fix. The console's Dead letters page does the same."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="the workspace's dead letters, newest first")
        listing.add_argument("--all", action="store_true", help="also the ones already replayed")
        replay = sub.add_parser("replay", help="parse and ingest dead letters again")
        replay.add_argument("ids", nargs="*", type=int, help="dead letter numbers (as `list` shows them)")
        replay.add_argument("--all", action="store_true", help="every dead letter not replayed yet")
        for each in (listing, replay):
            each.add_argument("--workspace", required=True, help="workspace slug")

    def handle(self, *args, action, workspace, **options):
        ws = workspace_or_fail(workspace)
        letters = DeadLetter.objects.filter(workspace=ws).order_by("-received_at", "-pk")
        if action == "list":
            if not options["all"]:
                letters = letters.filter(replayed_at__isnull=True)
            for letter in letters[:200]:
                state = f"replayed {letter.replayed_at:%Y-%m-%d %H:%M}" if letter.replayed_at else "waiting"
                self.stdout.write(f"#{letter.pk} {letter.received_at:%Y-%m-%d %H:%M:%S} {letter.channel} {letter.account} {state}: {letter.error[:160]}")
            return
        if options["all"]:
            letters = letters.filter(replayed_at__isnull=True)
        elif options["ids"]:
            letters = letters.filter(pk__in=options["ids"])
        else:
            self.stderr.write("Name the dead letters to replay, or --all.")
            return
        for letter in reversed(letters):
            try:
                result = dead_letter_replay(letter=letter)
            except ReplayFailed as exc:
                self.stdout.write(f"#{letter.pk} still fails: {exc}")
            else:
                self.stdout.write(f"#{letter.pk} replayed: stored {result.stored}, duplicates {result.duplicates}")
