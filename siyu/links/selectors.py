"""Reads of the links app."""
from datetime import date
from typing import TYPE_CHECKING, TypedDict

from django.db.models import QuerySet, Sum

from siyu.core.models import Workspace

from .models import Link, LinkDay

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class LinkTotals(TypedDict):
    """What links_list adds to each link."""

    total_clicks: int
    total_scans: int
    total_humans: int


def link_short_url(*, link: Link, base_url: str) -> str:
    """The URL to print or share: https://<domain>/<slug> on a link domain, else <base_url>/s/<slug>.

    `base_url` is the console's own origin (e.g. request.build_absolute_uri("/") or SIYU_PUBLIC_URL).
    """
    if link.domain_id and link.domain is not None:
        return f"https://{link.domain.host}/{link.slug}"
    return f"{base_url.rstrip('/')}/s/{link.slug}"


def links_list(*, workspace: Workspace, include_codes: bool = False) -> "QuerySet[WithAnnotations[Link, LinkTotals]]":
    """The workspace's links, newest first, with their total visits from the daily counters."""
    links = Link.objects.filter(workspace=workspace).select_related("domain", "group").order_by("-created_at", "-id")
    if not include_codes:
        links = links.filter(channel_code__isnull=True)
    return links.annotate(
        total_clicks=Sum("days__clicks", default=0), total_scans=Sum("days__scans", default=0),
        total_humans=Sum("days__humans", default=0),
    )


def link_totals(*, link: Link, since: date | None = None) -> dict[str, int]:
    """Sums of a link's daily counters (from `since`, a local date, if given)."""
    days = LinkDay.objects.filter(link=link)
    if since is not None:
        days = days.filter(day__gte=since)
    fields = ("clicks", "scans", "bots", "humans", "wechat", "members_reached")
    return days.aggregate(**{name: Sum(name, default=0) for name in fields})
