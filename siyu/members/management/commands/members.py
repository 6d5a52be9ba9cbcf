"""`siyu members import|export|staff`: members in and out of a workspace as CSV or XLSX files, and staff marks."""
import sys
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from siyu.core.commands import workspace_or_fail
from siyu.core.progress import progress_bar
from siyu.members.exports import FORMATS, members_export
from siyu.members.imports import (
    ENCODINGS,
    ImportProblem,
    encoding_label,
    field_label,
    import_configure,
    import_create,
    import_options,
    import_preview,
    import_run,
    mapping_parse,
    rows_count,
)
from siyu.members.models import Member, Segment
from siyu.members.staff import member_staff_set

FIELD_HELP = "display_name, phone, email, wechat, gender, city, remark, tags, owner, number, identities, identity:<channel>"


class Command(BaseCommand):
    help = ("Import members from a CSV/XLSX file (dry run first, all or nothing), export members or a segment, and "
            "list staff or mark a member as staff or not (docs/members.md#staff).")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="import members from a CSV or XLSX file (all or nothing)")
        imp.add_argument("file", help="a .csv (UTF-8, UTF-8 with BOM or GBK) or .xlsx file with a header row")
        imp.add_argument("--workspace", required=True, help="workspace slug")
        imp.add_argument("--map", action="append", default=[], metavar="COLUMN=FIELD",
                         help=f"map a column to a field (repeatable), e.g. --map 手机=phone; fields: {FIELD_HELP}; "
                              "FIELD '-' ignores the column. Unmapped columns keep the proposed mapping.")
        imp.add_argument("--encoding", choices=sorted(ENCODINGS), help="CSV encoding (detected when not given)")
        imp.add_argument("--dry-run", action="store_true", help="check every row and report; write nothing")
        imp.add_argument("--create-tags", action="store_true", help="create every tag the file names that does not exist")
        imp.add_argument("--create-tag", action="append", default=[], metavar="TAG",
                         help="create this missing tag (repeatable; 组:标签 for one in a group)")
        imp.add_argument("--ignore-tag", action="append", default=[], metavar="TAG",
                         help="ignore this missing tag: its rows are imported without it (repeatable)")
        imp.add_argument("--skip-bad", action="store_true", help="import the good rows even if some rows are bad")
        imp.add_argument("--overwrite-lossy", action="store_true",
                         help='apply updates flagged as lossy (a "?" where the stored text has a character the '
                              "file's encoding cannot hold, e.g. an emoji in GBK); by default those fields are kept")
        imp.add_argument("--user", help="staff username recorded as the importer (audit, tags)")
        exp = sub.add_parser("export", help="export members (all, or a segment's live list) as CSV or XLSX")
        exp.add_argument("--workspace", required=True, help="workspace slug")
        which = exp.add_mutually_exclusive_group(required=True)
        which.add_argument("--segment", type=int, help="segment id")
        which.add_argument("--all", action="store_true", help="every member")
        exp.add_argument("--format", choices=FORMATS, default="csv")
        exp.add_argument("--output", help="file to write (default: standard output for csv, members.xlsx for xlsx)")
        exp.add_argument("--with-contacts", action="store_true", help="phone, e-mail and WeChat ID unmasked (audited)")
        exp.add_argument("--user", help="staff username recorded as the exporter (audit)")
        staff = sub.add_parser("staff", help="list the members marked as staff, or mark one as staff or as not staff")
        staff.add_argument("--workspace", required=True, help="workspace slug")
        staff.add_argument("number", nargs="?", type=int, help="the member number to mark (none: list the staff)")
        staff.add_argument("--not", dest="not_staff", action="store_true", help="mark the member as not staff")
        staff.add_argument("--user", help="staff username recorded as who marked it (owners, admins, operators)")

    def handle(self, *args, action, **o):
        workspace = workspace_or_fail(o["workspace"])
        user = None
        if o.get("user"):
            user = get_user_model().objects.filter(username=o["user"]).first()
            if user is None:
                raise CommandError(f"No user {o['user']!r}.")
        o.pop("user", None)
        getattr(self, f"handle_{action}")(**{**o, "workspace": workspace, "user": user})

    def handle_staff(self, *, workspace, user, number, not_staff, **o):
        if number is None:
            for m in Member.objects.filter(workspace=workspace, is_staff=True).order_by("number"):
                self.stdout.write(f"#{m.number}\t{m.display_name}\t{m.staff_via}")
            return
        member = Member.objects.filter(workspace=workspace, number=number).first()
        if member is None:
            raise CommandError(f"No member #{number} in {workspace.slug}.")
        try:
            changed = member_staff_set(member=member, staff=not not_staff, by=user)
        except PermissionDenied as exc:  # RoleRequired: the user may not mark staff
            raise CommandError(str(getattr(exc, "message", exc))) from None
        what = "not staff" if not_staff else "staff"
        self.stdout.write(f"#{number} marked as {what}." if changed else f"#{number} was already marked as {what}.")

    def handle_import(self, *, workspace, user, file, encoding, dry_run, create_tags, create_tag, ignore_tag, skip_bad,
                      overwrite_lossy, verbosity, **o):
        if not Path(file).is_file():
            raise CommandError(f"No file {file}.")
        try:
            imp = import_create(workspace=workspace, by=user, path=file, encoding=encoding or "")
            if imp.error:
                raise CommandError(imp.error)
            preview = import_preview(path=imp.path, encoding=imp.encoding)
            mapping = {**imp.mapping, **mapping_parse(o["map"], headers=preview["headers"])}
            tag_choices = {**{t.strip(): "create" for t in create_tag}, **{t.strip(): "ignore" for t in ignore_tag}}
            import_configure(member_import=imp, mapping=mapping, create_tags=create_tags, skip_bad=skip_bad,
                             overwrite_lossy=overwrite_lossy, tag_choices=tag_choices)
        except (ImportProblem, ValidationError) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from None
        detected = import_options(imp).get("detected")
        if detected:
            how = "given" if encoding else "detected"
            self.stdout.write(f"Encoding: {encoding_label(imp.encoding)} ({how})")
        for header in preview["headers"]:
            name = mapping.get(header, "")
            self.stdout.write(f"  {header} → {field_label(name) if name else '(ignored)'}")
        total = rows_count(path=imp.path, encoding=imp.encoding)
        imp.rows = total
        with progress_bar("check" if dry_run else "import", total, enabled=verbosity > 0) as advance:
            result = import_run(member_import=imp, commit=not dry_run, progress=lambda done, _t: advance(done))
        for entry in result.report:
            self.stdout.write(f"line {entry['line']}, {entry['column'] or '-'}: {entry['reason']}")
        if result.bad_rows > len(result.report):
            self.stdout.write(f"… and {result.bad_rows - len(result.report)} more bad rows")
        for line in result.blank_lines[:20]:
            self.stdout.write(f"line {line}: empty, skipped")
        if result.blank_rows > 20:
            self.stdout.write(f"… and {result.blank_rows - 20} more empty rows, skipped")
        for entry in result.updates[:20]:
            changes = "; ".join(f"{field_label(f)}: {o!r} → {n!r}" if (o or n) else f"{field_label(f)} changes"
                                for f, o, n in entry["changes"])
            self.stdout.write(f"line {entry['line']}: {entry['reason']}" + (f" ({changes})" if changes else ""))
        for entry in result.lossy[:20]:
            how = "overwritten" if entry["applied"] else "kept (use --overwrite-lossy to overwrite)"
            self.stdout.write(f"line {entry['line']}: member #{entry['number']} {field_label(entry['field'])} {entry['old']!r} → "
                              f"{entry['new']!r} looks lossy (a \"?\" the file's encoding put in): {how}")
        if result.new_tags:
            self.stdout.write(("Tags created: " if result.committed else "Tags to create: ") + ", ".join(result.new_tags))
        ignored = [e["tag"] for e in result.missing_tags if e["choice"] == "ignore"]
        if ignored:
            self.stdout.write("Tags ignored: " + ", ".join(ignored))
        unchosen = [f"{e['tag']} ({e['rows']} rows)" for e in result.missing_tags if not e["choice"]]
        if unchosen:
            self.stdout.write("Tags that do not exist (choose --create-tag TAG or --ignore-tag TAG for each): "
                              + ", ".join(unchosen))
        counts = (f"{result.rows} rows, {result.bad_rows} bad, {result.created} new members, {result.updated} updated, "
                  f"{result.blank_rows} empty rows skipped, {result.lossy_count} lossy changes flagged")
        if result.error:
            raise CommandError(f"{result.error} ({counts})")
        if dry_run and result.bad_rows and not skip_bad:
            raise CommandError(f"Dry run (nothing written): {counts}. Fix the bad rows, or use --skip-bad.")
        if dry_run:
            self.stdout.write(self.style.SUCCESS(f"Dry run (nothing written): {counts}."))
        else:
            self.stdout.write(self.style.SUCCESS(f"Imported (import {imp.pk}): {counts}, {result.tags_given} tags given."))

    def handle_export(self, *, workspace, user, segment, format, output, with_contacts, verbosity, **o):
        chosen = None
        if segment is not None:
            chosen = Segment.objects.filter(workspace=workspace, pk=segment).first()
            if chosen is None:
                raise CommandError(f"No segment {segment} in {workspace.slug}.")
        if format == "xlsx" and not output:
            output = "members.xlsx"
        if output:
            with open(output, "wb") as out, progress_bar("export", None, enabled=verbosity > 0 and output != "-") as advance:
                count = members_export(workspace=workspace, out=out, fmt=format, segment=chosen,
                                       with_contacts=with_contacts, by=user, progress=advance)
            self.stderr.write(f"{count} members written to {output}" + (" (with contacts; audited)" if with_contacts else ""))
        else:
            members_export(workspace=workspace, out=sys.stdout.buffer, fmt=format, segment=chosen,
                           with_contacts=with_contacts, by=user)
            sys.stdout.flush()
