"""The click flusher: spooled visits become link.clicked events.

    result = links_spool_flush()   # FlushResult(files, clicks, stored, removed)

links.redirect appends one JSON line per visit to a per-process spool file. The flusher reads each
file from its stored byte offset, takes only complete lines, and in one transaction per chunk
ingests them (source "links", source_id the click's uuid) and stores the new offset. A crash before
the commit rolls back both, so the next run reads the same lines again; a line is never skipped and,
through the ledger's unique source id, never stored twice. Counters (LinkDay, TargetDay, …) are
projections updated by that ingest. A file is removed once it is read to its end and its writer is
gone (the writer holds a shared flock while it lives).

Concurrent flushers (the Huey task and `siyu links flush`) take the file's offset row FOR UPDATE
(PostgreSQL; SQLite has one writer at a time), so each line is read by one of them.
"""
import fcntl
import ipaddress
import logging
import os
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
from crawlerdetect import CrawlerDetect
from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from ua_parser import parse as ua_parse

from siyu.core.ingest import events_ingest
from siyu.core.models import Workspace

from .models import CodeTarget, SpoolOffset
from .redirect import spool_dir
from .refs import member_ref_read

log = logging.getLogger(__name__)

SOURCE = "links"
CHUNK_BYTES = 1 << 20  # about 2,000 clicks per transaction
FIELD_MAX = 100


@dataclass(frozen=True)
class FlushResult:
    files: int  # spool files looked at
    clicks: int  # complete lines read
    stored: int  # new events in the ledger
    removed: int  # finished files deleted


@dataclass(frozen=True, slots=True)
class Agent:
    browser: str
    os: str
    device: str
    bot: bool
    wechat: bool


_crawlers = CrawlerDetect()


@lru_cache(maxsize=4096)
def user_agent_parse(user_agent: str) -> Agent:
    """Browser, OS and device families (ua-parser), the bot flag (crawlerdetect) and WeChat's in-app browser.

    An empty user agent counts as a bot: every browser sends one.
    """
    parsed = ua_parse(user_agent) if user_agent else None
    wechat = "MicroMessenger" in user_agent
    browser = "WeChat" if wechat else (parsed.user_agent.family if parsed and parsed.user_agent else "Other")
    return Agent(
        browser=browser[:FIELD_MAX],
        os=(parsed.os.family if parsed and parsed.os else "Other")[:FIELD_MAX],
        device=(parsed.device.family if parsed and parsed.device else "Other")[:FIELD_MAX],
        bot=not user_agent or bool(_crawlers.isCrawler(user_agent)),
        wechat=wechat,
    )


def ip_anonymise(address: str | None) -> str:
    """The network of an address: IPv4 to its /24 (203.0.113.0), IPv6 to its /48; "" if not an address."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return ""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False).network_address)


def referer_host(referer: str | None) -> str:
    """Only the host of the referring page: paths and queries can carry personal data."""
    try:
        return (urlsplit(referer).hostname or "")[:253] if referer else ""
    except ValueError:
        return ""


def click_event(click: dict[str, Any], *, now: datetime) -> dict[str, Any]:
    """The raw link.clicked event of one spooled click (see links.projections for the data)."""
    agent = user_agent_parse(click.get("ua") or "")
    occurred_at = parse_datetime(click["t"])
    if occurred_at is None:
        raise ValueError(f"not a timestamp: {click['t']!r}")
    member = member_ref_read(click["m"], click["ws"]) if click.get("m") else None
    return {
        "type": "link.clicked",
        "source_id": click["id"],
        # A clock that stepped back since the click must not make it "in the future" for ingest.
        "occurred_at": min(occurred_at, now),
        "data": {
            "link": click["link"], "code": click.get("code"), "target": click.get("target"), "group": click.get("group"),
            "member": member, "qr": bool(click.get("qr")), "bot": agent.bot, "wechat": agent.wechat,
            "browser": agent.browser, "os": agent.os, "device": agent.device, "ua": click.get("ua") or "",
            "referer": referer_host(click.get("ref")), "ip": ip_anonymise(click.get("ip")),
        },
    }


def links_spool_flush(*, chunk_bytes: int = CHUNK_BYTES) -> FlushResult:
    """Ingest every complete spooled click not yet ingested and remove finished files. See the module docstring."""
    directory = spool_dir()
    files = clicks = stored = removed = 0
    names = sorted(p.name for p in directory.glob("*.jsonl")) if directory.is_dir() else []
    for name in names:
        files += 1
        path = directory / name
        while True:
            read, new, more = _flush_chunk(path, chunk_bytes)
            clicks += read
            stored += new
            if not more:
                break
        removed += _remove_if_finished(path)
    # Offsets of files gone (removed by an earlier run that stopped before deleting the row).
    gone = [name for name in SpoolOffset.objects.exclude(file_name__in=names).values_list("file_name", flat=True)
            if not (directory / name).exists()]
    SpoolOffset.objects.filter(file_name__in=gone).delete()
    return FlushResult(files=files, clicks=clicks, stored=stored, removed=removed)


def _flush_chunk(path: Path, chunk_bytes: int) -> tuple[int, int, bool]:
    """Ingest the next chunk of complete lines of one file; (lines read, events stored, more to read)."""
    SpoolOffset.objects.get_or_create(file_name=path.name)
    with transaction.atomic():
        rows = SpoolOffset.objects.filter(file_name=path.name)
        if connection.vendor == "postgresql":
            rows = rows.select_for_update()
        mark = rows.get()
        with open(path, "rb") as spool:
            spool.seek(mark.offset)
            data = spool.read(chunk_bytes)
        end = data.rfind(b"\n")
        if end < 0:
            if len(data) >= chunk_bytes:  # one line longer than a chunk: never written by redirect; skip it
                log.warning("links: skipping an oversized line in %s at %s", path.name, mark.offset)
                mark.offset += len(data)
                mark.save(update_fields=["offset", "updated_at"])
                return 0, 0, True
            return 0, 0, False
        lines = data[: end + 1].splitlines()
        stored = _ingest(path.name, lines)
        mark.offset += end + 1
        mark.save(update_fields=["offset", "updated_at"])
    return len(lines), stored, len(data) == chunk_bytes


def _ingest(name: str, lines: list[bytes]) -> int:
    now = timezone.now()
    by_workspace: defaultdict[int, list[dict[str, Any]]] = defaultdict(list)
    sends: defaultdict[int, int] = defaultdict(int)
    for number, line in enumerate(lines):
        try:
            click = orjson.loads(line)
            event = click_event(click, now=now)
        except (ValueError, TypeError, KeyError) as exc:
            log.warning("links: unreadable click in %s (line %s of the chunk): %s", name, number, exc)
            continue
        by_workspace[click["ws"]].append(event)
        if click.get("target"):
            sends[click["target"]] += 1
    stored = 0
    workspaces = Workspace.objects.in_bulk(list(by_workspace))
    for workspace_id, events in by_workspace.items():
        workspace = workspaces.get(workspace_id)
        if workspace is None:
            log.warning("links: %s clicks of deleted workspace %s dropped", len(events), workspace_id)
            continue
        stored += events_ingest(workspace=workspace, source=SOURCE, events=events).stored
    for target_id, count in sends.items():
        # These sends are in TargetDay now (the projection); rotation no longer adds them on top.
        CodeTarget.objects.filter(pk=target_id).update(pending_sends=Greatest(F("pending_sends") - count, 0))
    return stored


def _remove_if_finished(path: Path) -> int:
    """Delete a file read to its end whose writer is gone; 1 if deleted."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return 0
    mark = SpoolOffset.objects.filter(file_name=path.name).values_list("offset", flat=True).first()
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return 0  # its process still writes to it
        size = os.fstat(fd).st_size
        if mark is None or mark < size:
            # A dead writer's unfinished last line (killed mid-write) is not a click; anything else is still to read.
            with open(path, "rb") as spool:
                spool.seek(mark or 0)
                if b"\n" in spool.read():
                    return 0
        path.unlink()
    finally:
        os.close(fd)
    SpoolOffset.objects.filter(file_name=path.name).delete()
    return 1
