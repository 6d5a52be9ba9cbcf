from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from siyu.channels.simulator.demo import DEMO_PASSWORD, DEMO_SLUG, DEMO_STAFF, demo_create
from siyu.core.models import Workspace
from siyu.core.progress import progress_bar


class Command(BaseCommand):
    help = (
        "Create the demo workspace: a course seller (9.9 trial lead groups, 199 camp perks groups, one "
        "VIP core group), about 40 groups, 5,000 members and 90 days, plus a small second workspace."
    )

    def add_arguments(self, parser):
        parser.add_argument("--if-absent", action="store_true", help="do nothing if the demo workspace exists")
        parser.add_argument("--groups", type=int, default=40)
        parser.add_argument("--members", type=int, default=5_000)
        parser.add_argument("--days", type=int, default=90)
        parser.add_argument("--seed", type=int, default=2026)

    def handle(self, *args, **o):
        if settings.SIYU_PRODUCTION:
            # The demo's logins share one published password: never on a live install.
            raise CommandError("siyu demo refuses to run under production settings (DJANGO_SETTINGS_MODULE=siyu.settings.prod).")
        if o["if_absent"] and Workspace.objects.filter(slug=DEMO_SLUG).exists():
            self.stdout.write("The demo workspace exists already.")
        else:
            with progress_bar("demo", o["days"], enabled=o["verbosity"] > 0) as advance:
                demo_create(
                    groups=o["groups"], members=o["members"], days=o["days"], seed=o["seed"],
                    progress=lambda day, n: advance(day + 1, f"{n} events"),
                )
        logins = ", ".join(f"{name} ({role})" for name, role in DEMO_STAFF)
        self.stdout.write(f"Demo logins: {logins}; password for all: {DEMO_PASSWORD}")
