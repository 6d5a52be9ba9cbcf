"""Writes of the links app: links, domains, channel codes and their targets.

Every function validates its input and raises django.core.exceptions.ValidationError with a message
an operator can act on (keyed by field where there is one); views and commands only parse and call.
"""
import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, NoReturn
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http.request import split_domain_port, validate_host
from django.utils.translation import gettext as _

from siyu.core.models import Workspace
from siyu.groups.models import Group

from .models import ChannelCode, CodeTarget, Link, LinkDomain, Strategy

# No look-alikes: 0/O/o, 1/l/I/i are left out, so a slug read off a poster is typed right.
SLUG_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
SLUG_LENGTH = 7
SLUG_ATTEMPTS = 10
SLUG_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,63}$")
# Paths a custom domain's root or the console may serve, and words that read like Siyu's own pages.
RESERVED_SLUGS = frozenset({
    "admin", "api", "app", "console", "dashboard", "favicon", "health", "healthz", "help", "i18n", "login",
    "logout", "media", "qr", "robots", "s", "settings", "signup", "static", "status", "www",
})
HOST_PATTERN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$")
TARGET_MAX_LENGTH = 2000
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
WHITESPACE = re.compile(r"\s")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Bidirectional controls (U+202E turns "moc.live" into "evil.com" on screen) and zero-width characters:
# invisible in a URL, a slug or a name, so what an operator reads is not what a visitor gets.
INVISIBLE = re.compile(r"[\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def _invisible_message(match: re.Match[str]) -> str:
    return _("It contains an invisible or direction-changing character (U+%(code)s); remove it.") % {
        "code": f"{ord(match.group()):04X}"}


# The largest count a link or code target keeps (PositiveIntegerField: 2**31 - 1 on PostgreSQL, so on both).
COUNT_MAX = 2_147_483_647


def _refuse(field: str, message: str) -> NoReturn:
    raise ValidationError({field: [message]})


def target_url_errors(url: object, *, field: str = "target_url") -> None:
    """Raise ValidationError unless `url` is an http(s) URL that does not lead back to our short links.

    Refused: other schemes (javascript:, data:, ftp:…), control characters, whitespace anywhere, no
    host, credentials in the URL, more than 2000 characters, a host that is one of the short-link
    domains, and a /s/ path on the console's own host (a loop through a short link).
    """
    if not isinstance(url, str) or not url:
        _refuse(field, _("Enter the URL visitors should be sent to."))
    if len(url) > TARGET_MAX_LENGTH:
        _refuse(field, _("The URL is %(n)s characters long; at most %(max)s are allowed.") % {"n": len(url), "max": TARGET_MAX_LENGTH})
    if match := CONTROL.search(url):
        _refuse(field, _("The URL contains a control character (code %(code)s).") % {"code": ord(match.group())})
    if match := INVISIBLE.search(url):
        _refuse(field, _invisible_message(match))
    if WHITESPACE.search(url):
        _refuse(field, _("The URL contains whitespace; remove it or encode it as %20."))
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        _refuse(field, _("This is not a valid URL."))
    if parts.scheme.lower() not in ("http", "https"):
        _refuse(field, _("Only http:// and https:// URLs can be targets (this one starts with %(scheme)r).") % {
            "scheme": f"{parts.scheme}:" if parts.scheme else url[:12]})
    if not host:
        _refuse(field, _("The URL has no host name."))
    if parts.username is not None or parts.password is not None:
        _refuse(field, _("The URL must not contain a user name or password."))
    if LinkDomain.objects.filter(host=host.lower()).exists():
        _refuse(field, _("%(host)s is one of our own short-link domains: a link to it would loop.") % {"host": host})
    own_hosts = [h for h in settings.ALLOWED_HOSTS if h != "*"]
    if (parts.path == "/s" or parts.path.startswith("/s/")) and validate_host(host.lower(), own_hosts):
        _refuse(field, _("%(url)s is one of our own short links: a link to it would loop.") % {"url": url})


def fallback_url_errors(url: str, *, field: str) -> None:
    """Like target_url_errors for an optional URL (fallback, backup): empty is allowed."""
    if url:
        target_url_errors(url, field=field)


def slug_errors(slug: str | None) -> None:
    """Raise ValidationError unless `slug` can be a custom slug."""
    if isinstance(slug, str) and (match := INVISIBLE.search(slug)):
        _refuse("slug", _invisible_message(match))
    if isinstance(slug, str) and slug.lower() in RESERVED_SLUGS:
        _refuse("slug", _("%(slug)r is reserved; choose another slug.") % {"slug": slug})
    if not SLUG_PATTERN.match(slug or ""):
        _refuse("slug", _("A slug is 2 to 64 letters, digits, - or _, starting with a letter or digit."))


def slug_generate() -> str:
    """A random slug of 7 characters from SLUG_ALPHABET (about 1.5 × 10¹² possibilities)."""
    return "".join(secrets.choice(SLUG_ALPHABET) for _ in range(SLUG_LENGTH))


def domain_host_normalise(host: str | None) -> str:
    """A host as stored: lowercase, no port, no trailing dot; ValidationError if it is not a host name."""
    name, _port = split_domain_port((host or "").strip().lower())
    name = name.rstrip(".")
    if not HOST_PATTERN.match(name):
        _refuse("host", _("%(host)r is not a host name such as go.example.cn.") % {"host": host})
    return name


def link_domain_add(*, workspace: Workspace, host: str, is_default: bool = False, fallback_url: str = "") -> LinkDomain:
    """Register a host of the workspace for short links. Transactional; a host belongs to one workspace."""
    name = domain_host_normalise(host)
    fallback_url_errors(fallback_url, field="fallback_url")
    if LinkDomain.objects.filter(host=name).exists():
        _refuse("host", _("%(host)s is already registered.") % {"host": name})
    with transaction.atomic():
        if is_default:
            LinkDomain.objects.filter(workspace=workspace, is_default=True).update(is_default=False)
        return LinkDomain.objects.create(workspace=workspace, host=name, is_default=is_default, fallback_url=fallback_url)


def link_create(
    *, workspace: Workspace, target_url: str, slug: str | None = None, domain: LinkDomain | None = None,
    group: Group | None = None, actor: User | None = None, utm: Mapping[str, str] | None = None,
    valid_from: datetime | None = None, valid_until: datetime | None = None, max_visits: int | None = None,
    tags: Iterable[object] = (), campaign: str = "", channel: str = "", fallback_url: str = "",
) -> Link:
    """Create a short link and return it.

    `slug` None generates one (retried on a collision); a custom slug is validated and refused when
    taken. `domain` None uses the workspace's default LinkDomain if it has one, else the console's /s/.
    `utm` maps utm_source… to values appended to the target by utm_url. Refusals raise ValidationError
    with a message per field. Transactional: a failed create writes nothing.
    """
    target_url_errors(target_url)
    return _link_insert(
        workspace=workspace, target_url=target_url, slug=slug, domain=domain, group=group, actor=actor, utm=utm,
        valid_from=valid_from, valid_until=valid_until, max_visits=max_visits, tags=tags, campaign=campaign,
        channel=channel, fallback_url=fallback_url,
    )


def _link_fields(
    *, workspace: Workspace, group: Group | None, utm: Mapping[str, str] | None, valid_from: datetime | None,
    valid_until: datetime | None, max_visits: int | None, tags: Iterable[object], campaign: str, channel: str,
    fallback_url: str,
) -> dict[str, Any]:
    """The checked, normalised fields a link's owner may set (all but target, slug and domain)."""
    fallback_url_errors(fallback_url, field="fallback_url")
    utm = dict(utm or {})
    for name, value in utm.items():
        if name not in UTM_FIELDS:
            _refuse(name, _("Unknown UTM parameter %(name)r.") % {"name": name})
        if not isinstance(value, str) or len(value) > 100 or CONTROL.search(value):
            _refuse(name, _("A UTM value is at most 100 characters, without control characters."))
    if valid_from and valid_until and valid_until <= valid_from:
        _refuse("valid_until", _("The end of validity must come after its start."))
    if max_visits is not None and (not isinstance(max_visits, int) or isinstance(max_visits, bool) or max_visits < 1):
        _refuse("max_visits", _("The maximum number of visits must be a whole number of at least 1."))
    if max_visits is not None and max_visits > COUNT_MAX:
        _refuse("max_visits", _("Must be at most %(max)s.") % {"max": COUNT_MAX})
    if group is not None and group.workspace_id != workspace.pk:
        _refuse("group", _("The group belongs to another workspace."))
    return dict(
        group=group, valid_from=valid_from, valid_until=valid_until, max_visits=max_visits,
        tags=[str(t).strip()[:50] for t in tags if str(t).strip()], campaign=(campaign or "")[:100],
        channel=(channel or "")[:100], fallback_url=fallback_url or "",
        **{name: utm.get(name, "") for name in UTM_FIELDS},
    )


def _link_insert(
    *, workspace: Workspace, target_url: str, slug: str | None, domain: LinkDomain | None, actor: User | None,
    tags: Iterable[object], campaign: str, channel: str, group: Group | None = None,
    utm: Mapping[str, str] | None = None, valid_from: datetime | None = None, valid_until: datetime | None = None,
    max_visits: int | None = None, fallback_url: str = "",
) -> Link:
    checked = _link_fields(
        workspace=workspace, group=group, utm=utm, valid_from=valid_from, valid_until=valid_until,
        max_visits=max_visits, tags=tags, campaign=campaign, channel=channel, fallback_url=fallback_url,
    )
    if domain is None:
        domain = LinkDomain.objects.filter(workspace=workspace, is_default=True).first()
    elif domain.workspace_id != workspace.pk:
        _refuse("domain", _("The domain belongs to another workspace."))
    fields = dict(workspace=workspace, domain=domain, target_url=target_url, created_by=actor, **checked)
    candidates: Iterable[str]
    if slug is not None:
        slug_errors(slug)
        candidates = [slug]
    else:
        candidates = (slug_generate() for _attempt in range(SLUG_ATTEMPTS))
    for candidate in candidates:
        if Link.objects.filter(domain=domain, slug=candidate).exists():
            continue
        try:
            with transaction.atomic():
                return Link.objects.create(slug=candidate, **fields)
        except IntegrityError:
            continue  # a concurrent create took it between the check and the insert
    if slug is not None:
        _refuse("slug", _("The slug %(slug)r is taken; choose another.") % {"slug": slug})
    raise ValidationError(_("Could not find a free slug; try again."))


def link_update(
    *, link: Link, target_url: str, utm: Mapping[str, str] | None = None, valid_from: datetime | None = None,
    valid_until: datetime | None = None, max_visits: int | None = None, tags: Iterable[object] = (),
    group: Group | None = None, campaign: str = "", channel: str = "", fallback_url: str = "",
) -> Link:
    """Change where a link goes and its limits; its slug and domain stay (they may be printed).

    Same checks as link_create; UTM parameters not given are cleared. A channel code's link has no
    target of its own (pass ""). Visits see the change within the redirect cache's lifetime (2 s).
    The visits already counted stay, so lowering max_visits below them exhausts the link at once.
    """
    if target_url or not hasattr(link, "channel_code"):
        target_url_errors(target_url)
    checked = _link_fields(
        workspace=link.workspace, group=group, utm=utm, valid_from=valid_from, valid_until=valid_until,
        max_visits=max_visits, tags=tags, campaign=campaign, channel=channel, fallback_url=fallback_url,
    )
    for name, value in {"target_url": target_url, **checked}.items():
        setattr(link, name, value)
    link.save(update_fields=["target_url", *checked])
    return link


def link_disable(*, link: Link, disabled: bool = True) -> Link:
    """Disable (or enable again) a link; visits see it within the redirect cache's lifetime (2 s)."""
    Link.objects.filter(pk=link.pk).update(disabled=disabled)
    link.disabled = disabled
    return link


def utm_url(link: Link) -> str:
    """The link's target with its UTM parameters appended (existing parameters of the same name are replaced)."""
    added = {name: getattr(link, name) for name in UTM_FIELDS if getattr(link, name)}
    if not added:
        return link.target_url
    parts = urlsplit(link.target_url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in added]
    query += list(added.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def channel_code_create(
    *, workspace: Workspace, name: str, strategy: str = Strategy.NEXT_WHEN_FULL, backup_url: str = "",
    auto_create_group: bool = False, slug: str | None = None, domain: LinkDomain | None = None,
    actor: User | None = None, tags: Iterable[object] = (), campaign: str = "", channel: str = "",
) -> ChannelCode:
    """Create a channel code (活码) with its own short link, the URL its QR prints. Transactional.

    The link has no target of its own: the code decides where each visit goes (links.rotation).
    """
    if not name or not name.strip():
        _refuse("name", _("Give the code a name."))
    if match := INVISIBLE.search(name):
        _refuse("name", _invisible_message(match))
    if strategy not in Strategy.values:
        _refuse("strategy", _("Choose one of: %(choices)s.") % {"choices": ", ".join(Strategy.values)})
    fallback_url_errors(backup_url, field="backup_url")
    with transaction.atomic():
        link = _link_insert(
            workspace=workspace, target_url="", slug=slug, domain=domain, actor=actor, tags=tags,
            campaign=campaign, channel=channel,
        )
        return ChannelCode.objects.create(
            workspace=workspace, link=link, name=name.strip()[:100], strategy=strategy, backup_url=backup_url,
            auto_create_group=auto_create_group,
        )


def code_target_add(
    *, code: ChannelCode, url: str = "", group: Group | None = None, capacity: int | None = None, weight: int = 1,
    daily_cap: int | None = None, position: int | None = None, active: bool = True,
) -> CodeTarget:
    """Add a target to a channel code, after the existing ones unless `position` is given.

    `url` defaults to nothing: give the group's invite link. `capacity` defaults to the group's
    capacity (members) or 200 (visitors, for a target without a group).
    """
    target_url_errors(url, field="url")
    if group is not None and group.workspace_id != code.workspace_id:
        _refuse("group", _("The group belongs to another workspace."))
    if capacity is None:
        capacity = group.capacity if group is not None else 200
    for name, value, lowest in (("capacity", capacity, 1), ("weight", weight, 0), ("daily_cap", daily_cap, 1)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < lowest):
            _refuse(name, _("Must be a whole number of at least %(min)s.") % {"min": lowest})
        if value is not None and value > COUNT_MAX:
            _refuse(name, _("Must be at most %(max)s.") % {"max": COUNT_MAX})
    if position is None:
        last = code.targets.order_by("-position").values_list("position", flat=True).first()
        position = 0 if last is None else last + 1
    with transaction.atomic():
        target = CodeTarget.objects.create(
            code=code, url=url, group=group, capacity=capacity, weight=weight, daily_cap=daily_cap,
            position=position, active=active,
        )
        # A new target answers an earlier request for a group; the next time all are full asks again.
        ChannelCode.objects.filter(pk=code.pk).update(group_requested_at=None)
    return target
