import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from siyu.core.commands import validation_text, workspace_or_fail
from siyu.members.models import Member
from siyu.members.privacy import member_data_export, member_erase


class Command(BaseCommand):
    help = (
        "A person's data: `export NUMBER` writes everything Siyu holds about member NUMBER as one JSON file; "
        "`erase NUMBER --reason …` removes their identities and personal data (events are kept without it). "
        "Both are audited."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="write the member's data as JSON")
        export.add_argument("number", type=int, help="member number")
        export.add_argument("--workspace", required=True, help="workspace slug")
        export.add_argument("--output", "-o", help="file to write (default: standard output)")
        erase = sub.add_parser("erase", help="erase the member's personal data (cannot be undone)")
        erase.add_argument("number", type=int, help="member number")
        erase.add_argument("--workspace", required=True, help="workspace slug")
        erase.add_argument("--reason", default="", help="why (kept in the audit log)")
        erase.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args, action, number, **options):
        workspace = workspace_or_fail(options["workspace"])
        member = Member.objects.filter(workspace=workspace, number=number).first()
        if member is None:
            raise CommandError(f"No member #{number} in {workspace.slug}.")
        try:
            getattr(self, f"handle_{action}")(member, **options)
        except ValidationError as error:
            raise CommandError(validation_text(error)) from None

    def handle_export(self, member, *, output=None, **options):
        body = member_data_export(member=member)
        if output:
            Path(output).write_bytes(body)
            self.stderr.write(f"Wrote {len(body)} bytes to {output}.")
        else:
            sys.stdout.buffer.write(body + b"\n")

    def handle_erase(self, member, *, reason, yes, **options):
        if not yes:
            answer = input(f"Erase member #{member.number}? Type the number to confirm: ")
            if answer.strip().lstrip("#") != str(member.number):
                raise CommandError("Not confirmed; nothing was erased.")
        member_erase(member=member, reason=reason)
        self.stdout.write(f"Erased member #{member.number}.")
