"""Reads of the links app."""
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Prefetch, Q, QuerySet, Sum
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from siyu.core.events import EventType
from siyu.core.models import Event, Workspace
from siyu.core.selectors import keyset_page

from .models import BreakdownKind, ChannelCode, CodeTarget, Link, LinkBreakdown, LinkDay, LinkDomain, LinkReach
from .status import link_status_filter


def link_short_url(*, link: Link, base_url: str) -> str:
    """The URL to print or share: https://<domain>/<slug> on a link domain, else <base_url>/s/<slug>.

    `base_url` is the console's own origin (e.g. request.build_absolute_uri("/") or SIYU_PUBLIC_URL).
    """
    if link.domain_id and link.domain is not None:
        return f"https://{link.domain.host}/{link.slug}"
    return f"{base_url.rstrip('/')}/s/{link.slug}"


@dataclass(frozen=True)
class LinkCounts:
    """A link's total visits from its daily counters."""

    clicks: int = 0
    scans: int = 0
    humans: int = 0


def link_counts(*, links: Iterable[Link]) -> dict[int, LinkCounts]:
    """{link id: LinkCounts} for `links` (one query; a link without visits is absent: use LinkCounts())."""
    rows = LinkDay.objects.filter(link_id__in=[link.pk for link in links]).values("link_id").annotate(
        clicks=Sum("clicks", default=0), scans=Sum("scans", default=0), humans=Sum("humans", default=0),
    )
    return {row["link_id"]: LinkCounts(row["clicks"], row["scans"], row["humans"]) for row in rows}


def links_list(*, workspace: Workspace, include_codes: bool = False) -> list[tuple[Link, LinkCounts]]:
    """The workspace's links, newest first, each with its total visits (two queries)."""
    links = Link.objects.filter(workspace=workspace).select_related("domain", "group").order_by("-created_at", "-id")
    if not include_codes:
        links = links.filter(channel_code__isnull=True)
    rows = list(links)
    counts = link_counts(links=rows)
    return [(link, counts.get(link.pk, LinkCounts())) for link in rows]


def link_get(*, workspace: Workspace, link_id: int) -> Link:
    """A link of the workspace (with its domain and group); Link.DoesNotExist for another workspace's id."""
    return Link.objects.select_related("domain", "group").get(workspace=workspace, pk=link_id)


def channel_code_of(*, link: Link) -> ChannelCode | None:
    """The channel code whose link `link` is, or None for a plain short link."""
    return ChannelCode.objects.filter(link=link).first()


def _codes(workspace: Workspace) -> "QuerySet[ChannelCode]":
    return ChannelCode.objects.filter(workspace=workspace).select_related("link__domain", "workspace").prefetch_related(
        Prefetch("targets", queryset=CodeTarget.objects.select_related("group"))
    )


def channel_code_get(*, workspace: Workspace, code_id: int) -> ChannelCode:
    """A channel code of the workspace with its link and targets; ChannelCode.DoesNotExist otherwise."""
    return _codes(workspace).get(pk=code_id)


def channel_codes_page(*, workspace: Workspace, before: int | None, limit: int) -> tuple[list[ChannelCode], Any]:
    """One page of the workspace's channel codes, newest first (keyset on the id)."""
    codes = _codes(workspace)
    if before is not None:
        codes = codes.filter(pk__lt=before)
    return keyset_page(codes, field="pk", limit=limit)


def link_domains(*, workspace: Workspace) -> list[tuple[int, str]]:
    """The workspace's link domains as (id, host), by host."""
    return list(LinkDomain.objects.filter(workspace=workspace).order_by("host").values_list("pk", "host"))


def link_domain_get(*, workspace: Workspace, domain_id: int | None) -> LinkDomain | None:
    """A link domain of the workspace, or None (also for no id or another workspace's)."""
    return LinkDomain.objects.filter(workspace=workspace, pk=domain_id).first() if domain_id else None


def link_tags(*, workspace: Workspace) -> list[str]:
    """Every tag used on the workspace's short links, sorted."""
    tags: set[str] = set()
    for row in Link.objects.filter(workspace=workspace, channel_code__isnull=True).values_list("tags", flat=True):
        tags.update(t for t in row or () if isinstance(t, str))
    return sorted(tags)


def _with_tag(links: "QuerySet[Link]", tag: str) -> "QuerySet[Link]":
    if connection.features.supports_json_field_contains:
        return links.filter(tags__contains=[tag])
    # SQLite has no JSON containment: pick the ids here (a workspace has thousands of links, not millions).
    return links.filter(pk__in=[pk for pk, tags in links.values_list("pk", "tags") if tag in (tags or ())])


def links_page(
    *, workspace: Workspace, now: datetime, query: str = "", tag: str = "", status: str = "", before: int | None = None,
    limit: int = 50,
) -> tuple[list[tuple[Link, LinkCounts]], Any]:
    """One page of the workspace's short links (not channel codes), newest first, searched by slug, target,
    campaign or channel, filtered by tag and by status (links.status), each with its total visits."""
    links = Link.objects.filter(workspace=workspace, channel_code__isnull=True).select_related("domain", "group")
    if query:
        links = links.filter(
            Q(slug__icontains=query) | Q(target_url__icontains=query) | Q(campaign__icontains=query)
            | Q(channel__icontains=query)
        )
    if tag:
        links = _with_tag(links, tag)
    if status:
        links = links.filter(link_status_filter(status=status, now=now))
    if before is not None:
        links = links.filter(pk__lt=before)
    page, next_before = keyset_page(links, field="pk", limit=limit)
    counts = link_counts(links=page)
    return [(link, counts.get(link.pk, LinkCounts())) for link in page], next_before


def link_days(*, link: Link, first: date, last: date) -> dict[date, LinkDay]:
    """The link's daily counters from `first` to `last` (local days), by day; days without visits are absent."""
    return {row.day: row for row in LinkDay.objects.filter(link=link, day__gte=first, day__lte=last)}


# ua-parser's generic families (and the spool's "Other" and "WeChat") in the reader's language; brand and
# model names (iPhone, Mac, Samsung SM-G991B, iOS, Chrome) stay as they are.
FAMILY_LABELS = {
    "Other": pgettext_lazy("a device, system or browser ua-parser does not know", "Other"),
    "WeChat": _("WeChat"),
    "Generic Smartphone": _("Smartphone"),
    "Generic Feature Phone": _("Feature phone"),
    "Generic Tablet": _("Tablet"),
    "Spider": _("Crawler"),
    "K": _("Android phone (model withheld)"),  # Chrome's reduced user agent: "Linux; Android 10; K"
}


def link_breakdowns(*, link: Link, since: date, limit: int = 8) -> dict[str, list[tuple[str, int]]]:
    """{breakdown kind: [(value, human visits)]}, the `limit` largest of each kind since `since`; device, OS and
    browser families are named in the active language where ua-parser's name is generic (FAMILY_LABELS)."""
    rows = (
        LinkBreakdown.objects.filter(link=link, day__gte=since).values("kind", "value").annotate(n=Sum("visits"))
        .order_by("kind", "-n", "value")
    )
    tables: dict[str, list[tuple[str, int]]] = {kind: [] for kind in BreakdownKind.values}
    for row in rows:
        if len(tables[row["kind"]]) < limit:
            value = row["value"] if row["kind"] == BreakdownKind.REFERER else str(FAMILY_LABELS.get(row["value"], row["value"]))
            tables[row["kind"]].append((value or "—", row["n"]))
    return tables


def link_reached(*, link: Link, limit: int = 20) -> list[LinkReach]:
    """The members who visited the link most recently first (their first visit), with the member."""
    return list(LinkReach.objects.filter(link=link).select_related("member").order_by("-first_at")[:limit])


def _link_groups(link: Link) -> set[int]:
    """The groups a visit of `link` can lead into: its own, and its channel code's targets'."""
    groups = {link.group_id} if link.group_id else set()
    code = channel_code_of(link=link)
    if code is not None:
        groups.update(gid for gid in code.targets.filter(group__isnull=False).values_list("group_id", flat=True) if gid)
    return groups


def link_followed(*, link: Link, since: datetime, within_days: int) -> dict[str, int]:
    """What members who visited the link since `since` did within `within_days` of their first visit:
    how many joined one of its groups, how many ordered, and how much (cents). Three queries."""
    reach = dict(LinkReach.objects.filter(link=link, first_at__gte=since).values_list("member_id", "first_at"))
    result = {"reached": len(reach), "joined": 0, "ordered": 0, "order_cents": 0}
    if not reach:
        return result
    window = timedelta(days=within_days)
    groups = _link_groups(link)
    events = Event.objects.filter(
        workspace_id=link.workspace_id, type__in=[EventType.GROUP_JOINED, EventType.ORDER_PAID],
        member_id__in=LinkReach.objects.filter(link=link, first_at__gte=since).values("member_id"),
        occurred_at__gte=min(reach.values()), occurred_at__lt=max(reach.values()) + window,
    ).values_list("type", "member_id", "group_id", "occurred_at", "data")
    joined, ordered = set(), set()
    for type_, member_id, group_id, at, data in events:
        first = reach[member_id]
        if not first <= at < first + window:
            continue
        if type_ == EventType.GROUP_JOINED and group_id in groups:
            joined.add(member_id)
        elif type_ == EventType.ORDER_PAID:
            ordered.add(member_id)
            result["order_cents"] += int((data or {}).get("amount_cents") or 0)
    result["joined"], result["ordered"] = len(joined), len(ordered)
    return result
