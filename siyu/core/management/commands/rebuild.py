from django.core.management.base import BaseCommand, CommandError

from siyu.core.models import Event, Workspace
from siyu.core.progress import progress_bar
from siyu.core.rebuild import projections_rebuild


class Command(BaseCommand):
    help = "Recompute every projection (memberships, member stats, daily counters) from the event ledger, then the analytics rollups."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", help="slug of one workspace (default: every workspace)")

    def handle(self, *args, workspace=None, **options):
        workspaces = Workspace.objects.order_by("pk")
        if workspace:
            workspaces = workspaces.filter(slug=workspace)
            if not workspaces:
                raise CommandError(f"Unknown workspace {workspace!r}.")
        for ws in workspaces:
            total = Event.objects.filter(workspace=ws).count()
            with progress_bar(f"rebuild {ws.slug}", total, enabled=options["verbosity"] > 0) as advance:
                replayed = projections_rebuild(workspace=ws, progress=advance)
            self.stdout.write(f"{ws.slug}: replayed {replayed} events")
