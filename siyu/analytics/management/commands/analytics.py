import time

from django.core.management.base import BaseCommand, CommandError

from siyu.analytics.rollups import rollups_rebuild, rollups_refresh
from siyu.core.models import Workspace


class Command(BaseCommand):
    help = (
        "Bring the analytics rollups and member models up to the ledger. 'refresh' reads only the events "
        "after the watermark (what the worker does every minute); 'rebuild' recomputes everything."
    )

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["refresh", "rebuild"])
        parser.add_argument("--workspace", help="slug of one workspace (default: every workspace)")

    def handle(self, *args, action, workspace=None, **options):
        workspaces = Workspace.objects.order_by("pk")
        if workspace:
            workspaces = workspaces.filter(slug=workspace)
            if not workspaces:
                raise CommandError(f"Unknown workspace {workspace!r}.")
        run = rollups_refresh if action == "refresh" else rollups_rebuild
        for ws in workspaces:
            started = time.perf_counter()
            result = run(workspace=ws)
            if options["verbosity"] > 0:
                self.stdout.write(
                    f"{ws.slug}: {action} read {'the whole ledger' if result.events is None else f'{result.events} new events'}, "
                    f"days {result.first_day or '-'} to "
                    f"{result.last_day}, {result.members} member models, {time.perf_counter() - started:.2f} s"
                )
