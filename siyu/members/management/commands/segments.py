"""siyu segments: saved segments with live member lists."""
import json
import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from siyu.core.commands import validation_text, workspace_or_fail
from siyu.members.segments import live_recount_due, segment_build, segment_create
from siyu.members.models import Segment
from siyu.members.selectors import segments_live
from siyu.members.filters import FilterError, filter_describe, filter_preview


class Command(BaseCommand):
    help = (
        "Segments: `list`, `preview` (count and first members of a JSON filter), `create`, `recount` "
        "(full rebuild of one or all segments, with timing), `due` (recount those depending on time or tiers). "
        "The filter language is in docs/members.md."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="segments with size, last full build and build time")
        listing.add_argument("--workspace", required=True)
        preview = sub.add_parser("preview", help="count and first 50 members of a filter, without saving")
        preview.add_argument("--workspace", required=True)
        preview.add_argument("filter", help='JSON, e.g. {"all": [{"tag": 3}, {"count": "messages", "days": 7, "op": "gte", "value": 3}]}')
        create = sub.add_parser("create", help="save a segment and build its list")
        create.add_argument("--workspace", required=True)
        create.add_argument("--name", required=True)
        create.add_argument("filter")
        recount = sub.add_parser("recount", help="full rebuild (members entering or leaving get events)")
        recount.add_argument("--workspace", required=True)
        recount.add_argument("ids", nargs="*", type=int, help="segment ids (default: all)")
        due = sub.add_parser("due", help="recount the segments and tag rules that depend on time or tiers")
        due.add_argument("--workspace", required=True)

    def handle(self, *args, action, **o):
        ws = workspace_or_fail(o["workspace"])
        try:
            getattr(self, f"handle_{action}")(ws, **o)
        except ValidationError as exc:
            raise CommandError(validation_text(exc))

    @staticmethod
    def _filter(text):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandError(f"The filter is not JSON: {exc}")

    def handle_list(self, ws, **o):
        for s in segments_live(workspace=ws):
            built = s.built_at.strftime("%Y-%m-%d %H:%M") if s.built_at else "never"
            error = f"  ERROR: {s.error}" if s.error else ""
            self.stdout.write(f"{s.pk:>5}  {s.name:<30} {s.size:>9} members  built {built} in {s.build_ms or 0} ms{error}")

    def handle_preview(self, ws, filter, **o):
        condition = self._filter(filter)
        try:
            count, first = filter_preview(workspace=ws, filter=condition)
        except FilterError as exc:
            raise CommandError(str(exc))
        self.stdout.write(f"{filter_describe(workspace=ws, filter=condition)}: {count} members")
        for member in first:
            self.stdout.write(f"  #{member.number} {member.display_name}")

    def handle_create(self, ws, name, filter, **o):
        segment = segment_create(workspace=ws, name=name, filter=self._filter(filter))
        self.stdout.write(f"Segment {segment.pk} {segment.name}: {segment.size} members (built in {segment.build_ms} ms).")

    def handle_recount(self, ws, ids, **o):
        segments = Segment.objects.filter(workspace=ws, archived_at__isnull=True).select_related("workspace")
        if ids:
            segments = segments.filter(pk__in=ids)
        for segment in segments:
            started = time.perf_counter()
            entered, left = segment_build(segment=segment)
            took = time.perf_counter() - started
            if segment.error:
                self.stdout.write(f"{segment.name}: not rebuilt: {segment.error}")
            else:
                self.stdout.write(f"{segment.name}: {segment.size} members, +{entered} −{left}, {took:.2f} s")

    def handle_due(self, ws, **o):
        self.stdout.write(f"Recounted {live_recount_due(workspace=ws)} segments and tag rules.")
