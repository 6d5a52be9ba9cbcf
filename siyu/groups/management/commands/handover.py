from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from siyu.core.commands import validation_text, workspace_or_fail
from siyu.groups.handover import handover_preview, handover_run


class Command(BaseCommand):
    help = ("Hand a staff member's members (all, or those in a segment) and the groups in their charge to "
            "another staff member (离职继承), in one audited step. --dry-run only counts.")

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="workspace slug")
        parser.add_argument("--from", dest="from_user", required=True, help="username handing over")
        parser.add_argument("--to", dest="to_user", required=True, help="username taking over")
        parser.add_argument("--segment", type=int, help="only members in this segment (id)")
        parser.add_argument("--tag", type=int, help="only members with this tag (id)")
        parser.add_argument("--no-groups", action="store_true", help="leave the groups in their charge where they are")
        parser.add_argument("--dry-run", action="store_true", help="say what would move, change nothing")

    def handle(self, *args, workspace, from_user, to_user, segment, tag, no_groups, dry_run, **options):
        workspace = workspace_or_fail(workspace)
        users = {u.get_username(): u for u in get_user_model().objects.filter(username__in=[from_user, to_user])}
        for name in (from_user, to_user):
            if name not in users:
                raise CommandError(f"no user {name!r}")
        if segment and tag:
            raise CommandError("give --segment or --tag, not both")
        filter = {"segment": segment} if segment else {"tag": tag} if tag else {}
        moving = {"workspace": workspace, "from_user": users[from_user], "to_user": users[to_user], "filter": filter,
                  "include_groups": not no_groups}
        try:
            if dry_run:
                counts = handover_preview(**moving)
                self.stdout.write(f"would move {counts['members']} members and {counts['groups']} groups "
                                  f"from {from_user} to {to_user} (dry run, nothing changed)")
                return
            done = handover_run(by=None, **moving)
        except ValidationError as error:
            raise CommandError(validation_text(error)) from None
        self.stdout.write(f"handover {done.pk}: moved {done.members} members and {done.groups} groups "
                          f"from {from_user} to {to_user}")
