import os
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from siyu.core.commands import validation_text, workspace_or_fail
from siyu.groups.models import Group
from siyu.links.models import Link
from siyu.links.selectors import link_short_url, links_list
from siyu.links.status import link_status
from siyu.links.services import UTM_FIELDS, link_create, link_disable


class Command(BaseCommand):
    help = "Create, list and disable short links (`create`, `list`, `disable`)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a short link")
        create.add_argument("--workspace", required=True, help="workspace slug")
        create.add_argument("--target", required=True, help="http(s) URL visitors are sent to")
        create.add_argument("--slug", help="custom slug (default: 7 random characters)")
        create.add_argument("--group", type=int, help="id of the group whose exposures the clicks are")
        for name in UTM_FIELDS:
            create.add_argument(f"--{name.replace('_', '-')}", dest=name, default="")
        create.add_argument("--valid-from", help="ISO 8601, e.g. 2026-05-01T00:00:00+08:00")
        create.add_argument("--valid-until", help="ISO 8601, e.g. 2026-05-31T23:59:59+08:00")
        create.add_argument("--max-visits", type=int)
        create.add_argument("--tag", action="append", default=[], dest="tags", help="repeat for several tags")
        create.add_argument("--campaign", default="")
        create.add_argument("--channel", default="", help="where the link is placed (渠道)")
        create.add_argument("--fallback", default="", help="URL for expired, exhausted or disabled visits")
        listing = sub.add_parser("list", help="list a workspace's links with their visits")
        listing.add_argument("--workspace", required=True, help="workspace slug")
        disable = sub.add_parser("disable", help="disable a link (visits get 410)")
        disable.add_argument("--workspace", required=True, help="workspace slug")
        disable.add_argument("slug")
        disable.add_argument("--enable", action="store_true", help="enable it again instead")

    def handle(self, *args, action, **o):
        ws = workspace_or_fail(o["workspace"])
        getattr(self, f"handle_{action}")(ws, **o)

    @staticmethod
    def _base_url():
        return os.environ.get("SIYU_PUBLIC_URL", "http://127.0.0.1:8000")

    @staticmethod
    def _moment(value, name):
        if not value:
            return None
        moment = parse_datetime(value)
        if moment is None:
            raise CommandError(f"--{name}: not an ISO 8601 time, e.g. 2026-05-31T23:59:59+08:00")
        return moment if timezone.is_aware(moment) else timezone.make_aware(moment, timezone.get_current_timezone())

    def handle_create(self, ws, **o):
        group = None
        if o["group"] is not None:
            group = Group.objects.filter(workspace=ws, pk=o["group"]).first()
            if group is None:
                raise CommandError(f"No group {o['group']} in {ws.slug}.")
        try:
            link = link_create(
                workspace=ws, target_url=o["target"], slug=o["slug"], group=group,
                utm={name: o[name] for name in UTM_FIELDS if o[name]},
                valid_from=self._moment(o["valid_from"], "valid-from"),
                valid_until=self._moment(o["valid_until"], "valid-until"),
                max_visits=o["max_visits"], tags=o["tags"], campaign=o["campaign"], channel=o["channel"],
                fallback_url=o["fallback"],
            )
        except ValidationError as exc:
            raise CommandError(validation_text(exc)) from None
        self.stdout.write(link_short_url(link=link, base_url=self._base_url()))

    def handle_list(self, ws, **o):
        for link, counts in links_list(workspace=ws, include_codes=True):
            self.stdout.write(
                f"{link_short_url(link=link, base_url=self._base_url())}\t{link.target_url or '(channel code)'}\t"
                f"{_validity(link)}\tclicks {counts.clicks}\tscans {counts.scans}"
            )

    def handle_disable(self, ws, *, slug, enable, **o):
        links = list(Link.objects.filter(workspace=ws, slug=slug))
        if not links:
            raise CommandError(f"No link {slug!r} in {ws.slug}.")
        for link in links:
            link_disable(link=link, disabled=not enable)
        self.stdout.write(f"{slug} {'enabled' if enable else 'disabled'}")


def _validity(link):
    status = link_status(link=link, now=timezone.now())
    if status == "live" and isinstance(link.valid_until, datetime):
        return f"live until {link.valid_until:%Y-%m-%d %H:%M}"
    return {"scheduled": "not yet valid"}.get(status, status)
