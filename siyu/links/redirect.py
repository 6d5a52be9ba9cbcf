"""The redirect path: resolve a slug, spool the click, answer. Used by the /s/<slug> view and the fast path.

    result = visit(host=..., slug=..., query={...}, user_agent=..., referer=..., remote_addr=...)
    # Visit(status=302, location="https://…", page=None) or Visit(status=410, location=None, page="<!doctype html>…")

Hot path (a plain link, warm cache): no ORM, no template, no session; one dict lookup, one os.write.
- Links are cached per process for CACHE_TTL seconds (unknown slugs too), so edits show within 2 s;
  a cold entry costs one query.
- Statuses: 302 live (or to a configured fallback URL), 404 unknown or not yet valid, 410 disabled,
  expired or exhausted (maximum visits reached), 503 a channel code with every target full and no
  backup, 429 a client guessing slugs; checked in the order of links.status (the console says the same).
- Maximum visits: only links with max_visits touch the database, with one conditional increment
  (visits < max_visits), which is exact across processes; other links never write on a visit.
- Channel codes are not the hot path: each visit reads the targets' loads and records the send (rotation).
- Each redirected visit is appended as one JSON line to this process's spool file
  ($SIYU_VAR_DIR/spool/clicks/<pid>-<start ns>.jsonl, O_APPEND) before the answer is returned; the
  file holds a shared flock while the process lives, so the flusher (links.spool) knows when a file
  is finished. The line survives a crash of the process (the kernel has it); not a power loss.
- Slug guessing: per client IP and per process, more than GUESS_LIMIT unknown slugs within
  GUESS_WINDOW seconds answer 429 to further slugs not in the cache, without a query; links already
  cached keep working for that client, and other clients are not affected.
"""
import fcntl
import html
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from pathlib import Path
from typing import Any, TypedDict

import orjson
from django.conf import settings
from django.db.models import F
from django.http.request import split_domain_port
from django.utils import translation
from django.utils.translation import gettext as _

from .models import ChannelCode, Link, LinkDomain
from .services import utm_url
from .status import link_refusal

CACHE_TTL = 2.0
GUESS_LIMIT = 20
GUESS_WINDOW = 60.0
GUESS_CLIENTS_MAX = 10_000  # clients tracked per process; the oldest are forgotten beyond this
UA_MAX = 512
REFERER_MAX = 1000
MEMBER_REF_MAX = 200
REFUSALS = {"disabled": (410, "disabled"), "scheduled": (404, "not_yet"), "expired": (410, "expired")}  # status, page


@dataclass(frozen=True, slots=True)
class Visit:
    status: int
    location: str | None
    page: str | None


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a visit needs to know about a link, cached per process."""

    link_id: int
    workspace_id: int
    code_id: int | None
    group_id: int | None
    location: str  # the target with UTM parameters ("" for a channel code)
    valid_from: float | None  # seconds since the epoch
    valid_until: float | None
    max_visits: int | None
    disabled: bool
    fallback_url: str


class _DomainCache(TypedDict):
    expires: float
    hosts: dict[str, tuple[int, str]] | None  # host -> (domain id, fallback URL)


class _Spool(TypedDict):
    fd: int | None
    pid: int | None
    dir: Any  # settings.VAR_DIR when the file was opened


_links: dict[tuple[int | None, str], tuple[float, Resolved | None]] = {}  # (domain id or None, slug) -> (expires at, Resolved or None)
_domains: _DomainCache = {"expires": 0.0, "hosts": None}
# Cache keys being reloaded in a thread right now; an event-loop caller may serve their stale entry
# meanwhile (see visit's `stale_ok`), so an expiry does not send every concurrent visit to the database.
_refreshing: set[object] = set()
_guesses: dict[str, deque[float]] = {}  # client IP -> deque of monotonic times of unknown-slug visits
_lock = threading.Lock()


def cache_clear() -> None:
    """Forget every cached link and domain (tests; an operator's change shows within CACHE_TTL anyway)."""
    _links.clear()
    _domains["expires"] = 0.0
    _domains["hosts"] = None
    _refreshing.clear()
    _guesses.clear()


def _domain(host: str | None, clock: float, stale_ok: bool = False) -> tuple[int | None, str]:
    if _domains["expires"] <= clock and not (stale_ok and "domains" in _refreshing and _domains["hosts"] is not None):
        if stale_ok:
            _refreshing.add("domains")
        try:
            _domains["hosts"] = {
                host_name: (pk, fallback)
                for pk, host_name, fallback in LinkDomain.objects.values_list("pk", "host", "fallback_url")
            }
        except BaseException:
            if not stale_ok:
                _refreshing.discard("domains")
            raise
        _refreshing.discard("domains")
        _domains["expires"] = clock + CACHE_TTL
    name = split_domain_port(host.lower())[0].rstrip(".") if host else ""
    return (_domains["hosts"] or {}).get(name, (None, ""))


def _epoch(moment: datetime | None) -> float | None:
    return None if moment is None else moment.timestamp()


def _load(domain_id: int | None, slug: str) -> Resolved | None:
    row = (
        Link.objects.filter(domain_id=domain_id, slug=slug)
        .values_list(
            "pk", "workspace_id", "channel_code__pk", "group_id", "valid_from", "valid_until", "max_visits", "disabled",
            "fallback_url", "target_url", *("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"),
        )
        .first()
    )
    if row is None:
        return None
    pk, workspace_id, code_id, group_id, valid_from, valid_until, max_visits, disabled, fallback, target, *utm = row
    link = Link(target_url=target, **dict(zip(("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"), utm)))
    return Resolved(
        link_id=pk, workspace_id=workspace_id, code_id=code_id, group_id=group_id, location=utm_url(link) if target else "",
        valid_from=_epoch(valid_from), valid_until=_epoch(valid_until), max_visits=max_visits, disabled=disabled,
        fallback_url=fallback,
    )


def _guessing(client: str, clock: float) -> bool:
    """True if `client` has hit more than GUESS_LIMIT unknown slugs in the last GUESS_WINDOW seconds."""
    hits = _guesses.get(client)
    if hits is None:
        return False
    while hits and hits[0] <= clock - GUESS_WINDOW:
        hits.popleft()
    return len(hits) >= GUESS_LIMIT


def _guess_record(client: str, clock: float) -> None:
    with _lock:
        hits = _guesses.get(client)
        if hits is None:
            if len(_guesses) >= GUESS_CLIENTS_MAX:
                for stale in list(_guesses)[: GUESS_CLIENTS_MAX // 10]:
                    del _guesses[stale]
            hits = _guesses[client] = deque(maxlen=GUESS_LIMIT + 1)
        hits.append(clock)


def visit(
    *, host: str | None, slug: str, query: Mapping[str, str], user_agent: str | None, referer: str | None,
    remote_addr: str, language: str = "zh-hans", now: datetime | None = None, stale_ok: bool = False,
) -> Visit:
    """Resolve one visit of a short link or channel code and record it; see the module docstring.

    stale_ok: the caller runs on an event loop (links.fastpath) and will run the visit again in a thread
    if it needs the database; while that reload of an expired entry is under way, other visits on the
    loop use the expired entry instead of queueing for the database too.
    """
    clock = time.monotonic()
    moment = time.time() if now is None else now.timestamp()
    domain_id, domain_fallback = _domain(host, clock, stale_ok)
    key = (domain_id, slug)
    entry = _links.get(key)
    if entry is not None and (entry[0] > clock or (stale_ok and key in _refreshing)):
        link = entry[1]
    else:
        if _guessing(remote_addr, clock):
            return Visit(429, None, _page("guessing", language))
        if stale_ok and entry is not None:
            _refreshing.add(key)  # this visit goes on in a thread (SynchronousOnlyOperation below)
        try:
            link = _load(domain_id, slug)
        except BaseException:
            if not stale_ok:
                _refreshing.discard(key)
            raise
        _refreshing.discard(key)
        _links[key] = (clock + CACHE_TTL, link)
    if link is None:
        if _guessing(remote_addr, clock):
            return Visit(429, None, _page("guessing", language))
        _guess_record(remote_addr, clock)
        return _refused(404, "unknown", domain_fallback, language)
    refusal = link_refusal(disabled=link.disabled, valid_from=link.valid_from, valid_until=link.valid_until, now=moment)
    if refusal is not None:
        status, page = REFUSALS[refusal]
        return _refused(status, page, link.fallback_url or domain_fallback, language)
    if link.max_visits is not None and not Link.objects.filter(
        pk=link.link_id, visits__lt=link.max_visits
    ).update(visits=F("visits") + 1):
        return _refused(410, "exhausted", link.fallback_url or domain_fallback, language)
    location, target_id, group_id = link.location, None, link.group_id
    if link.code_id is not None:
        location, target_id, group_id = _route(link, group_id)
        if not location:
            return _refused(503, "full", link.fallback_url or domain_fallback, language)
    _spool_append(orjson.dumps({
        "id": uuid.uuid4().hex,
        "t": datetime.fromtimestamp(moment, dt_timezone.utc).isoformat(),
        "ws": link.workspace_id,
        "link": link.link_id,
        "code": link.code_id,
        "target": target_id,
        "group": group_id,
        "qr": query.get("qr") == "1",
        "m": (query.get("m") or "")[:MEMBER_REF_MAX],
        "ua": (user_agent or "")[:UA_MAX],
        "ref": (referer or "")[:REFERER_MAX],
        "ip": remote_addr or "",
    }) + b"\n")
    return Visit(302, location, None)


def _route(link: Resolved, group_id: int | None) -> tuple[str, int | None, int | None]:
    from .rotation import code_visit_route

    code = ChannelCode.objects.select_related("workspace").filter(pk=link.code_id).first() if link.code_id is not None else None
    if code is None:
        return "", None, group_id
    choice = code_visit_route(code=code)
    if choice.target is None:
        return choice.url, None, group_id
    return choice.url, choice.target.pk, choice.target.group_id or group_id


def _refused(status: int, reason: str, fallback_url: str, language: str) -> Visit:
    if fallback_url:
        return Visit(302, fallback_url, None)
    return Visit(status, None, _page(reason, language))


# -- the spool -----------------------------------------------------------------------------------
_spool: _Spool = {"fd": None, "pid": None, "dir": None}


def spool_dir() -> Path:
    """Where click spool files live: $SIYU_VAR_DIR/spool/clicks."""
    return Path(settings.VAR_DIR) / "spool" / "clicks"


def _spool_fd() -> int:
    directory = settings.VAR_DIR
    if _spool["fd"] is not None and _spool["pid"] == os.getpid() and _spool["dir"] is directory:
        return _spool["fd"]
    with _lock:
        if _spool["fd"] is not None and _spool["pid"] == os.getpid() and _spool["dir"] is directory:
            return _spool["fd"]
        path = spool_dir()
        path.mkdir(parents=True, exist_ok=True)
        fd = os.open(path / f"{os.getpid()}-{time.time_ns()}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        # Held while this process lives: the flusher removes a file only once it can take it exclusively.
        fcntl.flock(fd, fcntl.LOCK_SH)
        if _spool["fd"] is not None and _spool["pid"] == os.getpid():
            os.close(_spool["fd"])  # the spool directory changed (tests); a forked child keeps its parent's fd
        _spool.update({"fd": fd, "pid": os.getpid(), "dir": directory})
        return fd


def _spool_append(line: bytes) -> None:
    fd = _spool_fd()
    written = os.write(fd, line)
    while written < len(line):  # a short write (disk nearly full); O_APPEND keeps the rest in place
        written += os.write(fd, line[written:])


# -- pages ---------------------------------------------------------------------------------------
_pages: dict[tuple[str, str], str] = {}


def _page_texts() -> dict[str, tuple[str, str]]:
    return {
        "unknown": (_("Link not found"), _("This short link does not exist. Check the address and try again.")),
        "not_yet": (_("Not active yet"), _("This link is not active yet. Please come back later.")),
        "expired": (_("Link expired"), _("This link has expired.")),
        "exhausted": (_("Link used up"), _("This link has reached its maximum number of visits.")),
        "disabled": (_("Link disabled"), _("This link has been switched off by its owner.")),
        "full": (_("All groups are full"), _("Every group behind this code is full right now. Please try again later.")),
        "guessing": (_("Too many requests"), _("Too many unknown links from your network. Please wait a minute.")),
    }


def _page(reason: str, language: str) -> str:
    language = "en" if (language or "").lower().startswith("en") else "zh-hans"
    page = _pages.get((reason, language))
    if page is None:
        with translation.override(language):
            title, text = _page_texts()[reason]
            brand = _("Siyu")
            page = _pages[(reason, language)] = (
                f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
                '<meta name="viewport" content="width=device-width,initial-scale=1">'
                f"<title>{html.escape(title)}</title><style>body{{font-family:system-ui,sans-serif;margin:0;display:flex;"
                "min-height:100vh;align-items:center;justify-content:center;background:#f6f7f9;color:#1f2328}"
                "main{max-width:28rem;padding:2rem;text-align:center}b{color:#0a7d5a;letter-spacing:.1em}</style></head>"
                f"<body><main><b>{html.escape(brand)}</b><h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
                "</main></body></html>"
            )
    return page
