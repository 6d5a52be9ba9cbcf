from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from siyu.core.commands import validation_text, workspace_or_fail
from siyu.groups.handover import handover_preview, handover_run
from siyu.members.models import HandoverKind


class Command(BaseCommand):
    help = ("Hand a staff member's members (all, or those in a segment, with a tag or listed), their open leads "
            "and the groups in their charge to another staff member (离职继承; --active: 在职继承 between two "
            "colleagues who both keep their role), in one audited step. --dry-run only counts.")

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="workspace slug")
        parser.add_argument("--from", dest="from_user", required=True, help="username handing over")
        parser.add_argument("--to", dest="to_user", required=True, help="username taking over")
        parser.add_argument("--segment", type=int, help="only members in this segment (id)")
        parser.add_argument("--tag", type=int, help="only members with this tag (id)")
        parser.add_argument("--members", help="only these members (numbers, comma-separated)")
        parser.add_argument("--active", action="store_true",
                            help="在职继承: both keep their role (the one handing over must have one)")
        parser.add_argument("--tell", metavar="TEXT", default="",
                            help="send each member this private message where their channel can "
                                 "({name}, {staff}, {previous} are filled in)")
        parser.add_argument("--no-groups", action="store_true", help="leave the groups in their charge where they are")
        parser.add_argument("--dry-run", action="store_true", help="say what would move, change nothing")

    def handle(self, *args, workspace, from_user, to_user, segment, tag, members, active, tell, no_groups, dry_run,
               **options):
        workspace = workspace_or_fail(workspace)
        users = {u.get_username(): u for u in get_user_model().objects.filter(username__in=[from_user, to_user])}
        for name in (from_user, to_user):
            if name not in users:
                raise CommandError(f"no user {name!r}")
        if len([1 for given in (segment, tag, members) if given]) > 1:
            raise CommandError("give one of --segment, --tag or --members")
        numbers = [part.strip() for part in (members or "").split(",") if part.strip()]
        if not all(part.isdigit() for part in numbers):
            raise CommandError("--members takes member numbers separated by commas")
        filter = ({"segment": segment} if segment else {"tag": tag} if tag else
                  {"members": [int(n) for n in numbers]} if numbers else {})
        moving = {"workspace": workspace, "from_user": users[from_user], "to_user": users[to_user], "filter": filter,
                  "include_groups": not no_groups, "kind": HandoverKind.ACTIVE if active else HandoverKind.LEAVING,
                  "message": tell}
        try:
            if dry_run:
                counts = handover_preview(**moving)
                told = f", telling {counts['told']} members" if "told" in counts else ""
                self.stdout.write(f"would move {counts['members']} members, {counts['leads']} open leads and "
                                  f"{counts['groups']} groups from {from_user} to {to_user}{told} "
                                  f"(dry run, nothing changed)")
                return
            done = handover_run(by=None, **moving)
        except ValidationError as error:
            raise CommandError(validation_text(error)) from None
        self.stdout.write(f"handover {done.pk}: moved {done.members} members, {done.leads} open leads and "
                          f"{done.groups} groups from {from_user} to {to_user}, told {done.told} members")
