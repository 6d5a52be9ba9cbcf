from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from siyu.core.commands import validation_text, workspace_or_fail
from siyu.members.merge import member_merge, member_merge_undo, merge_candidates
from siyu.members.models import Member, MemberMerge


class Command(BaseCommand):
    help = (
        "Merge members who are the same person: `candidates` (same phone), `run KEPT MERGED` (member "
        "numbers; MERGED is folded into KEPT), `undo ID` (a merge's id, as printed by run)."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        candidates = sub.add_parser("candidates", help="list pairs of members with the same phone")
        candidates.add_argument("--workspace", required=True, help="workspace slug")
        run = sub.add_parser("run", help="merge member MERGED into member KEPT (both member numbers)")
        run.add_argument("kept", type=int)
        run.add_argument("merged", type=int)
        run.add_argument("--workspace", required=True, help="workspace slug")
        run.add_argument("--reason", default="", help="why (kept in the merge record and the audit log)")
        undo = sub.add_parser("undo", help="undo a merge, restoring both members exactly")
        undo.add_argument("merge_id", type=int)
        undo.add_argument("--workspace", required=True, help="workspace slug")

    def handle(self, *args, action, **options):
        workspace = workspace_or_fail(options["workspace"])
        try:
            options.pop("workspace")
            getattr(self, f"handle_{action}")(workspace, **options)
        except ValidationError as error:
            raise CommandError(validation_text(error)) from None

    def handle_candidates(self, workspace, **options):
        pairs = merge_candidates(workspace=workspace)
        for first, second in pairs:
            self.stdout.write(f"#{first.number} {first.display_name}\t#{second.number} {second.display_name}")
        self.stdout.write(f"{len(pairs)} pair(s) with the same phone.")

    def _member(self, workspace, number):
        try:
            return Member.objects.get(workspace=workspace, number=number)
        except Member.DoesNotExist:
            raise CommandError(f"No member #{number} in {workspace.slug}.") from None

    def handle_run(self, workspace, *, kept, merged, reason, **options):
        merge = member_merge(kept=self._member(workspace, kept), merged=self._member(workspace, merged), reason=reason)
        rows = sum(len(ids) for fields in merge.moved["rows"].values() for ids in fields.values())
        events = sum(last - first + 1 for first, last in merge.moved["events"])
        self.stdout.write(f"Merged #{merged} into #{kept}: {rows} rows and {events} events moved (merge {merge.pk}).")

    def handle_undo(self, workspace, *, merge_id, **options):
        merge = MemberMerge.objects.filter(workspace=workspace, pk=merge_id).select_related("kept", "merged").first()
        if merge is None:
            raise CommandError(f"No merge {merge_id} in {workspace.slug}.")
        member_merge_undo(merge=merge)
        self.stdout.write(f"Undid merge {merge.pk}: #{merge.merged.number} is separate from #{merge.kept.number} again.")
