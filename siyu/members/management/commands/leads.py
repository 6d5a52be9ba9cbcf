from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count, Q

from siyu.members.leads import leadlist_build
from siyu.members.models import LeadList


class Command(BaseCommand):
    help = ("Lead lists: `leads build ID` rescores a list's segment and assigns new leads; "
            "`leads list --workspace SLUG` shows the workspace's lists.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        build = sub.add_parser("build", help="rebuild one lead list (keeps assignments and worked leads)")
        build.add_argument("id", type=int, help="lead list id")
        listing = sub.add_parser("list", help="the lead lists of a workspace")
        listing.add_argument("--workspace", required=True, help="workspace slug")

    def handle(self, *args, action, **options):
        if action == "build":
            lead_list = LeadList.objects.select_related("workspace", "segment").filter(pk=options["id"]).first()
            if lead_list is None:
                raise CommandError(f"no lead list {options['id']}")
            try:
                result = leadlist_build(lead_list=lead_list)
            except ValidationError as error:
                raise CommandError("; ".join(error.messages)) from None
            self.stdout.write(f"{lead_list.name}: {result['leads']} leads ({result['added']} new, "
                              f"{result['removed']} removed, {result['assigned']} assigned)")
            return
        lists = (LeadList.objects.filter(workspace__slug=options["workspace"]).select_related("segment")
                 .annotate(total=Count("leads"), open=Count("leads", filter=Q(leads__status__in=["new", "contacted"])))
                 .order_by("pk"))
        for lead_list in lists:
            built = f"{lead_list.built_at:%Y-%m-%d %H:%M}" if lead_list.built_at else "never built"
            self.stdout.write(f"{lead_list.pk}\t{lead_list.name}\tsegment {lead_list.segment.name}\t"
                              f"{lead_list.total} leads, {lead_list.open} open\t{lead_list.assignment}\t{built}")
