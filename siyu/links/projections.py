"""Click resolution and link counters, registered with core in LinksConfig.ready().

link.clicked events (source "links", written by links.spool) carry in `data`:
    link, code, target, group   ids of Siyu's rows (code/target/group null when none)
    member                      member id read from the signed `m` reference, or null
    qr                          true for a scan (the URL carried qr=1)
    bot                         crawlerdetect's verdict on the user agent
    browser, os, device         ua-parser families; browser "WeChat" for WeChat's in-app browser
    wechat                      true when the user agent says MicroMessenger
    ua                          the raw user agent (at most 512 characters)
    referer                     the referring page's host only ("" when none)
    ip                          the client address anonymised (IPv4 /24, IPv6 /48)
"""
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from django.db.models import Model

from siyu.core.db import chunked, upsert
from siyu.core.events import EventType
from siyu.core.models import Workspace
from siyu.core.projections import Batch, Projection
from siyu.groups.models import Group
from siyu.members.models import Member

from .models import BreakdownKind, CodeTarget, Link, LinkBreakdown, LinkDay, LinkReach, TargetDay

BREAKDOWN_VALUE_MAX = 100


def _ids(model: type[Model], ids: Iterable[Any], **filters: Any) -> set[Any]:
    found: set[Any] = set()
    for chunk in chunked(ids, 900):
        found.update(model._default_manager.filter(pk__in=chunk, **filters).values_list("pk", flat=True))
    return found


def resolve_clicks(batch: Batch) -> None:
    """Set member_id and group_id of new link.clicked events from their data, if those rows exist in
    the workspace (a member merged away or a group deleted since the click leaves the key empty)."""
    clicks = [e for e in batch.of_type(EventType.LINK_CLICKED) if e.member_id is None and e.group_id is None]
    if not clicks:
        return
    members = _ids(Member, {e.data["member"] for e in clicks if isinstance(e.data.get("member"), int)}, workspace=batch.workspace)
    groups = _ids(Group, {e.data["group"] for e in clicks if isinstance(e.data.get("group"), int)}, workspace=batch.workspace)
    for event in clicks:
        if event.data.get("member") in members:
            event.member_id = event.data["member"]
        if event.data.get("group") in groups:
            event.group_id = event.data["group"]


class LinkCountersProjection(Projection):
    """LinkDay, LinkBreakdown, LinkReach and TargetDay from link.clicked events.

    Bots count in clicks/scans/bots and in a target's sends (they were sent there) but not in humans,
    breakdowns or members reached.
    """

    name = "link_counters"
    COUNTERS = ("clicks", "scans", "bots", "humans", "wechat", "members_reached")

    def apply(self, batch: Batch) -> None:
        clicks = batch.of_type(EventType.LINK_CLICKED)
        if not clicks:
            return
        links = _ids(Link, {e.data.get("link") for e in clicks if isinstance(e.data.get("link"), int)}, workspace=batch.workspace)
        clicks = [e for e in clicks if e.data.get("link") in links]
        if not clicks:
            return
        targets = _ids(
            CodeTarget, {e.data.get("target") for e in clicks if isinstance(e.data.get("target"), int)},
            code__workspace=batch.workspace,
        )
        days: defaultdict[tuple[int, date], dict[str, int]] = defaultdict(lambda: dict.fromkeys(self.COUNTERS, 0))
        breakdowns: defaultdict[tuple[int, date, str, str], int] = defaultdict(int)
        sends: defaultdict[tuple[int, date], int] = defaultdict(int)
        reached: dict[tuple[int, int], datetime] = {}
        for event in clicks:
            data = event.data
            link, day, bot = data["link"], batch.local_day(event.occurred_at), bool(data.get("bot"))
            counts = days[(link, day)]
            counts["scans" if data.get("qr") else "clicks"] += 1
            counts["bots" if bot else "humans"] += 1
            if data.get("wechat"):
                counts["wechat"] += 1
            if data.get("target") in targets:
                sends[(data["target"], day)] += 1
            if bot:
                continue
            for kind in BreakdownKind.values:
                value = data.get(kind)
                breakdowns[(link, day, kind, str(value or "")[:BREAKDOWN_VALUE_MAX])] += 1
            if event.member_id and (link, event.member_id) not in reached:
                reached[(link, event.member_id)] = event.occurred_at
        if reached:
            known: set[tuple[int, int]] = set()
            for chunk in chunked(list(reached), 400):
                known.update(
                    LinkReach.objects.filter(link_id__in={link for link, _m in chunk}, member_id__in={m for _l, m in chunk})
                    .values_list("link_id", "member_id")
                )
            for (link, member), first_at in reached.items():
                if (link, member) not in known:
                    days[(link, batch.local_day(first_at))]["members_reached"] += 1
            upsert(
                LinkReach,
                [{"workspace": batch.workspace.pk, "link": link, "member": member, "first_at": first_at}
                 for (link, member), first_at in reached.items()],
                key=["link", "member"], least=["first_at"],
            )
        ws = batch.workspace.pk
        upsert(
            LinkDay, [{"workspace": ws, "link": link, "day": day, **counts} for (link, day), counts in days.items()],
            key=["link", "day"], add=list(self.COUNTERS),
        )
        upsert(
            LinkBreakdown,
            [{"workspace": ws, "link": link, "day": day, "kind": kind, "value": value, "visits": n}
             for (link, day, kind, value), n in breakdowns.items()],
            key=["link", "day", "kind", "value"], add=["visits"],
        )
        upsert(
            TargetDay, [{"workspace": ws, "target": target, "day": day, "sends": n} for (target, day), n in sends.items()],
            key=["target", "day"], add=["sends"],
        )

    def reset(self, *, workspace: Workspace) -> None:
        for model in (LinkDay, LinkBreakdown, LinkReach, TargetDay):
            model.objects.filter(workspace=workspace).delete()
