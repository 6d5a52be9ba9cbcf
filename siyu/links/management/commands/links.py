from django.core.management.base import BaseCommand

from siyu.links.spool import links_spool_flush


class Command(BaseCommand):
    help = "Flush spooled clicks into the ledger (`flush`); the worker does this every few seconds."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["flush"])

    def handle(self, *args, action, **options):
        result = links_spool_flush()
        if options["verbosity"] > 0:
            self.stdout.write(
                f"read {result.clicks} clicks from {result.files} spool files, stored {result.stored} new events, "
                f"removed {result.removed} finished files"
            )
