from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from siyu.channels.simulator.services import simulation_plan, simulation_run
from siyu.core.models import Workspace
from siyu.core.progress import progress_bar


class Command(BaseCommand):
    help = (
        "Simulate a community's life (exposures, joins, messages, orders, churn) and feed it through "
        "ingest as the 'simulator' channel. Deterministic: the same arguments give the same events, "
        "and running them again stores nothing new."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="workspace slug")
        parser.add_argument("--groups", type=int, default=10, help="number of groups (at least 3)")
        parser.add_argument("--members", type=int, default=1000, help="number of people who join")
        parser.add_argument("--days", type=int, default=30, help="days of history, ending yesterday")
        parser.add_argument("--seed", type=int, default=1, help="random seed")
        parser.add_argument("--until", type=date.fromisoformat, help="first day after the simulated period (YYYY-MM-DD)")

    def handle(self, *args, **o):
        workspace = Workspace.objects.filter(slug=o["workspace"]).first()
        if workspace is None:
            raise CommandError(f"Unknown workspace {o['workspace']!r}.")
        if o["groups"] < 3 or o["members"] < 1 or o["days"] < 1:
            raise CommandError("--groups must be at least 3, --members and --days at least 1.")
        today = timezone.now().astimezone(workspace.tz).date()
        if o["until"] and o["until"] > today:
            raise CommandError(f"--until {o['until']} is after today ({today}): the simulated days must have happened.")
        plan = simulation_plan(
            workspace=workspace, groups=o["groups"], members=o["members"], days=o["days"], seed=o["seed"], until=o["until"]
        )
        with progress_bar("simulate", plan.days, enabled=o["verbosity"] > 0) as advance:
            received, stored = simulation_run(
                workspace=workspace, plan=plan, progress=lambda day, n: advance(day + 1, f"{n} events")
            )
        self.stdout.write(f"{workspace.slug}: {received} events simulated, {stored} stored")
